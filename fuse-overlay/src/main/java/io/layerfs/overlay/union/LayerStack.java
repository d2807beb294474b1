package io.layerfs.overlay.union;

import java.util.List;

/**
 * The real directories of one mount as byte strings: the writable upper first, then the read-only lowers
 * top-first, plus the scratch directory (inside the work dir) where copy-ups and swaps are staged.
 */
public final class LayerStack {
    /** Layer index of the upper directory in {@link #root(int)} and {@link Node#layer}. */
    public static final int UPPER = 0;

    private final String[] roots;
    private final String scratch;

    public LayerStack(String upper, List<String> lowersTopFirst, String scratch) {
        this.roots = new String[lowersTopFirst.size() + 1];
        roots[UPPER] = upper;
        for (int i = 0; i < lowersTopFirst.size(); i++) {
            roots[i + 1] = lowersTopFirst.get(i);
        }
        this.scratch = scratch;
    }

    public int size() {
        return roots.length;
    }

    public String root(int layer) {
        return roots[layer];
    }

    public String upper() {
        return roots[UPPER];
    }

    /** The directory in the work dir where staged objects are built before an atomic rename. */
    public String scratch() {
        return scratch;
    }

    /** Joins a merged path ("/a/b", or "/") onto a layer root. */
    public static String join(String dir, String name) {
        return dir.endsWith("/") ? dir + name : dir + "/" + name;
    }
}
