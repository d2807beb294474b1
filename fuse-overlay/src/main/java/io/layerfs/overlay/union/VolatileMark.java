package io.layerfs.overlay.union;

import io.layerfs.posix.DirEntry;
import io.layerfs.posix.Errno;
import io.layerfs.posix.Posix;

import java.util.concurrent.TimeUnit;

/**
 * Kernel overlayfs's mark of a volatile mount: the directory {@code <workdir>/work/incompat/volatile}. A volatile
 * mount skips every fsync, so after a crash its upper may lack writes that seemed done; while the mark is there,
 * no mount of that upper starts (the kernel refuses too). The kernel never removes the mark; layerfs does after a
 * clean unmount, once the upper's filesystem is synced, so the upper mounts again like any other. The mark names
 * the daemon ({@code layerfs-PID}), since that removal comes just after the unmount: a new mount waits for a
 * daemon that is still finishing.
 */
public final class VolatileMark {
    private static final String INCOMPAT = "incompat";
    private static final String VOLATILE = "volatile";
    /** An empty file in the mark that names the daemon: {@code layerfs-PID}. */
    private static final String PID_PREFIX = "layerfs-";
    private static final long FINISHING_MS = 10_000;

    private VolatileMark() {
    }

    /** The mark's path, given the scratch directory ({@code <workdir>/work}). */
    public static String path(String scratchDir) {
        return scratchDir + "/" + INCOMPAT + "/" + VOLATILE;
    }

    /** The scratch directory's entry that holds marks: never cleared with the scratch files. */
    static boolean isMarkDir(String name) {
        return name.equals(INCOMPAT);
    }

    /**
     * Whether the mark says the last volatile mount of this upper ended uncleanly: it is there, and the daemon
     * it names is gone (waiting for one still finishing its unmount).
     */
    public static boolean leftByACrash(String scratchDir) {
        String mark = path(scratchDir);
        if (Posix.lstatOrNull(mark) == null) {
            return false;
        }
        for (DirEntry e : Posix.list(mark)) {
            long pid = daemonPid(e.name());
            if (pid > 0 && pid != ProcessHandle.current().pid()) {
                ProcessHandle.of(pid).ifPresent(p -> p.onExit().completeOnTimeout(p, FINISHING_MS, TimeUnit.MILLISECONDS).join());
            }
        }
        return Posix.lstatOrNull(mark) != null;
    }

    /** The pid a mark's entry names, or 0 (the kernel's mark has no entries). */
    private static long daemonPid(String name) {
        if (!name.startsWith(PID_PREFIX)) {
            return 0;
        }
        try {
            return Long.parseLong(name.substring(PID_PREFIX.length()));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    static void set(String scratchDir) {
        String dir = scratchDir + "/" + INCOMPAT;
        if (Posix.lstatOrNull(dir) == null) {
            Posix.mkdir(dir, 0700);
        }
        Posix.mkdir(path(scratchDir), 0700);
        Posix.close(Posix.open(pidFile(scratchDir), Posix.O_WRONLY | Posix.O_CREAT | Posix.O_EXCL, 0600));
        Posix.fsyncDir(dir);
    }

    /** After a clean unmount: everything the mount wrote is synced, then the mark goes. */
    static void clear(String scratchDir, String upper) {
        Posix.syncfs(upper);
        Posix.unlink(pidFile(scratchDir));
        Posix.rmdir(path(scratchDir));
        try {
            Posix.rmdir(scratchDir + "/" + INCOMPAT);
        } catch (Errno notEmpty) {
            // another mark (the kernel's kinds) stays
        }
    }

    private static String pidFile(String scratchDir) {
        return path(scratchDir) + "/" + PID_PREFIX + ProcessHandle.current().pid();
    }
}
