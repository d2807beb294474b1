package io.layerfs.overlay.union;

import java.util.List;

/** A merged directory listing: the inode numbers for "." and "..", and the resolved entries. */
public record DirListing(long ino, long parentIno, List<Node> entries) {
}
