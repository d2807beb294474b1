package io.layerfs.overlay;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads the mount table (/proc/self/mountinfo). */
public final class Mounts {
    private Mounts() {
    }

    /**
     * The path the kernel will use for {@code p}: symlinks resolved (as mount(2) resolves them, and as
     * /proc/self/mountinfo lists mount points); absolute and normalized when it does not exist.
     */
    public static Path canonical(Path p) {
        try {
            return p.toRealPath();
        } catch (IOException e) {
            return p.toAbsolutePath().normalize();
        }
    }

    /** True when {@code dir} (absolute, normalized) is the mount point of some mount. */
    public static boolean isMountpoint(Path dir) {
        String wanted = escape(dir.toString());
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                String[] f = line.split(" ");
                if (f.length > 4 && f[4].equals(wanted)) {
                    return true;
                }
            }
            return false;
        } catch (IOException e) {
            throw new IllegalStateException("cannot read /proc/self/mountinfo", e);
        }
    }

    /** The fs type of the mount at {@code dir}, or null if none (e.g. "fuse.layerfs"). */
    public static String fsType(Path dir) {
        String line = lastMountAt(dir);
        return line == null ? null : line.substring(line.indexOf(" - ") + 3).split(" ")[0];
    }

    /** The device ("MAJOR:MINOR") of the mount at {@code dir}, or null if none. */
    public static String device(Path dir) {
        String line = lastMountAt(dir);
        return line == null ? null : line.split(" ")[2];
    }

    /** The mountinfo line of the mount at {@code dir} (the last on that path: the one seen), or null. */
    private static String lastMountAt(Path dir) {
        String wanted = escape(dir.toString());
        try {
            String found = null;
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                String[] f = line.split(" ");
                if (f.length > 4 && f[4].equals(wanted)) {
                    found = line;
                }
            }
            return found;
        } catch (IOException e) {
            throw new IllegalStateException("cannot read /proc/self/mountinfo", e);
        }
    }

    /** mountinfo escapes space, tab, newline and backslash as octal. */
    private static String escape(String path) {
        return path.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011").replace("\n", "\\012");
    }
}
