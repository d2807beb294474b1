package io.layerfs.overlay.union;

import io.layerfs.layer.OverlayFormat;
import io.layerfs.posix.Errno;
import io.layerfs.posix.Posix;
import io.layerfs.posix.Stat;
import io.layerfs.posix.Trees;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;

/**
 * Copies a lower object into the upper, parents first. The copy is built under a temporary name in the
 * work directory (data, owner, mode, times, xattrs, origin inode; fsynced, but on a volatile mount) and
 * renamed into the upper in one step, so a copy-up is visible only when complete. Data moves in the kernel
 * with copy_file_range, extent by extent, so holes stay holes.
 */
final class CopyUp {
    private static final long CHUNK = 1L << 30;

    private final Resolver resolver;
    private final Scratch scratch;
    private final OpenFiles openFiles;
    /** Whether a copy's data is fsynced before it is renamed into place (all but volatile mounts). */
    private final boolean sync;

    CopyUp(Resolver resolver, Scratch scratch, OpenFiles openFiles, boolean sync) {
        this.sync = sync;
        this.resolver = resolver;
        this.scratch = scratch;
        this.openFiles = openFiles;
    }

    /**
     * Makes sure {@code node} has an upper object and returns its real path. Directories get an empty
     * upper directory (their lower contents stay merged); files get their data unless {@code withData} is
     * false (an O_TRUNC open or a truncate to zero discards it anyway). Caller holds the write lock.
     */
    String copyUp(Node node, boolean withData) {
        if (node.inUpper()) {
            return node.real;
        }
        // parents first, top-down from the nearest one in the upper; a loop, not recursion, since a hostile
        // layer may be thousands of directories deep
        ArrayDeque<Node> missing = new ArrayDeque<>();
        Node parent = resolver.resolve(MergedPath.parent(node.path));
        while (!parent.inUpper()) {
            missing.push(parent);
            parent = resolver.resolve(MergedPath.parent(parent.path));
        }
        String upperParent = parent.real;
        while (!missing.isEmpty()) {
            upperParent = copyUpInto(missing.pop(), upperParent, false);
        }
        return copyUpInto(node, upperParent, withData);
    }

    /** Copies up one object whose parent's upper directory is {@code upperParent}. */
    private String copyUpInto(Node node, String upperParent, boolean withData) {
        String target = LayerStack.join(upperParent, MergedPath.name(node.path));
        Stat st = Posix.lstat(node.real);
        String tmp = scratch.newName();
        try {
            switch (st.type()) {
                case Stat.S_IFREG -> copyFile(node.real, tmp, st, withData, sync);
                case Stat.S_IFDIR -> Posix.mkdir(tmp, 0700);
                case Stat.S_IFLNK -> Posix.symlink(Posix.readlink(node.real), tmp);
                default -> Posix.mknod(tmp, st.mode(), st.rdev());
            }
            copyAttributes(node.real, tmp, st, node.ino);
            Stat parent = Posix.lstat(upperParent);
            Posix.rename(tmp, target);
            // as overlayfs: a copy-up is not a change of the directory, so its times stay
            Posix.lutimens(upperParent, parent.atimeSec(), parent.atimeNsec(), parent.mtimeSec(), parent.mtimeNsec());
        } catch (RuntimeException e) {
            Trees.removeQuietly(tmp);
            throw e;
        }
        resolver.invalidate(node.path);
        if (st.isRegular()) {
            openFiles.repoint(node.real, target);
        }
        return target;
    }

    /** Owner, mode, xattrs (not overlay's own), the origin inode, then times last (the others change ctime only). */
    static void copyAttributes(String from, String to, Stat st, long originIno) {
        for (String name : Posix.llistxattr(from)) {
            if (!OverlayFormat.isPrivateXattr(name)) {
                byte[] value = Posix.lgetxattr(from, name);
                if (value != null) {
                    Posix.lsetxattr(to, name, value, 0);
                }
            }
        }
        Posix.lsetxattr(to, Resolver.ORIGIN_XATTR, Long.toString(originIno).getBytes(StandardCharsets.US_ASCII), 0);
        Posix.lchown(to, st.uid(), st.gid());
        if (!st.isSymlink()) {
            Posix.chmod(to, st.permissions()); // after chown, which clears setuid/setgid
        }
        Posix.lutimens(to, st.atimeSec(), st.atimeNsec(), st.mtimeSec(), st.mtimeNsec());
    }

    private static void copyFile(String from, String to, Stat st, boolean withData, boolean sync) {
        int out = Posix.open(to, Posix.O_WRONLY | Posix.O_CREAT | Posix.O_EXCL, 0600);
        try {
            if (withData && st.size() > 0) {
                int in = Posix.open(from, Posix.O_RDONLY, 0);
                try {
                    copyExtents(in, out, st.size());
                } finally {
                    Posix.close(in);
                }
                Posix.ftruncate(out, st.size());
            }
            if (sync) {
                Posix.fsync(out, false);
            }
        } finally {
            Posix.close(out);
        }
    }

    /** Copies only the data extents (SEEK_DATA/SEEK_HOLE), so a sparse file stays sparse. */
    private static void copyExtents(int in, int out, long size) {
        long offset = 0;
        while (offset < size) {
            long data = Posix.lseek(in, offset, Posix.SEEK_DATA);
            if (data < 0) {
                break; // only a hole remains; ftruncate sets the size
            }
            long hole = Posix.lseek(in, data, Posix.SEEK_HOLE);
            long end = hole < 0 ? size : Math.min(hole, size);
            Posix.lseek(in, data, Posix.SEEK_SET);
            Posix.lseek(out, data, Posix.SEEK_SET);
            long remaining = end - data;
            while (remaining > 0) {
                long n;
                try {
                    n = Posix.copyFileRange(in, out, Math.min(remaining, CHUNK));
                } catch (Errno e) {
                    if (e.errno != Errno.EXDEV && e.errno != Errno.EINVAL && e.errno != Errno.EOPNOTSUPP) {
                        throw e;
                    }
                    // layers on filesystems that cannot copy between each other: copy through a buffer
                    long at = end - remaining;
                    Posix.copyThroughBuffer(in, out, at, remaining);
                    break;
                }
                if (n == 0) {
                    throw new Errno(Errno.EIO, "copy-up: lower file shrank");
                }
                remaining -= n;
            }
            offset = end;
        }
    }
}
