package io.layerfs.posix;

import jnr.ffi.Pointer;

/** The fields of glibc's x86_64 {@code struct stat} that layerfs uses, copied out of native memory. */
public record Stat(long dev, long ino, long nlink, int mode, int uid, int gid, long rdev, long size, long blksize,
                   long blocks, long atimeSec, long atimeNsec, long mtimeSec, long mtimeNsec, long ctimeSec,
                   long ctimeNsec) {

    public static final int SIZE = 144;
    /** Offset of st_ino, st_nlink and st_mode in glibc's x86_64 struct stat. */
    public static final int OFF_INO = 8, OFF_NLINK = 16, OFF_MODE = 24;

    public static final int S_IFMT = 0170000, S_IFSOCK = 0140000, S_IFLNK = 0120000, S_IFREG = 0100000,
            S_IFBLK = 0060000, S_IFDIR = 0040000, S_IFCHR = 0020000, S_IFIFO = 0010000;
    public static final int S_ISUID = 04000, S_ISGID = 02000, S_ISVTX = 01000, S_IXGRP = 010;

    static Stat read(Pointer p) {
        return new Stat(p.getLong(0), p.getLong(8), p.getLong(16), p.getInt(24), p.getInt(28), p.getInt(32),
                p.getLong(40), p.getLong(48), p.getLong(56), p.getLong(64),
                p.getLong(72), p.getLong(80), p.getLong(88), p.getLong(96), p.getLong(104), p.getLong(112));
    }

    /** Writes these fields back as a struct stat, as {@link #read} found them. */
    public void writeTo(Pointer p) {
        p.putLong(0, dev);
        p.putLong(8, ino);
        p.putLong(16, nlink);
        p.putInt(24, mode);
        p.putInt(28, uid);
        p.putInt(32, gid);
        p.putLong(40, rdev);
        p.putLong(48, size);
        p.putLong(56, blksize);
        p.putLong(64, blocks);
        p.putLong(72, atimeSec);
        p.putLong(80, atimeNsec);
        p.putLong(88, mtimeSec);
        p.putLong(96, mtimeNsec);
        p.putLong(104, ctimeSec);
        p.putLong(112, ctimeNsec);
    }

    /** The major number of a dev_t (st_dev, st_rdev), as glibc's gnu_dev_major. */
    public static int major(long dev) {
        return (int) (((dev >>> 8) & 0xfff) | ((dev >>> 32) & ~0xfffL));
    }

    /** The minor number of a dev_t, as glibc's gnu_dev_minor. */
    public static int minor(long dev) {
        return (int) ((dev & 0xff) | ((dev >>> 12) & ~0xffL));
    }

    /** A dev_t from its numbers, as glibc's gnu_dev_makedev. */
    public static long makedev(int major, int minor) {
        return ((long) (major & 0xfff) << 8) | ((long) (major & ~0xfff) << 32)
                | (minor & 0xff) | ((long) (minor & ~0xff) << 12);
    }

    public int type() {
        return mode & S_IFMT;
    }

    public int permissions() {
        return mode & 07777;
    }

    public boolean isDir() {
        return type() == S_IFDIR;
    }

    public boolean isRegular() {
        return type() == S_IFREG;
    }

    public boolean isSymlink() {
        return type() == S_IFLNK;
    }

    public boolean isCharDevice() {
        return type() == S_IFCHR;
    }
}
