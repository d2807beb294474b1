package io.layerfs.overlay;

import io.layerfs.overlay.devfuse.DevFuseMount;
import io.layerfs.overlay.fuse.OverlayFuse;
import io.layerfs.overlay.union.LayerStack;
import io.layerfs.overlay.union.UnionFs;
import io.layerfs.posix.ByteString;
import io.layerfs.posix.Posix;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/** Mounts a union filesystem with FUSE. */
public final class OverlayFs {
    private static final Logger log = LoggerFactory.getLogger(OverlayFs.class);
    /** The kernel's overlayfs keeps its scratch space in {@code <workdir>/work}; so do we. */
    static final String SCRATCH_DIR = "work";
    /** Worker threads for the /dev/fuse binding: requests overlap while others wait on disk. */
    private static final int DEV_FUSE_THREADS = 4;

    private OverlayFs() {
    }

    /**
     * Validates the config, mounts it at {@code mountpoint} from a new thread, and returns once the kernel
     * has initialised the mount (it has served a stat). Close the handle to unmount.
     */
    public static OverlayMount mount(OverlayConfig config, Path mountpoint) {
        Path mnt = Mounts.canonical(mountpoint); // FUSE mounts at the real path; look for it there
        config.validate(mnt);
        UnionFs fs = new UnionFs(stack(config), config.options().cacheSize(), config.options().volatileMount());
        OverlayMount mount = config.options().binding() == OverlayConfig.Binding.DEV_FUSE
                ? mountDevFuse(fs, config.options(), mnt) : mountJnrFuse(fs, config, mnt);
        awaitInit(mnt);
        Readahead.matchLowers(mnt, config.lowers());
        return mount;
    }

    /**
     * Returns once the kernel has the reply to its INIT: a stat waits for it. Both bindings hand the mount back
     * before that (dev-fuse once its workers start, libfuse's init() before it replies), and the reply would
     * still change the mount's settings, clamping a read-ahead raised before it.
     */
    private static void awaitInit(Path mnt) {
        try {
            Posix.lstat(ByteString.of(mnt));
        } catch (RuntimeException e) {
            OverlayMount.unmount(mnt);
            throw new OverlayConfigException("mount at " + mnt + " does not serve a stat: " + e.getMessage(), e);
        }
    }

    private static OverlayMount mountJnrFuse(UnionFs fs, OverlayConfig config, Path mnt) {
        CountDownLatch ready = new CountDownLatch(1);
        OverlayFuse fuse = new OverlayFuse(fs, ready::countDown);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        String[] args = fuseArgs(config.options());
        Thread loop = new Thread(() -> {
            try {
                fuse.mount(Path.of(ByteString.of(mnt)), true, config.options().debug(), args);
            } catch (Throwable t) {
                failure.set(t);
            } finally {
                ready.countDown();
            }
        }, "layerfs-fuse " + mnt);
        loop.start();
        try {
            if (!ready.await(30, TimeUnit.SECONDS)) {
                throw new OverlayConfigException("mount at " + mnt + " did not become ready within 30 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new OverlayConfigException("interrupted while mounting " + mnt);
        }
        if (!loop.isAlive() || failure.get() != null || !Mounts.isMountpoint(mnt)) {
            Throwable t = failure.get();
            throw new OverlayConfigException("FUSE could not mount " + mnt
                    + (t == null ? "" : ": " + rootMessage(t)), t);
        }
        unmountOnExit(mnt, loop);
        log.info("mounted {} (lowers {}, upper {}, work {})", mnt, config.lowers(), config.upper(), config.work());
        return new OverlayMount(mnt, loop, fs);
    }

    /**
     * Loads what mounting with {@code binding} needs, ahead of the mount, e.g. on another thread while the
     * caller is still busy: the libc binding, and for jnr-fuse a throwaway filesystem object (which loads the
     * libfuse binding and generates its callback classes; a second one costs a tenth of the first). Nothing
     * is mounted; a failure is left for the mount itself to report.
     */
    public static void warmUp(OverlayConfig.Binding binding) {
        try {
            Posix.getpid();
            if (binding == OverlayConfig.Binding.JNR_FUSE) {
                new OverlayFuse(null, () -> { });
            }
        } catch (RuntimeException | LinkageError e) {
            log.debug("warming up {} failed: {}", binding.label, e.toString());
        }
    }

    private static OverlayMount mountDevFuse(UnionFs fs, OverlayConfig.Options o, Path mnt) {
        Thread session;
        try {
            session = DevFuseMount.mount(fs, mnt, o.singleThreaded() ? 1 : DEV_FUSE_THREADS, o.entryTimeout(), o.effectiveAttrTimeout(),
                    o.negativeTimeout());
        } catch (RuntimeException e) {
            throw new OverlayConfigException("cannot mount " + mnt + ": " + e.getMessage(), e);
        }
        log.info("mounted {} over /dev/fuse", mnt);
        unmountOnExit(mnt, session);
        return new OverlayMount(mnt, session, fs);
    }

    /**
     * SIGTERM (or any JVM exit) unmounts, and waits for the serving thread to finish: its end syncs a volatile
     * mount and drops the mark (jnr-fuse's own hook unmounts too, but would not wait for that).
     */
    private static void unmountOnExit(Path mnt, Thread session) {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (session.isAlive()) {
                OverlayMount.unmount(mnt);
                try {
                    session.join(10_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }, "layerfs-unmount-on-exit"));
    }

    static LayerStack stack(OverlayConfig config) {
        List<String> lowers = new ArrayList<>();
        for (Path lower : config.lowers()) {
            lowers.add(ByteString.of(lower));
        }
        String work = ByteString.of(config.work());
        return new LayerStack(ByteString.of(config.upper()), lowers, work + "/" + SCRATCH_DIR);
    }

    /** libfuse options: what makes the mount correct (permissions, inodes, unlinked open files) and fast. */
    static String[] fuseArgs(OverlayConfig.Options o) {
        List<String> args = new ArrayList<>();
        if (o.singleThreaded()) {
            args.add("-s");
        }
        args.add("-o");
        args.add(String.join(",",
                "fsname=layerfs", "subtype=layerfs",
                "default_permissions", "allow_other", "nonempty", "suid", "dev",
                "use_ino", "readdir_ino", "hard_remove",
                "big_writes", "atomic_o_trunc", "auto_cache",
                "attr_timeout=" + o.effectiveAttrTimeout(), "entry_timeout=" + o.entryTimeout(),
                "negative_timeout=" + o.negativeTimeout()));
        return args.toArray(new String[0]);
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null) {
            t = t.getCause();
        }
        return t.getMessage();
    }
}
