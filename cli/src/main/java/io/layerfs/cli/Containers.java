package io.layerfs.cli;

import io.layerfs.overlay.Mounts;
import io.layerfs.overlay.OverlayConfig;
import io.layerfs.posix.ByteString;
import io.layerfs.posix.Errno;
import io.layerfs.posix.Posix;
import io.layerfs.store.ContainerRecord;
import io.layerfs.store.ContainerStore;
import io.layerfs.store.Digest;
import io.layerfs.store.LayerStore;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** Container lifecycle: start a daemon for a record, find its state, unmount it (busy, stale or not), tear it down. */
final class Containers {
    enum State { MOUNTED, STALE, UNMOUNTED }

    /** What to do when the mount is busy: refuse, detach lazily, or detach and stop the daemon. */
    enum Busy { REFUSE, DETACH, DETACH_AND_STOP }

    static final int EBUSY = 16;

    private static final String[] ADJECTIVES = {"brave", "calm", "eager", "fuzzy", "gentle", "happy", "jolly", "keen",
            "lucid", "merry", "nimble", "quiet", "rapid", "sunny", "tidy", "vivid", "witty", "zesty"};
    private static final String[] NOUNS = {"badger", "crane", "dolphin", "falcon", "gecko", "heron", "ibis", "koala",
            "lemur", "marmot", "newt", "otter", "panda", "quail", "raven", "shrew", "tapir", "walrus"};

    final LayerStore store;
    final ContainerStore containers;

    Containers(LayerStore store) {
        this.store = store;
        this.containers = new ContainerStore(store.layout());
    }

    /** The container named {@code ref}, or the one whose mountpoint is {@code ref}. */
    ContainerRecord find(String ref) {
        Optional<ContainerRecord> byName = containers.find(ref);
        if (byName.isPresent()) {
            return byName.get();
        }
        String mnt = Mounts.canonical(Path.of(ref)).toString();
        for (ContainerRecord r : containers.list()) {
            if (r.mountpoint().equals(mnt)) {
                return r;
            }
        }
        throw new UserError("no container named " + ref);
    }

    String generateName() {
        for (int i = 0; i < 100; i++) {
            ThreadLocalRandom r = ThreadLocalRandom.current();
            String name = ADJECTIVES[r.nextInt(ADJECTIVES.length)] + "_" + NOUNS[r.nextInt(NOUNS.length)];
            if (containers.find(name).isEmpty()) {
                return name;
            }
        }
        return "layerfs_" + Long.toHexString(System.nanoTime());
    }

    /** The overlay config of a container: its layers from the store (top first), its own upper and work. */
    OverlayConfig config(ContainerRecord r, OverlayConfig.Options options) {
        List<Path> lowers = new ArrayList<>();
        for (int i = r.layers().size() - 1; i >= 0; i--) {
            Digest d = Digest.parse(r.layers().get(i));
            if (!store.contains(d)) {
                throw new UserError("layer " + d + " of container " + r.name() + " is missing from the store");
            }
            lowers.add(store.path(d));
        }
        return new OverlayConfig(lowers, containers.upper(r.name()), containers.work(r.name()), options);
    }

    /**
     * Starts the daemon serving {@code r} and records its pid. In process (see {@link Daemon}), this process
     * mounts and is the daemon: the record names it before the mount, while files are still created with the
     * user's umask (a serving process has none), and goes back to what it was if the mount fails. The record
     * keeps the binding, which a later {@code mount NAME} without --binding reuses.
     */
    ContainerRecord start(ContainerRecord r, OverlayConfig.Options options) throws IOException, InterruptedException {
        Path mnt = Path.of(r.mountpoint());
        Files.createDirectories(mnt);
        r = r.withBinding(options.binding().label); // a later `mount NAME` mounts it the same way
        OverlayConfig config = config(r, options);
        config.validate(mnt);
        if (Daemon.inProcess()) {
            ContainerRecord mounted = r.withPid(ProcessHandle.current().pid());
            containers.save(mounted);
            try {
                Daemon.mount(MountCommand.daemonConfig(config), mnt, containers.log(r.name()));
            } catch (IOException | InterruptedException | RuntimeException | Error e) {
                containers.save(r);
                throw e;
            }
            return mounted;
        }
        long pid = Daemon.start(MountCommand.daemonArgs(config, mnt), containers.log(r.name()));
        ContainerRecord mounted = r.withPid(pid);
        containers.save(mounted);
        return mounted;
    }

    /**
     * Mounted: its daemon serves its mountpoint. Stale: a layerfs mount is there but its daemon is gone
     * ("Transport endpoint is not connected"). Unmounted otherwise, including when another live daemon
     * serves that mountpoint (the mount is not this container's).
     */
    State state(ContainerRecord r) {
        if (r.pid() <= 0 || !UmountCommand.FS_TYPE.equals(Mounts.fsType(Path.of(r.mountpoint())))) {
            return State.UNMOUNTED;
        }
        if (daemonAlive(r)) {
            return State.MOUNTED;
        }
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            boolean other = procs.map(p -> p.getFileName().toString()).filter(n -> n.matches("\\d+"))
                    .anyMatch(n -> isDaemonFor(Long.parseLong(n), r.mountpoint()));
            return other ? State.UNMOUNTED : State.STALE;
        } catch (IOException e) {
            return State.STALE;
        }
    }

    /**
     * True when the record's pid is a live layerfs daemon serving this container (not a reused pid): a layerfs
     * mount whose command line ends with the mountpoint, or whose stderr is the container's log. The second
     * covers a daemon that bin/layerfs started from a command naming no mountpoint (e.g. {@code mount NAME}).
     */
    boolean daemonAlive(ContainerRecord r) {
        if (r.pid() <= 0) {
            return false;
        }
        if (isDaemonFor(r.pid(), r.mountpoint())) {
            return true;
        }
        if (!isLayerfsMount(cmdline(r.pid()))) {
            return false;
        }
        try {
            Path stderr = Files.readSymbolicLink(Path.of("/proc/" + r.pid() + "/fd/2"));
            return stderr.equals(Mounts.canonical(containers.log(r.name())));
        } catch (IOException e) {
            return false;
        }
    }

    /** True when {@code pid} is a live layerfs daemon whose command line ends with {@code mountpoint}. */
    private static boolean isDaemonFor(long pid, String mountpoint) {
        String cmdline = cmdline(pid);
        return isLayerfsMount(cmdline) && cmdline.endsWith(" " + mountpoint + " ");
    }

    /** A {@code layerfs mount} process: the daemon a CLI started, or one bin/layerfs started as the daemon. */
    private static boolean isLayerfsMount(String cmdline) {
        return cmdline.contains(" " + Layerfs.class.getName() + " ") && cmdline.contains(" mount ");
    }

    /** The command line with spaces for NULs (a trailing one included); empty when the process is gone. */
    private static String cmdline(long pid) {
        try {
            return Files.readString(Path.of("/proc/" + pid + "/cmdline")).replace('\0', ' ');
        } catch (IOException e) {
            return "";
        }
    }

    /**
     * Unmounts a container. A stale mount (daemon gone) is detached; a busy one is handled as {@code busy}
     * says. Then waits for the daemon to exit (stopping it, by its pid, only for DETACH_AND_STOP or when
     * it outlives a plain unmount).
     */
    void unmount(ContainerRecord r, Busy busy) throws InterruptedException {
        Path mnt = Path.of(r.mountpoint());
        State state = state(r);
        if (state == State.STALE) {
            Posix.umount2(ByteString.of(mnt), Posix.MNT_DETACH);
        } else if (state == State.MOUNTED) {
            try {
                Posix.umount2(ByteString.of(mnt), 0);
            } catch (Errno e) {
                if (e.errno != EBUSY) {
                    throw e;
                }
                if (busy == Busy.REFUSE) {
                    throw new UserError(busyMessage(mnt, "--force"));
                }
                Posix.umount2(ByteString.of(mnt), Posix.MNT_DETACH);
                if (busy == Busy.DETACH) {
                    return; // the daemon serves the open files until they close, then exits
                }
            }
            stopDaemon(r, busy == Busy.DETACH_AND_STOP ? 2 : 10);
        }
        containers.save(r.withPid(0));
    }

    static String busyMessage(Path mnt, String option) {
        List<String> users = processesUsing(mnt);
        return mnt + " is busy" + (users.isEmpty() ? "" : ", used by " + String.join(", ", users))
                + "; stop them or use " + option;
    }

    /** Waits for the daemon to exit after its unmount; stops it (by its pid) if it lingers. */
    private void stopDaemon(ContainerRecord r, long graceSeconds) throws InterruptedException {
        if (waitForExit(r, graceSeconds)) {
            return;
        }
        ProcessHandle.of(r.pid()).ifPresent(ProcessHandle::destroy); // SIGTERM: the JVM unmounts and exits
        if (!waitForExit(r, 5)) {
            ProcessHandle.of(r.pid()).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    /**
     * Polls until the daemon is gone. A daemon is not our child, so once it exits it stays a zombie until
     * init reaps it; its empty /proc cmdline already says it is gone.
     */
    private boolean waitForExit(ContainerRecord r, long seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (daemonAlive(r)) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(20);
        }
        return true;
    }

    /** Tears a container down: unmount, release its layers, delete upper, work and record. Resumable. */
    void remove(ContainerRecord r, boolean force) throws InterruptedException {
        unmount(r, force ? Busy.DETACH_AND_STOP : Busy.REFUSE);
        containers.save(r.withPid(0).withRemoving());
        for (String layer : r.layers()) {
            store.release(Digest.parse(layer), r.name());
        }
        containers.delete(r.name());
    }

    /** "pid (command)" of every process with a file, cwd or root under {@code mnt}, read from /proc. */
    static List<String> processesUsing(Path mnt) {
        String prefix = mnt.toString();
        long self = ProcessHandle.current().pid();
        List<String> users = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : procs.filter(p -> p.getFileName().toString().matches("\\d+")).sorted().toList()) {
                if (Long.parseLong(p.getFileName().toString()) != self && uses(p, prefix)) {
                    String comm = "";
                    try {
                        comm = Files.readString(p.resolve("comm")).trim();
                    } catch (IOException ignored) {
                        // it exited meanwhile
                    }
                    users.add(p.getFileName() + " (" + comm + ")");
                }
            }
        } catch (IOException e) {
            return users;
        }
        return users;
    }

    private static boolean uses(Path proc, String prefix) {
        List<Path> links = new ArrayList<>(List.of(proc.resolve("cwd"), proc.resolve("root"), proc.resolve("exe")));
        try (Stream<Path> fds = Files.list(proc.resolve("fd"))) {
            links.addAll(fds.toList());
        } catch (IOException e) {
            // not ours to read, or gone
        }
        for (Path link : links) {
            try {
                String target = Files.readSymbolicLink(link).toString();
                if (target.equals(prefix) || target.startsWith(prefix + "/")) {
                    return true;
                }
            } catch (IOException | UnsupportedOperationException e) {
                // gone or not a link
            }
        }
        return false;
    }
}
