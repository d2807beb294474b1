package io.layerfs.overlay;

import io.layerfs.testing.Sh;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

/** A kernel overlayfs mount (the reference implementation) under a fresh temp directory. */
public final class KernelOverlay implements AutoCloseable {
    private final Path base;

    public KernelOverlay(List<Path> lowers) {
        this(lowers, null);
    }

    /** Mounts over {@code lowers}; with {@code upperToCopy}, starts from a copy of that upper directory. */
    public KernelOverlay(List<Path> lowers, Path upperToCopy) {
        try {
            base = Files.createTempDirectory("layerfs-kernel");
            Files.createDirectories(work());
            Files.createDirectories(mnt());
            if (upperToCopy != null) {
                Sh.ok("cp -a '" + upperToCopy + "' '" + upper() + "'");
            } else {
                Files.createDirectories(upper());
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        String lowerdir = lowers.stream().map(Path::toString).collect(Collectors.joining(":"));
        Sh.ok("mount -t overlay overlay -o 'lowerdir=" + lowerdir + ",upperdir=" + upper() + ",workdir=" + work()
                + "' '" + mnt() + "'");
    }

    public Path mnt() {
        return base.resolve("mnt");
    }

    public Path upper() {
        return base.resolve("upper");
    }

    public Path work() {
        return base.resolve("work");
    }

    public String sh(String script) {
        return Sh.ok(mnt(), script);
    }

    public void unmount() {
        if (Mounts.isMountpoint(mnt())) {
            Sh.run(null, "umount '" + mnt() + "' || umount -l '" + mnt() + "'");
        }
    }

    @Override
    public void close() {
        unmount();
        if (!Mounts.isMountpoint(mnt())) {
            Sh.run(null, "rm -rf '" + base + "'");
        }
    }
}
