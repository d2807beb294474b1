package io.layerfs.layer;

import io.layerfs.posix.Posix;
import io.layerfs.posix.Stat;

import java.util.Arrays;

/**
 * The union lookup rule, shared by the filesystem and the change scanner: where does {@code name} exist
 * inside a merged directory made of real directories (top first)? The first entry found wins; a whiteout
 * (either form) hides everything below; a directory merges with the directories below it until an
 * opaque one or a non-directory. Uses lstat only, so no symlink inside a layer is ever followed.
 */
public final class MergedLookup {

    /**
     * The result of a lookup.
     *
     * @param top     index into the parent's dirs of the topmost entry
     * @param real    its real path
     * @param stat    its lstat
     * @param dirs    for a directory, the real directories merged into it, top first (else null)
     * @param indexes for a directory, the parent-dirs index each of {@code dirs} came from
     */
    public record Entry(int top, String real, Stat stat, String[] dirs, int[] indexes) {
    }

    private MergedLookup() {
    }

    /** Looks {@code name} up in the merged directory {@code parentDirs}; null when it does not exist. */
    public static Entry lookup(String[] parentDirs, String name) {
        return lookup(parentDirs, name, 0);
    }

    /**
     * As {@link #lookup(String[], String)}, for a merged directory whose dirs before {@code ociFrom} are the
     * upper: there, OCI {@code .wh.} whiteouts are not looked for (the mount refuses those names, and both
     * layerfs and the kernel write char-device whiteouts, so a miss costs one lstat, not two), and only the
     * kernel's opaque xattr counts ({@code user.overlay.opaque} is a user's own xattr there).
     */
    public static Entry lookup(String[] parentDirs, String name, int ociFrom) {
        if (OverlayFormat.isOciMarkerName(name)) {
            return null;
        }
        int top = -1;
        String topReal = null;
        Stat topStat = null;
        int count = 0;
        String[] dirs = null;
        int[] indexes = null;
        for (int i = 0; i < parentDirs.length; i++) {
            String dir = parentDirs[i];
            String real = dir.endsWith("/") ? dir + name : dir + "/" + name;
            Stat st = Posix.lstatOrNull(real);
            if (st == null) {
                // a whiteout in the bottom-most directory would hide nothing: not looked for
                if (i >= ociFrom && i + 1 < parentDirs.length && OverlayFormat.hasOciWhiteout(dir, name)) {
                    break;
                }
                continue;
            }
            if (OverlayFormat.isWhiteout(st)) {
                break;
            }
            if (topStat == null) {
                top = i;
                topReal = real;
                topStat = st;
                if (!st.isDir()) {
                    break;
                }
                dirs = new String[parentDirs.length - i];
                indexes = new int[dirs.length];
            } else if (!st.isDir()) {
                break; // a lower non-directory under a directory ends the merge
            }
            dirs[count] = real;
            indexes[count++] = i;
            if (i + 1 < parentDirs.length
                    && (i >= ociFrom ? OverlayFormat.isOpaque(real) : OverlayFormat.isUpperOpaque(real))) {
                break;
            }
        }
        if (topStat == null) {
            return null;
        }
        if (dirs != null && count < dirs.length) {
            dirs = Arrays.copyOf(dirs, count);
            indexes = Arrays.copyOf(indexes, count);
        }
        return new Entry(top, topReal, topStat, dirs, indexes);
    }

    /** Resolves a relative path ("a/b/c", or "" for the root) through a stack of layer roots, top first. */
    public static Entry resolve(String[] roots, String relPath) {
        String[] dirs = roots;
        Entry e = null;
        if (relPath.isEmpty()) {
            return new Entry(0, roots[0], Posix.lstat(roots[0]), roots, null);
        }
        for (String part : relPath.split("/")) {
            if (dirs == null) {
                return null; // a non-directory on the way
            }
            e = lookup(dirs, part);
            if (e == null) {
                return null;
            }
            dirs = e.dirs();
        }
        return e;
    }
}
