package io.layerfs.overlay.union;

import io.layerfs.posix.Errno;
import io.layerfs.posix.Posix;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** The table of open handles: handle id (FUSE's fh) → {@link OpenFile}. An unknown id is EBADF. */
public final class OpenFiles {
    private final Map<Long, OpenFile> open = new ConcurrentHashMap<>();
    private final AtomicLong nextId = new AtomicLong(1);

    OpenFile add(int fd, long ino, String lowerReal) {
        OpenFile f = new OpenFile(nextId.getAndIncrement(), fd, ino, lowerReal);
        open.put(f.id, f);
        return f;
    }

    public OpenFile get(long id) {
        OpenFile f = open.get(id);
        if (f == null) {
            throw new Errno(Errno.EBADF, "handle " + id);
        }
        return f;
    }

    public void release(long id) {
        OpenFile f = open.remove(id);
        if (f != null) {
            f.close();
        }
    }

    public int size() {
        return open.size();
    }

    /** After a copy-up: reopen, on the upper copy, every handle still reading the lower file. */
    void repoint(String lowerReal, String upperReal) {
        for (OpenFile f : open.values()) {
            if (lowerReal.equals(f.lowerReal)) {
                f.repoint(Posix.open(upperReal, Posix.O_RDONLY, 0));
            }
        }
    }

    void closeAll() {
        open.values().forEach(OpenFile::close);
        open.clear();
    }
}
