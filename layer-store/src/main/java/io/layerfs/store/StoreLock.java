package io.layerfs.store;

import io.layerfs.posix.ByteString;
import io.layerfs.posix.Posix;

import java.nio.file.Path;

/**
 * flock(2) on the store's lock file. Each lock opens its own descriptor, so locks exclude each other
 * between threads of one process as well as between processes, and a killed process drops its lock.
 */
final class StoreLock implements AutoCloseable {
    private final int fd;

    private StoreLock(int fd) {
        this.fd = fd;
    }

    static StoreLock shared(Path file) {
        return take(file, Posix.LOCK_SH);
    }

    static StoreLock exclusive(Path file) {
        return take(file, Posix.LOCK_EX);
    }

    private static StoreLock take(Path file, int op) {
        int fd = Posix.open(ByteString.of(file), Posix.O_RDWR | Posix.O_CREAT, 0644);
        try {
            Posix.flock(fd, op);
        } catch (RuntimeException e) {
            Posix.close(fd);
            throw e;
        }
        return new StoreLock(fd);
    }

    @Override
    public void close() {
        Posix.close(fd); // releases the flock
    }
}
