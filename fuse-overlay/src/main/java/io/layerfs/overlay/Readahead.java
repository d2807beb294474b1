package io.layerfs.overlay;

import io.layerfs.posix.ByteString;
import io.layerfs.posix.Posix;
import io.layerfs.posix.Stat;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Gives a mount the read-ahead of the disks under its lowers. The kernel starts every FUSE mount at 128 KiB
 * (FUSE_INIT can only lower it), where a disk usually reads ahead far more (this machine's: 8 MiB), so a
 * cold sequential read through the mount asked the lower for little at a time: 1.0–1.4 GB/s for the bench's
 * 1 GiB lower file, 1.5–1.8 GB/s with the disk's read-ahead. Only ever raised, and only where the lowers are
 * on block devices; a failure (say, a read-only /sys) leaves the mount as it is.
 */
final class Readahead {
    private static final Logger log = LoggerFactory.getLogger(Readahead.class);
    private static final long FUSE_DEFAULT_KB = 128;

    private Readahead() {
    }

    static void matchLowers(Path mnt, List<Path> lowers) {
        try {
            String dev = Mounts.device(mnt);
            if (dev == null) {
                return;
            }
            long wanted = FUSE_DEFAULT_KB;
            for (Path lower : lowers) {
                wanted = Math.max(wanted, diskReadahead(lower));
            }
            Path own = Path.of("/sys/class/bdi/" + dev + "/read_ahead_kb");
            if (wanted > Long.parseLong(Files.readString(own).trim())) {
                Files.writeString(own, Long.toString(wanted));
                log.debug("read-ahead of {} set to {} KiB, as its lowers' disk", mnt, wanted);
            }
        } catch (IOException | RuntimeException e) {
            log.debug("read-ahead of {} left as it is: {}", mnt, e.toString());
        }
    }

    /** KiB the block device holding {@code dir} reads ahead (a partition's: its disk's), or 0 if none. */
    private static long diskReadahead(Path dir) throws IOException {
        long dev = Posix.lstat(ByteString.of(dir)).dev();
        if (Stat.major(dev) == 0) {
            return 0; // tmpfs, overlay, another FUSE mount: no disk
        }
        Path block = Path.of("/sys/dev/block/" + Stat.major(dev) + ":" + Stat.minor(dev));
        for (Path setting : List.of(block.resolve("queue/read_ahead_kb"), block.resolve("../queue/read_ahead_kb"))) {
            if (Files.exists(setting)) {
                return Long.parseLong(Files.readString(setting).trim());
            }
        }
        return 0;
    }
}
