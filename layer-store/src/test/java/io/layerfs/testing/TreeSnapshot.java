package io.layerfs.testing;

import io.layerfs.layer.OverlayFormat;
import io.layerfs.posix.ByteString;
import io.layerfs.posix.Posix;
import io.layerfs.posix.Stat;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;

import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A comparable description of a directory tree, read with lstat (never following symlinks): per path its
 * type, mode, owner, size, content hash, link target, device number, nlink and user-visible xattrs.
 * Used to compare a layerfs mount with a kernel overlayfs mount, and their upper directories.
 */
public final class TreeSnapshot {
    /** What to include beyond the basics. */
    public record Options(boolean nlink, boolean overlayXattrs, boolean fileMtimes) {
        /** For merged views: nlink too, no overlay xattrs (neither mount shows them). */
        public static final Options MERGED = new Options(true, false, true);
        /** For upper dirs: the opaque marker matters, private bookkeeping (origin, ...) does not. */
        public static final Options UPPER = new Options(false, true, true);
    }

    private TreeSnapshot() {
    }

    public static Map<String, String> of(Path root, Options options) {
        Map<String, String> out = new TreeMap<>();
        walk(ByteString.of(root), "", options, out);
        return out;
    }

    private static void walk(String root, String rel, Options o, Map<String, String> out) {
        String real = rel.isEmpty() ? root : root + "/" + rel;
        Stat st = Posix.lstat(real);
        StringBuilder d = new StringBuilder();
        d.append(typeName(st)).append(' ').append(Integer.toOctalString(st.permissions()))
                .append(' ').append(st.uid()).append(':').append(st.gid());
        if (o.nlink && !st.isDir()) {
            d.append(" nlink=").append(st.nlink());
        }
        if (st.isRegular()) {
            d.append(" size=").append(st.size()).append(" sha256=").append(sha256(real));
            if (o.fileMtimes) {
                d.append(" mtime=").append(st.mtimeSec());
            }
        } else if (st.isSymlink()) {
            d.append(" -> ").append(ByteString.display(Posix.readlink(real)));
        } else if (st.type() == Stat.S_IFCHR || st.type() == Stat.S_IFBLK) {
            d.append(" rdev=").append(Long.toHexString(st.rdev()));
        }
        List<String> names = Posix.llistxattr(real);
        names.sort(null);
        for (String name : names) {
            boolean overlay = OverlayFormat.isPrivateXattr(name);
            if (overlay && !(o.overlayXattrs && name.equals(OverlayFormat.OPAQUE_XATTR))) {
                continue;
            }
            byte[] v = Posix.lgetxattr(real, name);
            d.append(" xattr:").append(name).append('=').append(v == null ? "" : ByteString.display(
                    new String(v, java.nio.charset.StandardCharsets.ISO_8859_1)));
        }
        out.put(rel.isEmpty() ? "." : ByteString.display(rel), d.toString());
        if (st.isDir()) {
            for (var e : Posix.list(real)) {
                walk(root, rel.isEmpty() ? e.name() : rel + "/" + e.name(), o, out);
            }
        }
    }

    private static String typeName(Stat st) {
        return switch (st.type()) {
            case Stat.S_IFREG -> "file";
            case Stat.S_IFDIR -> "dir";
            case Stat.S_IFLNK -> "symlink";
            case Stat.S_IFIFO -> "fifo";
            case Stat.S_IFCHR -> OverlayFormat.isWhiteout(st) ? "whiteout" : "chardev";
            case Stat.S_IFBLK -> "blockdev";
            case Stat.S_IFSOCK -> "socket";
            default -> "unknown";
        };
    }

    private static String sha256(String real) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            int fd = Posix.open(real, Posix.O_RDONLY, 0);
            try {
                Pointer buf = Memory.allocateDirect(Posix.runtime(), 1 << 16);
                byte[] chunk = new byte[1 << 16];
                long off = 0;
                long n;
                while ((n = Posix.pread(fd, buf, chunk.length, off)) > 0) {
                    buf.get(0, chunk, 0, (int) n);
                    md.update(chunk, 0, (int) n);
                    off += n;
                }
            } finally {
                Posix.close(fd);
            }
            return HexFormat.of().formatHex(md.digest()).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
