package io.layerfs.posix;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;

/**
 * The libc calls Java lacks, bound once with jnr-ffi. Strings cross as the JVM's default charset;
 * layerfs runs with {@code -Dfile.encoding=ISO-8859-1} so every file-name byte round-trips.
 * Use {@link Posix}, which maps return codes to {@link Errno}; this interface is its raw binding.
 */
public interface LibC {
    int lstat(String path, @Out Pointer statbuf);
    int fstat(int fd, @Out Pointer statbuf);
    int open(String path, int flags, int mode);
    int close(int fd);
    @ssize_t long pread(int fd, @Out Pointer buf, @size_t long count, long offset);
    @ssize_t long pwrite(int fd, @In Pointer buf, @size_t long count, long offset);
    long lseek(int fd, long offset, int whence);
    @ssize_t long copy_file_range(int fdIn, Pointer offIn, int fdOut, Pointer offOut, @size_t long len, int flags);
    int ftruncate(int fd, long length);
    int truncate(String path, long length);
    int fsync(int fd);
    int fdatasync(int fd);
    int fallocate(int fd, int mode, long offset, long len);
    int mkdir(String path, int mode);
    int rmdir(String path);
    int unlink(String path);
    int symlink(String target, String linkPath);
    @ssize_t long readlink(String path, @Out Pointer buf, @size_t long size);
    int link(String oldPath, String newPath);
    int rename(String oldPath, String newPath);
    int renameat2(int oldDirFd, String oldPath, int newDirFd, String newPath, int flags);
    int mknod(String path, int mode, long dev);
    int lchown(String path, int uid, int gid);
    int chmod(String path, int mode);

    int fchmod(int fd, int mode);
    int fchown(int fd, int uid, int gid);
    int futimens(int fd, @In Pointer times);
    int fsetxattr(int fd, String name, @In Pointer value, @size_t long size, int flags);
    @ssize_t long fgetxattr(int fd, String name, @Out Pointer value, @size_t long size);
    @ssize_t long flistxattr(int fd, @Out Pointer list, @size_t long size);
    int fremovexattr(int fd, String name);
    int utimensat(int dirFd, String path, @In Pointer times, int flags);
    @ssize_t long lgetxattr(String path, String name, @Out Pointer value, @size_t long size);
    int lsetxattr(String path, String name, @In Pointer value, @size_t long size, int flags);
    @ssize_t long llistxattr(String path, @Out Pointer list, @size_t long size);
    int lremovexattr(String path, String name);
    int statvfs(String path, @Out Pointer buf);
    Pointer opendir(String path);
    Pointer readdir(Pointer dir);
    int closedir(Pointer dir);
    int umask(int mask);
    int umount2(String target, int flags);
    int access(String path, int mode);
    int getpid();
    @ssize_t long read(int fd, @Out Pointer buf, @size_t long count);
    @ssize_t long write(int fd, @In Pointer buf, @size_t long count);
    int mount(String source, String target, String fstype, long flags, String data);
    int ioctl(int fd, long request, Pointer arg);
    int geteuid();
    int getegid();
    int isatty(int fd);
    int flock(int fd, int operation);
    int syncfs(int fd);
    int poll(Pointer fds, long nfds, int timeout);

    // the *at() variants, for paths longer than PATH_MAX (see Posix: such paths are walked in pieces)
    int openat(int dirFd, String path, int flags, int mode);
    int fstatat(int dirFd, String path, @Out Pointer statbuf, int flags);
    int mkdirat(int dirFd, String path, int mode);
    int unlinkat(int dirFd, String path, int flags);
    int symlinkat(String target, int newDirFd, String linkPath);
    @ssize_t long readlinkat(int dirFd, String path, @Out Pointer buf, @size_t long size);
    int linkat(int oldDirFd, String oldPath, int newDirFd, String newPath, int flags);
    int mknodat(int dirFd, String path, int mode, long dev);
    int fchownat(int dirFd, String path, int uid, int gid, int flags);
    int fchmodat(int dirFd, String path, int mode, int flags);
    int faccessat(int dirFd, String path, int mode, int flags);
    Pointer fdopendir(int fd);

    int dup2(int oldFd, int newFd);
}
