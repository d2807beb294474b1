package io.layerfs.cli;

import io.layerfs.overlay.Mounts;
import io.layerfs.overlay.OverlayConfig;
import io.layerfs.overlay.OverlayConfigException;
import io.layerfs.overlay.OverlayFs;
import io.layerfs.overlay.OverlayMount;
import io.layerfs.posix.Posix;
import io.layerfs.store.ContainerRecord;
import io.layerfs.store.ContainerStore;
import io.layerfs.store.Digest;
import io.layerfs.store.ImageRecord;
import io.layerfs.store.LayerStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code layerfs mount}, three ways:
 * <ul>
 * <li>{@code mount [--name NAME] (--image NAME | --layer DIGEST...) MOUNTPOINT}: a new container over
 *     stored layers (bottom-first), with its upper and work under the store root;</li>
 * <li>{@code mount NAME}: mount a stopped container again, with its upper;</li>
 * <li>{@code mount --lower A:B --upper U --work W MOUNTPOINT}: any directories, no store.</li>
 * </ul>
 * Returns once the mount is live, with a daemon serving it (see {@link Daemon}); {@code --foreground} serves in
 * this process.
 */
@Command(name = "mount", description = "Mount a container layer over stored layers (or any directories).")
final class MountCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--name", description = "Container name (default: generated).")
    String name;

    @Option(names = "--image", paramLabel = "NAME", description = "Mount this image's layers.")
    String image;

    @Option(names = "--layer", paramLabel = "DIGEST", description = "A stored layer, bottom-most first; repeat for more.")
    List<String> layers = new ArrayList<>();

    @Option(names = "--lower", paramLabel = "DIR[:DIR...]",
            description = "Lower directories, top-most first (as overlayfs's lowerdir=); needs --upper and --work.")
    String lower;

    @Option(names = "--upper", paramLabel = "DIR", description = "The writable upper directory (with --lower).")
    Path upper;

    @Option(names = "--work", paramLabel = "DIR", description = "Empty work directory on the upper's filesystem (with --lower).")
    Path work;

    @Option(names = {"-f", "--foreground"}, description = "Serve in this process until unmounted; log to stderr.")
    boolean foreground;

    @Option(names = "--single-threaded", description = "Serve FUSE requests on one thread.")
    boolean singleThreaded;

    @Option(names = "--binding", paramLabel = "jnr-fuse|dev-fuse",
            description = "How to talk to the kernel: the FUSE protocol on /dev/fuse directly (the default as root), or libfuse 2 through jnr-fuse (the default otherwise).")
    String binding;

    @Option(names = "--attr-timeout", paramLabel = "SECONDS",
            description = "How long the kernel may cache attributes (default: 1 with jnr-fuse, 3600 with dev-fuse). "
                    + "With jnr-fuse, longer is faster for repeated stats, but a hard link's other names then show a "
                    + "change made through one name late.")
    Double attrTimeout;

    @Option(names = "--volatile", description = "Never fsync (not copy-ups, not callers' fsyncs), as overlayfs's "
            + "volatile: faster, but a crash may lose writes; the upper then refuses to mount again until WORK/work/incompat/volatile is removed.")
    boolean volatileMount;

    @Option(names = "--log", paramLabel = "FILE", description = "Daemon log file (default: WORK/layerfs.log, or the container's).")
    Path logFile;

    @Option(names = "--debug", description = "libfuse debug output (with --foreground).")
    boolean debug;

    @Option(names = "--notify-stdout", hidden = true, description = "Daemon side: report readiness on stdout.")
    boolean notifyStdout;

    @Parameters(paramLabel = "MOUNTPOINT|NAME", description = "Where to mount; or the name of a stopped container.")
    String target;

    @Override
    public Integer call() throws Exception {
        OverlayConfig.Options options = OverlayConfig.Options.defaults().withSingleThreaded(singleThreaded).withDebug(debug)
                .withVolatile(volatileMount);
        if (attrTimeout != null) {
            if (attrTimeout < 0) {
                throw new ParameterException(spec.commandLine(), "--attr-timeout must not be negative");
            }
            options = options.withAttrTimeout(attrTimeout);
        }
        if (binding != null) {
            try {
                options = options.withBinding(OverlayConfig.Binding.parse(binding));
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), e.getMessage());
            }
        }
        if (lower != null) {
            return mountDirectories(options);
        }
        if (upper != null || work != null) {
            throw new ParameterException(spec.commandLine(), "--upper and --work go with --lower");
        }
        Containers c = new Containers(StoreRoot.open(spec));
        if (image != null || !layers.isEmpty()) {
            ContainerRecord r = create(c);
            try {
                c.start(r, options);
            } catch (Exception | Error e) {
                c.remove(r, false); // a container that never mounted leaves nothing behind
                throw e;
            }
            System.out.println(r.name());
            return Daemon.inProcess() ? Daemon.detachAndServe() : 0;
        }
        ContainerRecord r = c.find(target);
        if (c.state(r) != Containers.State.UNMOUNTED) {
            throw new UserError("container " + r.name() + " is already mounted at " + r.mountpoint());
        }
        if (binding == null && r.binding() != null) {
            options = options.withBinding(OverlayConfig.Binding.parse(r.binding())); // as it was mounted before
        }
        c.start(r, options);
        System.out.println(r.name());
        return Daemon.inProcess() ? Daemon.detachAndServe() : 0;
    }

    /** A new container: resolve its layers, take the name, hold the layers. */
    private ContainerRecord create(Containers c) throws Exception {
        if (image != null && !layers.isEmpty()) {
            throw new ParameterException(spec.commandLine(), "give --image or --layer, not both");
        }
        LayerStore store = c.store;
        List<String> diffIds = new ArrayList<>();
        if (image != null) {
            ImageRecord img = store.image(image).orElseThrow(() -> new UserError("no image " + image + " in the store"));
            diffIds.addAll(img.layers());
        } else {
            for (String ref : layers) {
                diffIds.add(store.resolve(ref).toString());
            }
        }
        String containerName = name != null ? ContainerStore.checkName(name) : c.generateName();
        Path mnt = Path.of(target).toAbsolutePath().normalize();
        Files.createDirectories(mnt);
        mnt = Mounts.canonical(mnt); // as the kernel and /proc/self/mountinfo will name it
        ContainerRecord r = new ContainerRecord(containerName, image, diffIds, mnt.toString(), 0,
                Instant.now().toString(), false, null);
        c.containers.create(r);
        try {
            for (String d : diffIds) {
                store.hold(Digest.parse(d), containerName);
            }
        } catch (RuntimeException e) {
            c.remove(r, false);
            throw e;
        }
        return r;
    }

    private Integer mountDirectories(OverlayConfig.Options options) throws Exception {
        if (upper == null || work == null) {
            throw new ParameterException(spec.commandLine(), "--lower needs --upper and --work");
        }
        List<Path> lowers = new ArrayList<>();
        for (String dir : lower.split(":")) {
            if (dir.isEmpty()) {
                throw new UserError("empty directory in --lower " + lower);
            }
            lowers.add(Path.of(dir));
        }
        OverlayConfig config = new OverlayConfig(lowers, upper, work, options);
        Path mnt = Path.of(target).toAbsolutePath().normalize();
        if (foreground) {
            return serve(config, mnt);
        }
        Path log = logFile != null ? logFile : config.work().resolve("layerfs.log");
        if (Daemon.inProcess()) {
            Daemon.mount(daemonConfig(config), mnt, log);
            return Daemon.detachAndServe();
        }
        // the daemon validates and reports a bad config on its first line; not loading libc here starts faster
        Daemon.start(daemonArgs(config, mnt), log);
        return 0;
    }

    /**
     * Mounts in this process, which then serves the mount: validates first, returns once the mount is live.
     * A serving process has no umask (modes arrive with the caller's already applied); if the mount fails,
     * the user's comes back for whatever this process still writes (a container record, say).
     */
    static OverlayMount mount(OverlayConfig config, Path mnt) {
        int umask = Posix.umask(0);
        try {
            return OverlayFs.mount(config, mnt);
        } catch (RuntimeException | Error e) {
            Posix.umask(umask);
            throw e;
        }
    }

    /** Serves the mount in this process until it is unmounted. */
    private static int serve(OverlayConfig config, Path mnt, PrintStream notify) throws InterruptedException {
        OverlayMount mount;
        try {
            mount = mount(config, mnt);
        } catch (OverlayConfigException e) {
            if (notify != null) {
                notify.println(Daemon.ERROR_PREFIX + e.getMessage());
                notify.flush();
            }
            throw e;
        }
        if (notify != null) {
            notify.println(Daemon.READY);
            notify.flush();
        }
        mount.awaitUnmount();
        return 0;
    }

    private int serve(OverlayConfig config, Path mnt) throws InterruptedException {
        return serve(config, mnt, notifyStdout ? System.out : null);
    }

    /** What a daemon mounts: the same, without libfuse's debug output (that is for --foreground). */
    static OverlayConfig daemonConfig(OverlayConfig config) {
        return new OverlayConfig(config.lowers(), config.upper(), config.work(), config.options().withDebug(false));
    }

    /** The same mount, asked of a daemon: absolute paths, --foreground, readiness on stdout. */
    static List<String> daemonArgs(OverlayConfig config, Path mnt) {
        List<String> lowers = new ArrayList<>();
        for (Path p : config.lowers()) {
            lowers.add(p.toString());
        }
        List<String> args = new ArrayList<>(List.of("mount", "--foreground", "--notify-stdout",
                "--lower", String.join(":", lowers), "--upper", config.upper().toString(), "--work", config.work().toString()));
        if (config.options().singleThreaded()) {
            args.add("--single-threaded");
        }
        if (config.options().attrTimeout() >= 0) {
            args.addAll(List.of("--attr-timeout", Double.toString(config.options().attrTimeout())));
        }
        if (config.options().volatileMount()) {
            args.add("--volatile");
        }
        args.addAll(List.of("--binding", config.options().binding().label));
        args.add(mnt.toString());
        return args;
    }
}
