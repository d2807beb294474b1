package io.layerfs.overlay.devfuse;

import io.layerfs.overlay.union.UnionFs;
import io.layerfs.posix.ByteString;
import io.layerfs.posix.Posix;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Mounts a {@link UnionFs} with the FUSE protocol on /dev/fuse directly, without libfuse: opens the device,
 * calls mount(2) with its descriptor, and starts worker threads that serve requests until the unmount.
 */
public final class DevFuseMount {
    private static final Logger log = LoggerFactory.getLogger(DevFuseMount.class);

    private DevFuseMount() {
    }

    /**
     * Mounts and returns a thread that ends once the filesystem is unmounted and every worker has stopped.
     * The mount is live when this returns (the kernel queues requests until INIT is answered).
     */
    public static Thread mount(UnionFs fs, Path mountpoint, int threads, double entryTimeout, double attrTimeout,
                               double negativeTimeout) {
        int fd = Posix.open("/dev/fuse", Posix.O_RDWR | Posix.O_NONBLOCK, 0); // see RequestReader
        String options = String.join(",", "fd=" + fd, "rootmode=40000", "user_id=" + uid(), "group_id=" + gid(),
                "default_permissions", "allow_other", "max_read=" + Fuse.MAX_WRITE);
        try {
            Posix.mount("layerfs", ByteString.of(mountpoint), "fuse.layerfs", 0, options);
        } catch (RuntimeException e) {
            Posix.close(fd);
            throw e;
        }
        DevFuseServer server = new DevFuseServer(fs, fd, entryTimeout, attrTimeout, negativeTimeout);
        List<Thread> workers = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            Thread t = new Thread(server::serve, "layerfs-fuse-" + i);
            t.setDaemon(true);
            t.start();
            workers.add(t);
        }
        Thread session = new Thread(() -> {
            for (Thread t : workers) {
                try {
                    t.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
            fs.closeAll();
            Posix.close(fd);
            log.info("{} unmounted", mountpoint);
        }, "layerfs-session " + mountpoint);
        session.start();
        return session;
    }

    private static int uid() {
        return Posix.libc().geteuid();
    }

    private static int gid() {
        return Posix.libc().getegid();
    }
}
