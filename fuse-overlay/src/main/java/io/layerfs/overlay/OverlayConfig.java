package io.layerfs.overlay;

import io.layerfs.overlay.union.VolatileMark;
import io.layerfs.posix.ByteString;
import io.layerfs.posix.Errno;
import io.layerfs.posix.Posix;
import io.layerfs.posix.Stat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What to mount: lower directories top-first (as overlayfs's lowerdir= takes them), the upper, and the work
 * directory (on the upper's filesystem), plus FUSE tuning. {@link #validate(Path)} checks it all before a
 * daemon starts, so bad input is one clear line and nothing mounted.
 */
public record OverlayConfig(List<Path> lowers, Path upper, Path work, Options options) {

    /**
     * FUSE tuning. Timeouts in seconds. Names and negative lookups are cached long: only the mount changes
     * what it shows (lowers never change, the upper only through the mount), and FUSE drops a name the
     * mount removes or renames. Attributes: see {@link #effectiveAttrTimeout()}; a negative value means the
     * binding's default.
     */
    public record Options(Binding binding, boolean singleThreaded, double attrTimeout, double entryTimeout,
                          double negativeTimeout, long cacheSize, boolean debug, boolean volatileMount) {
        public static Options defaults() {
            return new Options(Binding.defaultBinding(), false, -1, 3600, 3600, 65_536, false, false);
        }

        /**
         * The attribute timeout: as asked, or the binding's default. jnr-fuse: 1 s, because libfuse 2 gives
         * each name of a hard link its own kernel inode. dev-fuse: an hour, because names of one upper file
         * share one node id, so nothing the mount changes can hide in another inode's cache.
         */
        public double effectiveAttrTimeout() {
            return attrTimeout >= 0 ? attrTimeout : binding == Binding.DEV_FUSE ? 3600 : 1;
        }

        public Options withBinding(Binding value) {
            return new Options(value, singleThreaded, attrTimeout, entryTimeout, negativeTimeout, cacheSize, debug,
                    volatileMount);
        }

        public Options withSingleThreaded(boolean value) {
            return new Options(binding, value, attrTimeout, entryTimeout, negativeTimeout, cacheSize, debug, volatileMount);
        }

        public Options withAttrTimeout(double seconds) {
            return new Options(binding, singleThreaded, seconds, entryTimeout, negativeTimeout, cacheSize, debug,
                    volatileMount);
        }

        public Options withDebug(boolean value) {
            return new Options(binding, singleThreaded, attrTimeout, entryTimeout, negativeTimeout, cacheSize, value,
                    volatileMount);
        }

        /**
         * A volatile mount, as kernel overlayfs's {@code volatile}: no fsync at all (not of copy-ups, not the
         * callers'), so a crash may lose what was written; marked in the work directory meanwhile
         * ({@link io.layerfs.overlay.union.VolatileMark}).
         */
        public Options withVolatile(boolean value) {
            return new Options(binding, singleThreaded, attrTimeout, entryTimeout, negativeTimeout, cacheSize, debug, value);
        }
    }

    /**
     * How the filesystem talks to the kernel: libfuse 2's high-level API through jnr-fuse, or the FUSE
     * protocol on /dev/fuse directly (node ids, READDIRPLUS, 1 MiB requests, no libfuse in between).
     */
    public enum Binding {
        JNR_FUSE("jnr-fuse"), DEV_FUSE("dev-fuse");

        public final String label;

        Binding(String label) {
            this.label = label;
        }

        public static Binding parse(String label) {
            for (Binding b : values()) {
                if (b.label.equals(label)) {
                    return b;
                }
            }
            throw new IllegalArgumentException("unknown binding '" + label + "': use jnr-fuse or dev-fuse");
        }

        /**
         * The binding used when none is asked for: dev-fuse where it can mount (as root, which mount(2) needs, with
         * /dev/fuse present), else jnr-fuse, whose fusermount lets other users mount. The layerfs.binding system
         * property overrides it (tests).
         */
        public static Binding defaultBinding() {
            String p = System.getProperty("layerfs.binding");
            if (p != null) {
                return parse(p);
            }
            return isRoot() && Files.exists(Path.of("/dev/fuse")) ? DEV_FUSE : JNR_FUSE;
        }

        /** The effective uid is 0: /proc/self belongs to it (no libc needed, which the CLI does not load). */
        private static boolean isRoot() {
            try {
                return Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
            } catch (java.io.IOException | UnsupportedOperationException e) {
                return false;
            }
        }
    }

    public OverlayConfig {
        upper = real(upper);
        work = real(work);
        lowers = lowers.stream().map(OverlayConfig::real).toList();
    }

    private static Path real(Path p) {
        return Mounts.canonical(p);
    }

    public OverlayConfig(List<Path> lowers, Path upper, Path work) {
        this(lowers, upper, work, Options.defaults());
    }

    /** Checks every directory and the mountpoint; throws {@link OverlayConfigException} with one line. */
    public void validate(Path mountpoint) {
        if (lowers.isEmpty()) {
            throw new OverlayConfigException("at least one lower directory is required");
        }
        List<Path> all = new ArrayList<>(lowers);
        for (Path lower : lowers) {
            requireDir("lower", lower, Posix.R_OK | Posix.X_OK);
        }
        Stat upperStat = requireDir("upper", upper, Posix.R_OK | Posix.W_OK | Posix.X_OK);
        Stat workStat = requireDir("work", work, Posix.R_OK | Posix.W_OK | Posix.X_OK);
        if (upperStat.dev() != workStat.dev()) {
            throw new OverlayConfigException("work directory " + work + " is not on the same filesystem as upper " + upper);
        }
        if (upper.startsWith(work) || work.startsWith(upper)) {
            throw new OverlayConfigException("upper " + upper + " and work " + work + " must not contain each other");
        }
        for (Path lower : lowers) {
            if (lower.startsWith(upper) || upper.startsWith(lower)) {
                throw new OverlayConfigException("lower " + lower + " and upper " + upper + " must not contain each other");
            }
        }
        all.add(upper);
        all.add(work);
        Path mnt = real(mountpoint);
        requireDir("mountpoint", mnt, Posix.R_OK | Posix.X_OK);
        // by identity, not by name: a bind mount or a symlink can put a layer's directory under another path
        for (Path dir : all) {
            Stat layer = Posix.lstat(ByteString.of(dir));
            for (Path p = mnt; p != null; p = p.getParent()) {
                Stat st = Posix.lstatOrNull(ByteString.of(p));
                if (st != null && st.dev() == layer.dev() && st.ino() == layer.ino()) {
                    throw new OverlayConfigException("mountpoint " + mnt + " lies inside layer directory " + dir);
                }
            }
        }
        if (Mounts.isMountpoint(mnt)) {
            throw new OverlayConfigException("mountpoint " + mnt + " is already a mount point");
        }
        String scratch = ByteString.of(work) + "/" + OverlayFs.SCRATCH_DIR;
        if (VolatileMark.leftByACrash(scratch)) {
            String mark = VolatileMark.path(scratch);
            throw new OverlayConfigException("upper " + upper + " was mounted volatile and not unmounted cleanly, so "
                    + "it may have lost writes; start from a new upper and work, or remove " + mark + " to mount it anyway");
        }
    }

    private static Stat requireDir(String role, Path dir, int access) {
        String real = ByteString.of(dir);
        Stat st = Posix.lstatOrNull(real);
        if (st == null) {
            throw new OverlayConfigException(role + " directory " + dir + " does not exist");
        }
        if (!st.isDir()) {
            throw new OverlayConfigException(role + " " + dir + " is not a directory");
        }
        try {
            Posix.access(real, access);
            Posix.list(real);
        } catch (Errno e) {
            throw new OverlayConfigException(role + " directory " + dir + " is not accessible: " + Errno.name(e.errno));
        }
        return st;
    }
}
