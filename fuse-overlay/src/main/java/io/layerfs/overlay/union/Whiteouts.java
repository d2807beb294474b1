package io.layerfs.overlay.union;

import io.layerfs.layer.OverlayFormat;
import io.layerfs.posix.Errno;
import io.layerfs.posix.Posix;

/**
 * Makes whiteouts as overlayfs has since Linux 5.8: hard links to one whiteout kept in the work directory,
 * not a new inode each. A link only adds a directory entry, where mknod also allocates an inode (on this
 * ext4, 6 µs against 40 µs a whiteout: most of what an rm -rf of a lower tree costs beyond its requests).
 * When the shared one has all the links it can take (EMLINK), a new one takes its place; where the upper's
 * filesystem will not link a device node, each whiteout is made with mknod as before.
 */
final class Whiteouts {
    private final Scratch scratch;
    /** Never a scratch name ({@link Scratch#newName} makes hex ones); the next mount's scratch reset removes it. */
    private final String shared;
    /** False once the filesystem refused to link a whiteout. */
    private volatile boolean linking = true;

    Whiteouts(Scratch scratch) {
        this.scratch = scratch;
        this.shared = scratch.dir() + "/#whiteout";
    }

    /** A whiteout at {@code path}, which must not exist. */
    void make(String path) {
        for (int attempt = 0; linking && attempt < 3; attempt++) {
            try {
                Posix.link(shared, path);
                return;
            } catch (Errno e) {
                if (e.errno == Errno.EMLINK || e.errno == Errno.ENOENT && Posix.lstatOrNull(shared) == null) {
                    renew();
                } else if (e.errno == Errno.EPERM || e.errno == Errno.EOPNOTSUPP) {
                    linking = false;
                } else {
                    throw e;
                }
            }
        }
        OverlayFormat.makeWhiteout(path);
    }

    /** A new shared whiteout, made aside and renamed over the old one. */
    private synchronized void renew() {
        String tmp = scratch.newName();
        OverlayFormat.makeWhiteout(tmp);
        Posix.rename(tmp, shared);
    }
}
