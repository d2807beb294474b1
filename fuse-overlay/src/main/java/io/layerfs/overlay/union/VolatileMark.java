package io.layerfs.overlay.union;

import io.layerfs.posix.Errno;
import io.layerfs.posix.Posix;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Kernel overlayfs's mark of a volatile mount: the directory {@code <workdir>/work/incompat/volatile}. A volatile
 * mount skips every fsync, so after a crash its upper may lack writes that seemed done; while the mark is there,
 * no mount of that upper starts (the kernel refuses too). The kernel never removes the mark; layerfs does after a
 * clean unmount, once the upper's filesystem is synced, so the upper mounts again like any other. The mark holds
 * the daemon's pid, since that removal comes just after the unmount: a new mount waits for a daemon that is still
 * finishing.
 */
public final class VolatileMark {
    private static final String INCOMPAT = "incompat";
    private static final String VOLATILE = "volatile";
    private static final String PID = "layerfs.pid";
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
        try {
            long pid = Long.parseLong(Files.readString(Path.of(mark, PID)).trim());
            if (pid != ProcessHandle.current().pid()) {
                ProcessHandle.of(pid).ifPresent(p -> p.onExit().completeOnTimeout(p, FINISHING_MS, TimeUnit.MILLISECONDS).join());
            }
        } catch (IOException | NumberFormatException e) {
            // the kernel's mark, or ours without a pid: nobody is finishing
        }
        return Posix.lstatOrNull(mark) != null;
    }

    static void set(String scratchDir) {
        String dir = scratchDir + "/" + INCOMPAT;
        if (Posix.lstatOrNull(dir) == null) {
            Posix.mkdir(dir, 0700);
        }
        Posix.mkdir(path(scratchDir), 0700);
        try {
            Files.writeString(Path.of(path(scratchDir), PID), ProcessHandle.current().pid() + "\n");
        } catch (IOException e) {
            throw new Errno(Errno.EIO, "volatile mark: " + e.getMessage());
        }
        Posix.fsyncDir(dir);
    }

    /** After a clean unmount: everything the mount wrote is synced, then the mark goes. */
    static void clear(String scratchDir, String upper) {
        Posix.syncfs(upper);
        Posix.unlink(path(scratchDir) + "/" + PID);
        Posix.rmdir(path(scratchDir));
        try {
            Posix.rmdir(scratchDir + "/" + INCOMPAT);
        } catch (Errno notEmpty) {
            // another mark (the kernel's kinds) stays
        }
    }
}
