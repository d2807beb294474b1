package io.layerfs.posix;

/** One entry of a real directory: its name, inode number and the d_type readdir reported (DT_* constants). */
public record DirEntry(String name, long ino, int dtype) {
    public static final int DT_UNKNOWN = 0, DT_FIFO = 1, DT_CHR = 2, DT_DIR = 4, DT_BLK = 6, DT_REG = 8, DT_LNK = 10,
            DT_SOCK = 12;
}
