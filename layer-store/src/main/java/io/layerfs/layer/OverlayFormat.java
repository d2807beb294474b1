package io.layerfs.layer;

import io.layerfs.posix.Posix;
import io.layerfs.posix.Stat;

import java.util.Arrays;

/**
 * The on-disk layer format shared with kernel overlayfs and OCI.
 * <p>Reads every form: whiteouts as char device 0/0 or {@code .wh.<name>} files; opaque directories as
 * {@code trusted.overlay.opaque=y}, {@code user.overlay.opaque=y} or a {@code .wh..wh..opq} file.
 * Writes the kernel's form: char 0/0 whiteouts and {@code trusted.overlay.opaque=y}.
 */
public final class OverlayFormat {
    public static final String OPAQUE_XATTR = "trusted.overlay.opaque";
    public static final String USER_OPAQUE_XATTR = "user.overlay.opaque";
    /** xattrs under this prefix belong to overlayfs (and layerfs) and are never shown to users. */
    public static final String PRIVATE_XATTR_PREFIX = "trusted.overlay.";
    public static final String OCI_WHITEOUT_PREFIX = ".wh.";
    public static final String OCI_OPAQUE_MARKER = ".wh..wh..opq";
    private static final byte[] YES = {'y'};

    private OverlayFormat() {
    }

    /** A kernel-form whiteout: a character device with device number 0/0. */
    public static boolean isWhiteout(Stat st) {
        return st.isCharDevice() && st.rdev() == 0;
    }

    /** Names reserved by the OCI whiteout convention; they never appear in a merged view. */
    public static boolean isOciMarkerName(String name) {
        return name.startsWith(OCI_WHITEOUT_PREFIX);
    }

    /** True when {@code dir/name} is hidden by an OCI {@code .wh.name} file in that same directory. */
    public static boolean hasOciWhiteout(String dir, String name) {
        return Posix.exists(dir + "/" + OCI_WHITEOUT_PREFIX + name);
    }

    /** True when the real directory {@code dir} is opaque in any of the three forms. */
    public static boolean isOpaque(String dir) {
        return Arrays.equals(YES, Posix.lgetxattr(dir, OPAQUE_XATTR))
                || Arrays.equals(YES, Posix.lgetxattr(dir, USER_OPAQUE_XATTR))
                || Posix.exists(dir + "/" + OCI_OPAQUE_MARKER);
    }

    /**
     * True when an upper directory is opaque: only the kernel's own form counts there, since
     * {@code user.overlay.opaque} is an ordinary xattr a user may set through the mount.
     */
    public static boolean isUpperOpaque(String dir) {
        return Arrays.equals(YES, Posix.lgetxattr(dir, OPAQUE_XATTR));
    }

    public static void markOpaque(String dir) {
        Posix.lsetxattr(dir, OPAQUE_XATTR, YES, 0);
    }

    /** Creates a kernel-form whiteout at {@code path}. */
    public static void makeWhiteout(String path) {
        Posix.mknod(path, Stat.S_IFCHR, 0);
    }

    public static boolean isPrivateXattr(String name) {
        return name.startsWith(PRIVATE_XATTR_PREFIX);
    }
}
