package io.layerfs.posix;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntToLongFunction;

/**
 * Thin, checked wrappers over {@link LibC}: every call returns its result or throws {@link Errno}.
 * Paths are "byte strings" (see {@link ByteString}). Scratch buffers are per thread, so no call allocates
 * native memory on the hot path.
 * <p>Paths of any length work: one shorter than PATH_MAX is one plain syscall, as before; a longer one (a deep
 * tree in a layer) is walked in pieces by {@link LongPath} and finished with the call's {@code *at()} variant
 * (or through {@code /proc/self/fd/N/...} for the xattr calls, truncate and statvfs), with the same symlink
 * semantics: components before the last are followed, the last is followed or not as by the plain call.
 */
public final class Posix {
    public static final int O_RDONLY = 0, O_WRONLY = 01, O_RDWR = 02, O_ACCMODE = 03, O_CREAT = 0100, O_EXCL = 0200,
            O_NOCTTY = 0400, O_TRUNC = 01000, O_APPEND = 02000, O_NONBLOCK = 04000, O_DIRECT = 040000,
            O_DIRECTORY = 0200000, O_NOFOLLOW = 0400000, O_NOATIME = 01000000, O_CLOEXEC = 02000000,
            O_PATH = 010000000, O_TMPFILE = 020000000 | O_DIRECTORY;
    public static final int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_REMOVEDIR = 0x200, AT_SYMLINK_FOLLOW = 0x400;
    public static final int RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2, RENAME_WHITEOUT = 4;
    public static final long UTIME_NOW = (1L << 30) - 1, UTIME_OMIT = (1L << 30) - 2;
    public static final int XATTR_CREATE = 1, XATTR_REPLACE = 2;
    public static final int SEEK_SET = 0, SEEK_DATA = 3, SEEK_HOLE = 4;
    public static final int MNT_FORCE = 1, MNT_DETACH = 2;
    public static final int R_OK = 4, W_OK = 2, X_OK = 1, F_OK = 0;
    public static final int ENXIO = 6;

    private static final LibC LIBC = LibraryLoader.create(LibC.class).load("c");
    private static final Runtime RUNTIME = Runtime.getRuntime(LIBC);
    private static final int XATTR_MAX = 65536;
    private static final int XATTR_FIRST_TRY = 256;

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** Per-thread native buffers reused across calls. */
    private static final class Scratch {
        final Pointer stat = Memory.allocateDirect(RUNTIME, Stat.SIZE);
        final Pointer big = Memory.allocateDirect(RUNTIME, XATTR_MAX);
        final Pointer times = Memory.allocateDirect(RUNTIME, 32);
    }

    private Posix() {
    }

    public static LibC libc() {
        return LIBC;
    }

    public static Runtime runtime() {
        return RUNTIME;
    }

    private static Errno fail(String call, String path) {
        return new Errno(RUNTIME.getLastError(), call + " " + path);
    }

    private static int check(int rc, String call, String path) {
        if (rc < 0) {
            throw fail(call, path);
        }
        return rc;
    }

    private static long check(long rc, String call, String path) {
        if (rc < 0) {
            throw fail(call, path);
        }
        return rc;
    }

    // ---- paths too long for one syscall (see LongPath); the plain calls above them stay one syscall ----

    /** A call on a directory descriptor and a path relative to it; returns the syscall's result. */
    @FunctionalInterface
    private interface AtCall {
        long call(int dirFd, String rest);
    }

    /** A call on an ordinary path (no *at() variant), given one below /proc/self/fd/N/. */
    @FunctionalInterface
    private interface ProcCall {
        long call(String path);
    }

    /** Walks a long {@code path} and makes {@code at} on what is left; throws Errno (errno read before any close). */
    private static long longAt(String call, String path, AtCall at) {
        try (LongPath p = LongPath.walk(path, false, call)) {
            return check(at.call(p.dirFd, p.rest), call, path);
        }
    }

    /** As {@link #longAt}, for calls on a /proc/self/fd/N/rest path. */
    private static long longProc(String call, String path, ProcCall proc) {
        try (LongPath p = LongPath.walk(path, true, call)) {
            return check(proc.call(p.procPath()), call, path);
        }
    }

    /** Two paths, either of them long (rename, link): each walked on its own. */
    private static void longAt2(String call, String from, String to, int flags, boolean link) {
        String what = from + " -> " + to;
        try (LongPath a = LongPath.walk(from, false, call); LongPath b = LongPath.walk(to, false, call)) {
            check(link ? LIBC.linkat(a.dirFd, a.rest, b.dirFd, b.rest, 0)
                    : LIBC.renameat2(a.dirFd, a.rest, b.dirFd, b.rest, flags), call, link ? to : what);
        }
    }

    private static boolean isLong(String path) {
        return path.length() >= LongPath.PATH_MAX;
    }

    // ---- metadata ----

    public static Stat lstat(String path) {
        Pointer buf = SCRATCH.get().stat;
        lstatInto(path, buf);
        return Stat.read(buf);
    }

    /** lstat, or null when the path does not exist (ENOENT or ENOTDIR). */
    public static Stat lstatOrNull(String path) {
        Pointer buf = SCRATCH.get().stat;
        if (isLong(path)) {
            try {
                lstatLong(path, buf);
            } catch (Errno e) {
                if (e.errno == Errno.ENOENT || e.errno == Errno.ENOTDIR) {
                    return null;
                }
                throw e;
            }
            return Stat.read(buf);
        }
        if (LIBC.lstat(path, buf) < 0) {
            int errno = RUNTIME.getLastError();
            if (errno == Errno.ENOENT || errno == Errno.ENOTDIR) {
                return null;
            }
            throw new Errno(errno, "lstat " + path);
        }
        return Stat.read(buf);
    }

    /** lstat straight into a caller's native {@code struct stat} (e.g. the one FUSE hands us). */
    public static void lstatInto(String path, Pointer statbuf) {
        if (isLong(path)) {
            lstatLong(path, statbuf);
        } else {
            check(LIBC.lstat(path, statbuf), "lstat", path);
        }
    }

    private static void lstatLong(String path, Pointer statbuf) {
        longAt("lstat", path, (fd, rest) -> LIBC.fstatat(fd, rest, statbuf, AT_SYMLINK_NOFOLLOW));
    }

    public static void fstatInto(int fd, Pointer statbuf) {
        check(LIBC.fstat(fd, statbuf), "fstat", "fd " + fd);
    }

    public static Stat fstat(int fd) {
        Pointer buf = SCRATCH.get().stat;
        check(LIBC.fstat(fd, buf), "fstat", "fd " + fd);
        return Stat.read(buf);
    }

    public static boolean exists(String path) {
        if (isLong(path)) {
            try {
                lstatLong(path, SCRATCH.get().stat);
                return true;
            } catch (Errno e) {
                return false;
            }
        }
        return LIBC.lstat(path, SCRATCH.get().stat) == 0;
    }

    public static void access(String path, int mode) {
        if (isLong(path)) {
            longAt("access", path, (fd, rest) -> LIBC.faccessat(fd, rest, mode, 0));
        } else {
            check(LIBC.access(path, mode), "access", path);
        }
    }

    public static void lchown(String path, int uid, int gid) {
        if (isLong(path)) {
            longAt("lchown", path, (fd, rest) -> LIBC.fchownat(fd, rest, uid, gid, AT_SYMLINK_NOFOLLOW));
        } else {
            check(LIBC.lchown(path, uid, gid), "lchown", path);
        }
    }

    /** chmod, following a final symlink as chmod(2) does. */
    public static void chmod(String path, int mode) {
        if (isLong(path)) {
            longAt("chmod", path, (fd, rest) -> LIBC.fchmodat(fd, rest, mode, 0));
        } else {
            check(LIBC.chmod(path, mode), "chmod", path);
        }
    }

    /** utimensat without following a final symlink; pass UTIME_OMIT / UTIME_NOW in nsec as usual. */
    public static void lutimens(String path, long atimeSec, long atimeNsec, long mtimeSec, long mtimeNsec) {
        Pointer t = times(atimeSec, atimeNsec, mtimeSec, mtimeNsec);
        if (isLong(path)) {
            longAt("utimensat", path, (fd, rest) -> LIBC.utimensat(fd, rest, t, AT_SYMLINK_NOFOLLOW));
        } else {
            check(LIBC.utimensat(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW), "utimensat", path);
        }
    }

    /** futimens(2): the times of an open file. */
    public static void futimens(int fd, long atimeSec, long atimeNsec, long mtimeSec, long mtimeNsec) {
        check(LIBC.futimens(fd, times(atimeSec, atimeNsec, mtimeSec, mtimeNsec)), "futimens", "fd " + fd);
    }

    /** The thread's struct timespec[2] for utimensat and futimens. */
    private static Pointer times(long atimeSec, long atimeNsec, long mtimeSec, long mtimeNsec) {
        Pointer t = SCRATCH.get().times;
        t.putLong(0, atimeSec);
        t.putLong(8, atimeNsec);
        t.putLong(16, mtimeSec);
        t.putLong(24, mtimeNsec);
        return t;
    }

    public static void truncate(String path, long length) {
        if (isLong(path)) {
            longProc("truncate", path, p -> LIBC.truncate(p, length));
        } else {
            check(LIBC.truncate(path, length), "truncate", path);
        }
    }

    public static void statvfsInto(String path, Pointer buf) {
        if (isLong(path)) {
            longProc("statvfs", path, p -> LIBC.statvfs(p, buf));
        } else {
            check(LIBC.statvfs(path, buf), "statvfs", path);
        }
    }

    // ---- namespace ----

    public static void mkdir(String path, int mode) {
        if (isLong(path)) {
            longAt("mkdir", path, (fd, rest) -> LIBC.mkdirat(fd, rest, mode));
        } else {
            check(LIBC.mkdir(path, mode), "mkdir", path);
        }
    }

    public static void rmdir(String path) {
        if (isLong(path)) {
            longAt("rmdir", path, (fd, rest) -> LIBC.unlinkat(fd, rest, AT_REMOVEDIR));
        } else {
            check(LIBC.rmdir(path), "rmdir", path);
        }
    }

    public static void unlink(String path) {
        if (isLong(path)) {
            longAt("unlink", path, (fd, rest) -> LIBC.unlinkat(fd, rest, 0));
        } else {
            check(LIBC.unlink(path), "unlink", path);
        }
    }

    public static void symlink(String target, String linkPath) {
        if (isLong(linkPath)) {
            longAt("symlink", linkPath, (fd, rest) -> LIBC.symlinkat(target, fd, rest));
        } else {
            check(LIBC.symlink(target, linkPath), "symlink", linkPath);
        }
    }

    public static String readlink(String path) {
        Pointer buf = SCRATCH.get().big;
        long n = isLong(path) ? longAt("readlink", path, (fd, rest) -> LIBC.readlinkat(fd, rest, buf, XATTR_MAX))
                : check(LIBC.readlink(path, buf, XATTR_MAX), "readlink", path);
        byte[] bytes = new byte[(int) n];
        buf.get(0, bytes, 0, bytes.length);
        return new String(bytes, StandardCharsets.ISO_8859_1);
    }

    /** A hard link; a symlink at {@code oldPath} is linked itself, not followed (as link(2) on Linux). */
    public static void link(String oldPath, String newPath) {
        if (isLong(oldPath) || isLong(newPath)) {
            longAt2("link", oldPath, newPath, 0, true);
        } else {
            check(LIBC.link(oldPath, newPath), "link", newPath);
        }
    }

    public static void rename(String oldPath, String newPath) {
        if (isLong(oldPath) || isLong(newPath)) {
            longAt2("rename", oldPath, newPath, 0, false);
        } else {
            check(LIBC.rename(oldPath, newPath), "rename", oldPath + " -> " + newPath);
        }
    }

    public static void renameat2(String oldPath, String newPath, int flags) {
        if (isLong(oldPath) || isLong(newPath)) {
            longAt2("renameat2", oldPath, newPath, flags, false);
        } else {
            check(LIBC.renameat2(AT_FDCWD, oldPath, AT_FDCWD, newPath, flags), "renameat2", oldPath + " -> " + newPath);
        }
    }

    public static void mknod(String path, int mode, long dev) {
        if (isLong(path)) {
            longAt("mknod", path, (fd, rest) -> LIBC.mknodat(fd, rest, mode, dev));
        } else {
            check(LIBC.mknod(path, mode, dev), "mknod", path);
        }
    }

    /** Names in a real directory, without "." and "..". */
    public static List<DirEntry> list(String dir) {
        Pointer d = isLong(dir) ? opendirLong(dir) : LIBC.opendir(dir);
        if (d == null) {
            throw fail("opendir", dir);
        }
        try {
            List<DirEntry> out = new ArrayList<>();
            Pointer e;
            while ((e = LIBC.readdir(d)) != null) {
                String name = e.getString(19);
                if (!name.equals(".") && !name.equals("..")) {
                    out.add(new DirEntry(name, e.getLong(0), e.getByte(18) & 0xff));
                }
            }
            return out;
        } finally {
            LIBC.closedir(d);
        }
    }

    /** opendir of a long path: openat the directory (following a final symlink, as opendir), then fdopendir. */
    private static Pointer opendirLong(String dir) {
        int fd = (int) longAt("opendir", dir, (at, rest) -> LIBC.openat(at, rest, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0));
        Pointer d = LIBC.fdopendir(fd);
        if (d == null) {
            Errno e = fail("opendir", dir);
            LIBC.close(fd);
            throw e;
        }
        return d;
    }

    // ---- files ----

    public static int open(String path, int flags, int mode) {
        if (isLong(path)) {
            return (int) longAt("open", path, (fd, rest) -> LIBC.openat(fd, rest, flags | O_CLOEXEC, mode));
        }
        return check(LIBC.open(path, flags | O_CLOEXEC, mode), "open", path);
    }

    /**
     * An unnamed regular file in directory {@code dir} (O_TMPFILE), open for writing, or -errno when its
     * filesystem cannot make one. It vanishes when closed, unless {@link #linkFd} names it first.
     */
    public static int openTmpfileOrErrno(String dir, int mode) {
        int fd = LIBC.open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
        return fd < 0 ? -RUNTIME.getLastError() : fd;
    }

    /** Names an O_TMPFILE file: linkat through /proc/self/fd (AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH). */
    public static void linkFd(int fd, String path) {
        String proc = "/proc/self/fd/" + fd;
        if (isLong(path)) {
            longAt("linkat", path, (dirFd, rest) -> LIBC.linkat(AT_FDCWD, proc, dirFd, rest, AT_SYMLINK_FOLLOW));
        } else {
            check(LIBC.linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW), "linkat", path);
        }
    }

    public static void close(int fd) {
        LIBC.close(fd);
    }

    public static long pread(int fd, Pointer buf, long count, long offset) {
        return check(LIBC.pread(fd, buf, count, offset), "pread", "fd " + fd);
    }

    public static long pwrite(int fd, Pointer buf, long count, long offset) {
        return check(LIBC.pwrite(fd, buf, count, offset), "pwrite", "fd " + fd);
    }

    public static void fchmod(int fd, int mode) {
        check(LIBC.fchmod(fd, mode), "fchmod", "fd " + fd);
    }

    public static void fchown(int fd, int uid, int gid) {
        check(LIBC.fchown(fd, uid, gid), "fchown", "fd " + fd);
    }

    /** dup2(2): {@code to} becomes a copy of {@code from}. */
    public static void dup2(int from, int to) {
        check(LIBC.dup2(from, to), "dup2", "fd " + from + " to " + to);
    }

    public static void ftruncate(int fd, long length) {
        check(LIBC.ftruncate(fd, length), "ftruncate", "fd " + fd);
    }

    public static void fsync(int fd, boolean dataOnly) {
        check(dataOnly ? LIBC.fdatasync(fd) : LIBC.fsync(fd), "fsync", "fd " + fd);
    }

    public static void fallocate(int fd, int mode, long offset, long len) {
        check(LIBC.fallocate(fd, mode, offset, len), "fallocate", "fd " + fd);
    }

    /** lseek; returns -1 for ENXIO (no data/hole past offset) instead of throwing. */
    public static long lseek(int fd, long offset, int whence) {
        long r = LIBC.lseek(fd, offset, whence);
        if (r < 0) {
            int errno = RUNTIME.getLastError();
            if (errno == ENXIO) {
                return -1;
            }
            throw new Errno(errno, "lseek fd " + fd);
        }
        return r;
    }

    /** copy_file_range using and advancing both fds' file positions. Returns bytes copied (0 at EOF). */
    public static long copyFileRange(int fdIn, int fdOut, long len) {
        return check(LIBC.copy_file_range(fdIn, null, fdOut, null, len, 0), "copy_file_range", "fd " + fdIn);
    }

    /** Copies {@code len} bytes at {@code offset} from one fd to the other through a native buffer. */
    public static void copyThroughBuffer(int fdIn, int fdOut, long offset, long len) {
        Pointer buf = SCRATCH.get().big;
        long done = 0;
        while (done < len) {
            long n = pread(fdIn, buf, Math.min(XATTR_MAX, len - done), offset + done);
            if (n == 0) {
                throw new Errno(Errno.EIO, "copy: source shrank");
            }
            for (long w = 0; w < n; ) {
                w += pwrite(fdOut, buf.slice(w), n - w, offset + done + w);
            }
            done += n;
        }
    }

    // ---- xattrs ----

    /** The value of an xattr, or null when it is absent (ENODATA) or unsupported. */
    public static byte[] lgetxattr(String path, String name) {
        Pointer buf = SCRATCH.get().big;
        long n = xattrCall("lgetxattr " + name, path, (p, size) -> LIBC.lgetxattr(p, name, buf, size));
        return xattrValue(buf, n, "lgetxattr " + name + " " + path);
    }

    /** Like {@link #lgetxattr}, of an open file. */
    public static byte[] fgetxattr(int fd, String name) {
        Pointer buf = SCRATCH.get().big;
        long n = smallFirst(size -> errnoOf(LIBC.fgetxattr(fd, name, buf, size)));
        return xattrValue(buf, n, "fgetxattr " + name + " fd " + fd);
    }

    private static byte[] xattrValue(Pointer buf, long n, String call) {
        if (n == -Errno.ENODATA || n == -Errno.EOPNOTSUPP) {
            return null;
        }
        if (n < 0) {
            throw new Errno((int) -n, call);
        }
        byte[] value = new byte[(int) n];
        buf.get(0, value, 0, value.length);
        return value;
    }

    /**
     * An xattr read into the scratch buffer: its length, or -errno. The kernel allocates and zeroes a buffer as
     * big as the one offered (64 KiB would cost more than the call itself), so a small size is tried first.
     */
    private static long xattrCall(String call, String path, XattrCall xattr) {
        return smallFirst(size -> xattrCall(call, path, xattr, size));
    }

    /** {@code call} with a small buffer size, then (ERANGE) the largest: its result, or -errno. */
    private static long smallFirst(IntToLongFunction call) {
        long n = call.applyAsLong(XATTR_FIRST_TRY);
        return n == -Errno.ERANGE ? call.applyAsLong(XATTR_MAX) : n;
    }

    private static long errnoOf(long result) {
        return result < 0 ? -RUNTIME.getLastError() : result;
    }

    private static long xattrCall(String call, String path, XattrCall xattr, int size) {
        if (isLong(path)) {
            try {
                return longProc(call, path, p -> xattr.call(p, size));
            } catch (Errno e) {
                return -e.errno;
            }
        }
        return errnoOf(xattr.call(path, size));
    }

    private interface XattrCall {
        long call(String path, int size);
    }

    public static void lsetxattr(String path, String name, byte[] value, int flags) {
        Pointer buf = SCRATCH.get().big;
        buf.put(0, value, 0, value.length);
        if (isLong(path)) {
            longProc("lsetxattr " + name, path, p -> LIBC.lsetxattr(p, name, buf, value.length, flags));
        } else {
            check(LIBC.lsetxattr(path, name, buf, value.length, flags), "lsetxattr " + name, path);
        }
    }

    public static void fsetxattr(int fd, String name, byte[] value, int flags) {
        Pointer buf = SCRATCH.get().big;
        buf.put(0, value, 0, value.length);
        check(LIBC.fsetxattr(fd, name, buf, value.length, flags), "fsetxattr " + name, "fd " + fd);
    }

    public static List<String> llistxattr(String path) {
        Pointer buf = SCRATCH.get().big;
        long n = xattrCall("llistxattr", path, (p, size) -> LIBC.llistxattr(p, buf, size));
        if (n < 0) {
            throw new Errno((int) -n, "llistxattr " + path);
        }
        return xattrNames(buf, n);
    }

    /** Like {@link #llistxattr}, of an open file. */
    public static List<String> flistxattr(int fd) {
        Pointer buf = SCRATCH.get().big;
        long n = smallFirst(size -> errnoOf(LIBC.flistxattr(fd, buf, size)));
        if (n < 0) {
            throw new Errno((int) -n, "flistxattr fd " + fd);
        }
        return xattrNames(buf, n);
    }

    /** The names in a list of NUL-terminated names, {@code n} bytes long. */
    private static List<String> xattrNames(Pointer buf, long n) {
        List<String> names = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < n; i++) {
            if (buf.getByte(i) == 0) {
                if (i > start) {
                    byte[] b = new byte[i - start];
                    buf.get(start, b, 0, b.length);
                    names.add(new String(b, StandardCharsets.ISO_8859_1));
                }
                start = i + 1;
            }
        }
        return names;
    }

    public static void fremovexattr(int fd, String name) {
        check(LIBC.fremovexattr(fd, name), "fremovexattr " + name, "fd " + fd);
    }

    public static void lremovexattr(String path, String name) {
        if (isLong(path)) {
            longProc("lremovexattr " + name, path, p -> LIBC.lremovexattr(p, name));
        } else {
            check(LIBC.lremovexattr(path, name), "lremovexattr " + name, path);
        }
    }

    // ---- process ----

    public static int umask(int mask) {
        return LIBC.umask(mask);
    }

    /** mount(2). */
    public static void mount(String source, String target, String fstype, long flags, String data) {
        check(LIBC.mount(source, target, fstype, flags, data), "mount", target);
    }

    /** ioctl(2) with a pointer argument; returns the result or -errno. */
    public static int ioctlOrErrno(int fd, long request, Pointer arg) {
        int r = LIBC.ioctl(fd, request, arg);
        return r < 0 ? -RUNTIME.getLastError() : r;
    }

    /** read(2); returns -errno instead of throwing, for request loops that expect ENODEV and EINTR. */
    public static long readOrErrno(int fd, Pointer buf, long count) {
        long n = LIBC.read(fd, buf, count);
        return n < 0 ? -RUNTIME.getLastError() : n;
    }

    /** poll(2) of one descriptor, with {@code pollfd} as its 8-byte struct; returns the result or -errno. */
    public static int pollOrErrno(Pointer pollfd, int fd, short events, int timeoutMs) {
        pollfd.putInt(0, fd);
        pollfd.putShort(4, events);
        pollfd.putShort(6, (short) 0);
        int r = LIBC.poll(pollfd, 1, timeoutMs);
        return r < 0 ? -RUNTIME.getLastError() : r;
    }

    /** write(2); returns -errno instead of throwing (a reply to an interrupted request fails with ENOENT). */
    public static long writeOrErrno(int fd, Pointer buf, long count) {
        long n = LIBC.write(fd, buf, count);
        return n < 0 ? -RUNTIME.getLastError() : n;
    }

    public static void umount2(String target, int flags) {
        check(LIBC.umount2(target, flags), "umount2", target);
    }

    public static int getpid() {
        return LIBC.getpid();
    }

    public static boolean isatty(int fd) {
        return LIBC.isatty(fd) == 1;
    }

    public static boolean isRoot() {
        return LIBC.geteuid() == 0;
    }

    /** Whether what this process creates is owned by 0:0 (effective uid and gid root). */
    public static boolean createsAsRoot() {
        return LIBC.geteuid() == 0 && LIBC.getegid() == 0;
    }

    public static final int LOCK_SH = 1, LOCK_EX = 2, LOCK_NB = 4, LOCK_UN = 8;

    /** flock(2): a lock on the open file description, so two opens in one process exclude each other too. */
    public static void flock(int fd, int operation) {
        check(LIBC.flock(fd, operation), "flock", "fd " + fd);
    }

    /** Flushes the whole filesystem holding {@code path} to disk. */
    public static void syncfs(String path) {
        int fd = open(path, O_RDONLY | O_DIRECTORY, 0);
        try {
            check(LIBC.syncfs(fd), "syncfs", path);
        } finally {
            close(fd);
        }
    }

    /** fsync of a directory, making renames inside it durable. */
    public static void fsyncDir(String path) {
        int fd = open(path, O_RDONLY | O_DIRECTORY, 0);
        try {
            fsync(fd, false);
        } finally {
            close(fd);
        }
    }
}
