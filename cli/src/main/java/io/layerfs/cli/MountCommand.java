package io.layerfs.cli;

import io.layerfs.overlay.OverlayConfig;
import io.layerfs.overlay.OverlayConfigException;
import io.layerfs.overlay.OverlayFs;
import io.layerfs.overlay.OverlayMount;
import io.layerfs.posix.Posix;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code layerfs mount --lower A:B --upper U --work W MOUNTPOINT}. Without {@code --foreground} it starts
 * a daemon and returns once the mount is live; with it, it serves the mount itself until unmounted.
 */
@Command(name = "mount", description = "Mount a union of read-only lower directories and a writable upper.")
final class MountCommand implements Callable<Integer> {
    @Option(names = "--lower", required = true, paramLabel = "DIR[:DIR...]",
            description = "Lower directories, top-most first (as overlayfs's lowerdir=).")
    String lower;

    @Option(names = "--upper", required = true, paramLabel = "DIR", description = "The writable upper directory.")
    Path upper;

    @Option(names = "--work", required = true, paramLabel = "DIR",
            description = "Empty work directory on the same filesystem as --upper.")
    Path work;

    @Option(names = {"-f", "--foreground"}, description = "Serve in this process until unmounted; log to stderr.")
    boolean foreground;

    @Option(names = "--single-threaded", description = "Serve FUSE requests on one thread.")
    boolean singleThreaded;

    @Option(names = "--log", paramLabel = "FILE", description = "Daemon log file (default: WORK/layerfs.log).")
    Path logFile;

    @Option(names = "--debug", description = "libfuse debug output (with --foreground).")
    boolean debug;

    @Option(names = "--notify-stdout", hidden = true, description = "Daemon side: report readiness on stdout.")
    boolean notifyStdout;

    @Parameters(paramLabel = "MOUNTPOINT", description = "Where to mount.")
    Path mountpoint;

    @Override
    public Integer call() throws Exception {
        OverlayConfig config = config();
        Path mnt = mountpoint.toAbsolutePath().normalize();
        if (!foreground) {
            config.validate(mnt); // fail fast, before starting a daemon
            Path log = logFile != null ? logFile : config.work().resolve("layerfs.log");
            Daemon.start(daemonArgs(), log);
            return 0;
        }
        Posix.umask(0); // a serving process: modes arrive with the caller's umask already applied
        PrintStream notify = notifyStdout ? System.out : null;
        OverlayMount mount;
        try {
            mount = OverlayFs.mount(config, mnt);
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

    private OverlayConfig config() {
        List<Path> lowers = new ArrayList<>();
        for (String dir : lower.split(":")) {
            if (dir.isEmpty()) {
                throw new UserError("empty directory in --lower " + lower);
            }
            lowers.add(Path.of(dir));
        }
        OverlayConfig.Options options = OverlayConfig.Options.defaults()
                .withSingleThreaded(singleThreaded).withDebug(debug);
        return new OverlayConfig(lowers, upper, work, options);
    }

    /** The same mount, asked of a daemon: absolute paths, --foreground, readiness on stdout. */
    private List<String> daemonArgs() {
        List<String> args = new ArrayList<>(List.of("mount", "--foreground", "--notify-stdout"));
        List<String> lowers = new ArrayList<>();
        for (String dir : lower.split(":")) {
            lowers.add(Path.of(dir).toAbsolutePath().normalize().toString());
        }
        args.addAll(List.of("--lower", String.join(":", lowers)));
        args.addAll(List.of("--upper", upper.toAbsolutePath().normalize().toString()));
        args.addAll(List.of("--work", work.toAbsolutePath().normalize().toString()));
        if (singleThreaded) {
            args.add("--single-threaded");
        }
        args.add(mountpoint.toAbsolutePath().normalize().toString());
        return args;
    }
}
