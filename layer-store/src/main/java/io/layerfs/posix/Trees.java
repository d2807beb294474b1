package io.layerfs.posix;

import java.util.ArrayDeque;

/**
 * Whole-tree operations on real directories, never following symlinks. Loops over a stack of directories, not
 * recursion, so a tree thousands of directories deep (a hostile layer) does not overflow the thread's stack.
 */
public final class Trees {
    private Trees() {
    }

    /** A directory to empty; {@code emptied} once its entries are gone or queued, so it can be removed. */
    private record Pending(String path, boolean emptied) {
    }

    /** Removes a file or directory tree; a missing path is fine. */
    public static void remove(String path) {
        Stat st = Posix.lstatOrNull(path);
        if (st == null) {
            return;
        }
        if (!st.isDir()) {
            Posix.unlink(path);
            return;
        }
        ArrayDeque<Pending> dirs = new ArrayDeque<>();
        dirs.push(new Pending(path, false));
        while (!dirs.isEmpty()) {
            Pending dir = dirs.pop();
            if (dir.emptied()) {
                Posix.rmdir(dir.path()); // after every directory below it
                continue;
            }
            dirs.push(new Pending(dir.path(), true));
            for (DirEntry e : Posix.list(dir.path())) {
                String child = dir.path() + "/" + e.name();
                boolean isDir;
                if (e.dtype() != DirEntry.DT_UNKNOWN) {
                    isDir = e.dtype() == DirEntry.DT_DIR; // as readdir says: no lstat per entry
                } else {
                    Stat c = Posix.lstatOrNull(child);
                    if (c == null) {
                        continue;
                    }
                    isDir = c.isDir();
                }
                if (isDir) {
                    dirs.push(new Pending(child, false));
                } else {
                    try {
                        Posix.unlink(child);
                    } catch (Errno gone) {
                        if (gone.errno != Errno.ENOENT) {
                            throw gone;
                        }
                    }
                }
            }
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
        long total = 0;
        ArrayDeque<String> todo = new ArrayDeque<>();
        todo.push(path);
        while (!todo.isEmpty()) {
            String p = todo.pop();
            Stat st = Posix.lstatOrNull(p);
            if (st == null) {
                continue;
            }
            total += st.blocks() * 512;
            if (st.isDir()) {
                for (DirEntry e : Posix.list(p)) {
                    todo.push(p + "/" + e.name());
                }
            }
        }
        return total;
    }
}
