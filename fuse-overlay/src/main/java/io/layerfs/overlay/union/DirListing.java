package io.layerfs.overlay.union;

import java.util.List;

/** A merged directory listing: the inode numbers for "." and "..", and each entry's name, inode and type. */
public record DirListing(long ino, long parentIno, List<Entry> entries) {
    /** One entry; {@code type} holds the S_IFMT bits. */
    public record Entry(String name, long ino, int type) {
    }
}
