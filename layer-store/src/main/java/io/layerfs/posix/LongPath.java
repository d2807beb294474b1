package io.layerfs.posix;

/**
 * A path as one {@code *at()} call takes it: a directory descriptor and a rest short enough for the kernel.
 * <p>The kernel refuses a path of PATH_MAX (4096) bytes or more (the limit counts the terminating NUL), but
 * nothing limits how deep a tree is: layers may hold paths of any length. {@link #walk} opens such a path's
 * leading directories in pieces below PATH_MAX, cut at '/' boundaries, each piece with
 * {@code openat(previous piece, piece, O_PATH|O_DIRECTORY)}, so the caller finishes with one {@code *at()}
 * call on the last piece. Semantics stay those of the one long call: every component before the last is
 * resolved by an ordinary path walk (symlinks followed, ".." physical, ENOENT / ENOTDIR / EACCES / ELOOP as
 * the whole walk would report them), and the last component is left to the final call, which follows it or
 * not exactly as the short-path call does.
 * <p>Calls without an {@code *at()} variant (xattrs, truncate, statvfs) take {@link #procPath()}, the rest
 * below {@code /proc/self/fd/<dirFd>/}; {@code f*xattr} cannot be used, they fail on O_PATH descriptors.
 * <p>Short paths never come here: {@link Posix} calls the plain syscall for them, once, without allocating.
 */
final class LongPath implements AutoCloseable {
    /** Paths this long or longer do not fit one syscall. */
    static final int PATH_MAX = 4096;
    /** The longest "/proc/self/fd/&lt;fd&gt;/" prefix, kept free in front of the rest for {@link #procPath()}. */
    static final int PROC_PREFIX_MAX = "/proc/self/fd/".length() + Integer.toString(Integer.MAX_VALUE).length() + 1;
    private static final int WALK_FLAGS = Posix.O_PATH | Posix.O_DIRECTORY | Posix.O_CLOEXEC;

    /** The directory the rest is relative to: an O_PATH descriptor, or AT_FDCWD when nothing was opened. */
    final int dirFd;
    /** What is left of the path: at least its last component, shorter than PATH_MAX (with room for the prefix). */
    final String rest;

    private LongPath(int dirFd, String rest) {
        this.dirFd = dirFd;
        this.rest = rest;
    }

    static boolean isLong(String path) {
        return path.length() >= PATH_MAX;
    }

    /**
     * Opens the leading directories of {@code path} until the rest fits one call ({@code forProc}: one call
     * through {@link #procPath()}). A path that fits already comes back as is, relative to AT_FDCWD.
     * Throws {@link Errno} naming {@code call} and the whole path when a leading directory cannot be opened,
     * and ENAMETOOLONG when no '/' allows a cut (a component that long is too long anyway).
     */
    static LongPath walk(String path, boolean forProc, String call) {
        int maxRest = PATH_MAX - 1 - (forProc ? PROC_PREFIX_MAX : 0);
        if (path.length() <= maxRest) {
            return new LongPath(Posix.AT_FDCWD, path);
        }
        int last = path.length() - 1;
        while (last > 0 && path.charAt(last) == '/') {
            last--; // a trailing slash stays with the last component, which the final call must see
        }
        int fd = Posix.AT_FDCWD;
        int start = 0;
        try {
            while (path.length() - start > maxRest) {
                // the longest piece (below PATH_MAX) that ends at a '/' before the last component
                int cut = path.lastIndexOf('/', Math.min(start + PATH_MAX - 1, last - 1));
                if (cut < start) {
                    throw new Errno(Errno.ENAMETOOLONG, call + " " + path);
                }
                String piece = cut == start ? "/" : path.substring(start, cut); // cut == start only for the root
                int next = Posix.libc().openat(fd, piece, WALK_FLAGS, 0);
                if (next < 0) {
                    throw new Errno(Posix.runtime().getLastError(), call + " " + path);
                }
                closeDir(fd);
                fd = next;
                start = cut + 1;
                while (path.charAt(start) == '/') {
                    start++;
                }
            }
            return new LongPath(fd, path.substring(start));
        } catch (RuntimeException e) {
            closeDir(fd);
            throw e;
        }
    }

    /** The rest as an ordinary path, through the descriptor's /proc link (walked with {@code forProc}). */
    String procPath() {
        return dirFd == Posix.AT_FDCWD ? rest : "/proc/self/fd/" + dirFd + "/" + rest;
    }

    @Override
    public void close() {
        closeDir(dirFd);
    }

    private static void closeDir(int fd) {
        if (fd != Posix.AT_FDCWD) {
            Posix.libc().close(fd);
        }
    }
}
