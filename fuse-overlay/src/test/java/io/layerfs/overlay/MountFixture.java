package io.layerfs.overlay;

import io.layerfs.testing.Sh;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A layerfs mount for one test, under a fresh temp directory: upper, work and mountpoint inside it.
 * {@link #close()} unmounts and deletes everything; use it in try-with-resources or @AfterEach.
 */
public final class MountFixture implements AutoCloseable {
    private final Path base;
    private final List<Path> lowers;
    private final OverlayConfig.Options options;
    private OverlayMount mount;

    public MountFixture(List<Path> lowers) {
        this(lowers, OverlayConfig.Options.defaults());
    }

    public MountFixture(List<Path> lowers, OverlayConfig.Options options) {
        this.lowers = lowers;
        this.options = options;
        try {
            base = Files.createTempDirectory("layerfs-test");
            Files.createDirectories(upper());
            Files.createDirectories(work());
            Files.createDirectories(mnt());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        mount();
    }

    public Path base() {
        return base;
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

    public Path lower(int i) {
        return lowers.get(i);
    }

    public OverlayMount mount() {
        if (mount == null) {
            mount = OverlayFs.mount(new OverlayConfig(lowers, upper(), work(), options), mnt());
        }
        return mount;
    }

    public void unmount() {
        if (mount != null) {
            mount.close();
            mount = null;
        }
    }

    /** Unmount and mount again over the same upper. */
    public void remount() {
        unmount();
        mount();
    }

    /** Runs a shell script with the mountpoint as working directory; it must succeed. */
    public String sh(String script) {
        return Sh.ok(mnt(), script);
    }

    public Sh.Result shResult(String script) {
        return Sh.run(mnt(), script);
    }

    @Override
    public void close() {
        try {
            unmount();
        } finally {
            if (!Mounts.isMountpoint(mnt())) {
                Sh.run(null, "rm -rf '" + base + "'");
            }
        }
    }
}
