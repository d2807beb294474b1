package io.layerfs.posix;

/** Whole-tree operations on real directories, never following symlinks. */
public final class Trees {
    private Trees() {
    }

    /** Removes a file or directory tree; a missing path is fine. */
    public static void remove(String path) {
        Stat st = Posix.lstatOrNull(path);
        if (st == null) {
            return;
        }
        if (st.isDir()) {
            for (DirEntry e : Posix.list(path)) {
                remove(path + "/" + e.name());
            }
            Posix.rmdir(path);
        } else {
            Posix.unlink(path);
        }
    }

    /** Like {@link #remove}, but swallowing errors (for cleanup after a failure). */
    public static void removeQuietly(String path) {
        try {
            remove(path);
        } catch (RuntimeException ignored) {
            // best effort
        }
    }

    /** Total bytes allocated to regular files in a tree (st_blocks), for sizes shown to users. */
    public static long diskUsage(String path) {
        Stat st = Posix.lstatOrNull(path);
        if (st == null) {
            return 0;
        }
        long total = st.blocks() * 512;
        if (st.isDir()) {
            for (DirEntry e : Posix.list(path)) {
                total += diskUsage(path + "/" + e.name());
            }
        }
        return total;
    }
}
