package io.layerfs.overlay.union;

import io.layerfs.posix.Stat;

/**
 * What a merged path resolves to: the topmost real object, where it lives, its stable inode number and,
 * for a directory, every real directory merged into it (top first, ending at the first opaque one).
 * Immutable; a change through the mount invalidates the cached node instead of editing it.
 */
public final class Node {
    /** The resolution of a path that does not exist in the merged view. */
    static final Node ABSENT = new Node("", -1, "", 0, 0, null, null);

    public final String path;
    /** Index in the {@link LayerStack} of the topmost real object; {@link LayerStack#UPPER} when in the upper. */
    public final int layer;
    /** The real path of the topmost object. */
    public final String real;
    /** File type bits (S_IFMT) of the topmost object. */
    public final int type;
    /** Inode number shown to users: the original lower inode for copied-up objects, so it stays stable. */
    public final long ino;
    /** For directories: the real directories merged into this one, top first; dirs[0] == real. */
    final String[] dirs;
    /** For directories: the layer index of each of {@link #dirs}. */
    final int[] dirLayers;

    Node(String path, int layer, String real, int type, long ino, String[] dirs, int[] dirLayers) {
        this.path = path;
        this.layer = layer;
        this.real = real;
        this.type = type;
        this.ino = ino;
        this.dirs = dirs;
        this.dirLayers = dirLayers;
    }

    public boolean exists() {
        return layer >= 0;
    }

    public boolean isDir() {
        return type == Stat.S_IFDIR;
    }

    public boolean isSymlink() {
        return type == Stat.S_IFLNK;
    }

    public boolean inUpper() {
        return layer == LayerStack.UPPER;
    }

    /** A directory wholly in the upper: nothing below it merges, so it moves and copies as it is. */
    public boolean isUpperOnlyDir() {
        return dirs != null && dirs.length == 1 && inUpper();
    }

    /** A directory made of more than one real directory; overlayfs reports st_nlink 1 for these. */
    public boolean isMergedDir() {
        return dirs != null && dirs.length > 1;
    }
}
