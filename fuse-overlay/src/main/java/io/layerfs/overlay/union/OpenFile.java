package io.layerfs.overlay.union;

import io.layerfs.posix.Posix;

import java.util.ArrayList;
import java.util.List;

/**
 * One open FUSE file handle: the backing fd and the stable inode number. A read-only handle opened on a
 * lower file is repointed at the upper copy when that file is copied up, so it sees later writes (as the
 * kernel's overlayfs does). Replaced fds stay open until release, since a read may still be using one.
 */
public final class OpenFile {
    public final long id;
    public final long ino;
    private volatile int fd;
    /** Real path of the lower file while the handle still reads from a lower layer; null once in the upper. */
    volatile String lowerReal;
    private List<Integer> retired;
    private boolean closed;

    OpenFile(long id, int fd, long ino, String lowerReal) {
        this.id = id;
        this.fd = fd;
        this.ino = ino;
        this.lowerReal = lowerReal;
    }

    public int fd() {
        return fd;
    }

    /** True once the handle's backing file is in the upper (it will not be repointed by a copy-up). */
    public boolean inUpper() {
        return lowerReal == null;
    }

    synchronized void repoint(int newFd) {
        if (closed) { // released while the copy-up was reopening it
            Posix.close(newFd);
            return;
        }
        if (retired == null) {
            retired = new ArrayList<>(1);
        }
        retired.add(fd);
        fd = newFd;
        lowerReal = null;
    }

    synchronized void close() {
        closed = true;
        Posix.close(fd);
        if (retired != null) {
            retired.forEach(Posix::close);
        }
    }
}
