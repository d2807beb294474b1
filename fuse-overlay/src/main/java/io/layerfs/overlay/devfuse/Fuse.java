package io.layerfs.overlay.devfuse;

/**
 * The FUSE kernel protocol (include/uapi/linux/fuse.h, 7.x): opcodes, flags and struct sizes used here.
 * All structs are little-endian and packed as the kernel defines them.
 */
final class Fuse {
    static final int KERNEL_VERSION = 7;
    static final int KERNEL_MINOR = 38;

    // opcodes
    static final int LOOKUP = 1, FORGET = 2, GETATTR = 3, SETATTR = 4, READLINK = 5, SYMLINK = 6, MKNOD = 8,
            MKDIR = 9, UNLINK = 10, RMDIR = 11, RENAME = 12, LINK = 13, OPEN = 14, READ = 15, WRITE = 16,
            STATFS = 17, RELEASE = 18, FSYNC = 20, SETXATTR = 21, GETXATTR = 22, LISTXATTR = 23,
            REMOVEXATTR = 24, FLUSH = 25, INIT = 26, OPENDIR = 27, READDIR = 28, RELEASEDIR = 29,
            FSYNCDIR = 30, ACCESS = 34, CREATE = 35, INTERRUPT = 36, DESTROY = 38, BATCH_FORGET = 42,
            FALLOCATE = 43, READDIRPLUS = 44, RENAME2 = 45;

    // INIT flags
    static final long ASYNC_READ = 1L, ATOMIC_O_TRUNC = 1L << 3, BIG_WRITES = 1L << 5, DO_READDIRPLUS = 1L << 13,
            ASYNC_DIO = 1L << 15, PARALLEL_DIROPS = 1L << 18, MAX_PAGES = 1L << 22,
            CACHE_SYMLINKS = 1L << 23, NO_OPENDIR_SUPPORT = 1L << 24, HANDLE_KILLPRIV_V2 = 1L << 28,
            INIT_EXT = 1L << 30;

    /** INIT flags2 (the high word, with INIT_EXT): reads and writes go from the kernel to a backing file. */
    static final int FLAGS2_PASSTHROUGH = 1 << (37 - 32);

    // open reply flags
    static final int FOPEN_KEEP_CACHE = 2, FOPEN_CACHE_DIR = 8, FOPEN_PASSTHROUGH = 128;

    /** ioctls on /dev/fuse registering a backing file (struct fuse_backing_map) and dropping it. */
    static final long DEV_IOC_BACKING_OPEN = 0x4010E501L, DEV_IOC_BACKING_CLOSE = 0x4004E502L;

    // setattr valid bits
    static final int FATTR_MODE = 1, FATTR_UID = 2, FATTR_GID = 4, FATTR_SIZE = 8, FATTR_ATIME = 16,
            FATTR_MTIME = 32, FATTR_FH = 64, FATTR_ATIME_NOW = 128, FATTR_MTIME_NOW = 256, FATTR_KILL_SUIDGID = 2048;
    /** The setattr valid bits that change an attribute; a SETATTR with none of them only drops set-id bits. */
    static final int FATTR_CHANGES = FATTR_MODE | FATTR_UID | FATTR_GID | FATTR_SIZE | FATTR_ATIME | FATTR_MTIME;

    /** write_flags: the writer lacks CAP_FSETID, so set-id bits go (with HANDLE_KILLPRIV_V2). */
    static final int WRITE_KILL_SUIDGID = 4;

    static final int GETATTR_FH = 1;
    static final int FSYNC_FDATASYNC = 1;

    // sizes
    static final int IN_HEADER = 40, OUT_HEADER = 16, ATTR = 88, ENTRY_OUT = 40 + ATTR, ATTR_OUT = 16 + ATTR;

    /** Largest write the kernel sends (max_pages * 4 KiB); requests fit a buffer of this plus headers. */
    static final int MAX_WRITE = 1 << 20;
    static final int MAX_PAGES_VALUE = MAX_WRITE / 4096;
    static final int BUFFER = MAX_WRITE + 4096;

    private Fuse() {
    }
}
