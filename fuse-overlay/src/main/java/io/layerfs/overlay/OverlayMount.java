package io.layerfs.overlay;

import io.layerfs.overlay.union.UnionFs;
import io.layerfs.posix.ByteString;
import io.layerfs.posix.Errno;
import io.layerfs.posix.Posix;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;

/** A live mount. {@link #close()} unmounts it (lazily if busy) and waits for the FUSE loop to end. */
public final class OverlayMount implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(OverlayMount.class);

    private final Path mountpoint;
    private final Thread loop;
    private final UnionFs fs;

    OverlayMount(Path mountpoint, Thread loop, UnionFs fs) {
        this.mountpoint = mountpoint;
        this.loop = loop;
        this.fs = fs;
    }

    public Path mountpoint() {
        return mountpoint;
    }

    /** Number of open file handles (for tests and leak checks). */
    public int openHandles() {
        return fs.files().size();
    }

    /** Blocks until the filesystem is unmounted (by anyone). */
    public void awaitUnmount() throws InterruptedException {
        loop.join();
    }

    @Override
    public void close() {
        if (loop.isAlive()) {
            unmount(mountpoint);
        }
        try {
            loop.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (loop.isAlive()) {
            log.warn("FUSE loop for {} still running after unmount", mountpoint);
        }
    }

    /** Unmounts a FUSE mount point: plainly, or lazily if busy. */
    public static void unmount(Path mountpoint) {
        String mnt = ByteString.of(mountpoint);
        try {
            Posix.umount2(mnt, 0);
        } catch (Errno e) {
            if (e.errno == Errno.EINVAL || e.errno == Errno.ENOENT) {
                return; // not mounted
            }
            log.warn("unmount {} failed ({}); detaching lazily", mountpoint, Errno.name(e.errno));
            Posix.umount2(mnt, Posix.MNT_DETACH);
        }
    }
}
