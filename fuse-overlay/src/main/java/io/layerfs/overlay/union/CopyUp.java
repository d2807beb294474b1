package io.layerfs.overlay.union;

import io.layerfs.layer.OverlayFormat;
import io.layerfs.posix.Errno;
import io.layerfs.posix.Posix;
import io.layerfs.posix.Stat;
import io.layerfs.posix.Trees;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;

/**
 * Copies a lower object into the upper, parents first. The copy is built in the work directory (data, owner,
 * mode, times, xattrs, origin inode; fsynced, but on a volatile mount) and put into the upper in one step
 * (a link of an unnamed file, or a rename), so a copy-up is visible only when complete. Data moves in the kernel
 * with copy_file_range, extent by extent, so holes stay holes.
 */
final class CopyUp {
    /** Bytes above which a copy counts as long work (at disk speed, a few milliseconds). */
    private static final long LONG_COPY = 1 << 20;
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
        return copyUp(node, withData, null);
    }

    /** As {@link #copyUp(Node, boolean)}, taking the data from {@code staged} if it is a copy of this file's. */
    String copyUp(Node node, boolean withData, Staged staged) {
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
            upperParent = copyUpInto(missing.pop(), upperParent, false, null);
        }
        return copyUpInto(node, upperParent, withData, staged);
    }

    /**
     * A large lower file's data, copied ahead into an unnamed file in the work directory while the caller holds
     * no lock, so that a copy-up of gigabytes does not stop the rest of the mount. The copy-up itself then only
     * sets the attributes and links the file, if the lower file is still the one copied. Closing discards a copy
     * that was not used: two writers opening one large lower file at once each copy it, and the second copy-up
     * finds the file in the upper already.
     */
    static final class Staged implements AutoCloseable {
        private final Stat st;
        private int fd;

        private Staged(Stat st, int fd) {
            this.st = st;
            this.fd = fd;
        }

        /** The staged file, if it holds the data of the lower file as it is now ({@code now}); else -1. */
        private int take(Stat now) {
            boolean same = st.dev() == now.dev() && st.ino() == now.ino() && st.size() == now.size()
                    && st.mtimeSec() == now.mtimeSec() && st.mtimeNsec() == now.mtimeNsec();
            int taken = same ? fd : -1;
            if (same) {
                fd = -1;
            }
            return taken;
        }

        @Override
        public void close() {
            if (fd >= 0) {
                Posix.close(fd);
                fd = -1;
            }
        }
    }

    /**
     * Copies the data of a large lower file ahead of its copy-up (the caller holds no lock: lower files do not
     * change). Null when there is nothing to stage: the node is in the upper, is not a regular file of more
     * than {@link #LONG_COPY} bytes, or the work directory has no O_TMPFILE.
     */
    Staged stage(Node node) {
        if (node.inUpper()) {
            return null;
        }
        Stat st = Posix.lstat(node.real);
        if (!st.isRegular() || st.size() <= LONG_COPY) {
            return null;
        }
        int out = Posix.openTmpfileOrErrno(scratch.dir(), 0600);
        if (out < 0) {
            return null;
        }
        try {
            copyData(node.real, out, st);
            if (sync) {
                Posix.fsync(out, true); // the data now; the attributes are fsynced with the copy-up
            }
        } catch (RuntimeException e) {
            Posix.close(out);
            throw e;
        }
        return new Staged(st, out);
    }

    /** Copies up one object whose parent's upper directory is {@code upperParent}. */
    private String copyUpInto(Node node, String upperParent, boolean withData, Staged staged) {
        String target = LayerStack.join(upperParent, MergedPath.name(node.path));
        Stat st = Posix.lstat(node.real);
        Stat parent = Posix.lstat(upperParent);
        if (st.isRegular()) {
            copyFile(node, target, st, withData, staged);
        } else {
            copyOther(node, target, st);
        }
        // as overlayfs: a copy-up is not a change of the directory, so its times stay
        Posix.lutimens(upperParent, parent.atimeSec(), parent.atimeNsec(), parent.mtimeSec(), parent.mtimeNsec());
        resolver.invalidate(node.path);
        if (st.isRegular()) {
            openFiles.repoint(node.real, target);
        }
        return target;
    }

    /**
     * A regular file, built as overlayfs builds it: in an unnamed O_TMPFILE file in the work directory, linked
     * into place when complete, so a crash leaves nothing behind. Where the filesystem has no O_TMPFILE, it is
     * built under a scratch name and renamed into place (a crash leaves it to the next mount's scratch reset).
     */
    private void copyFile(Node node, String target, Stat st, boolean withData, Staged staged) {
        String tmp = null;
        int out = withData && staged != null ? staged.take(st) : -1;
        boolean hasData = out >= 0;
        if (out < 0) {
            out = Posix.openTmpfileOrErrno(scratch.dir(), 0600);
        }
        if (out < 0) {
            tmp = scratch.newName();
            out = Posix.open(tmp, Posix.O_WRONLY | Posix.O_CREAT | Posix.O_EXCL, 0600);
        }
        try {
            if (withData && st.size() > 0 && !hasData) {
                copyData(node.real, out, st);
            }
            copyAttributes(node.real, st, node.ino, new FileAttrs(out));
            if (sync) {
                Posix.fsync(out, false);
            }
            if (tmp == null) {
                Posix.linkFd(out, target);
            } else {
                Posix.rename(tmp, target);
            }
        } catch (RuntimeException e) {
            if (tmp != null) {
                Trees.removeQuietly(tmp);
            }
            throw e;
        } finally {
            Posix.close(out);
        }
    }

    /** A directory (empty: its lower contents stay merged), symlink or device, renamed into place when complete. */
    private void copyOther(Node node, String target, Stat st) {
        String tmp = scratch.newName();
        try {
            switch (st.type()) {
                case Stat.S_IFDIR -> Posix.mkdir(tmp, 0700);
                case Stat.S_IFLNK -> Posix.symlink(Posix.readlink(node.real), tmp);
                default -> Posix.mknod(tmp, st.mode(), st.rdev());
            }
            copyAttributes(node.real, st, node.ino, new PathAttrs(tmp));
            Posix.rename(tmp, target);
        } catch (RuntimeException e) {
            Trees.removeQuietly(tmp);
            throw e;
        }
    }

    /** Owner, mode, xattrs (not overlay's own), the origin inode, then times last (the others change ctime only). */
    private static void copyAttributes(String from, Stat st, long originIno, Attrs to) {
        for (String name : Posix.llistxattr(from)) {
            if (!OverlayFormat.isPrivateXattr(name)) {
                byte[] value = Posix.lgetxattr(from, name);
                if (value != null) {
                    to.setxattr(name, value);
                }
            }
        }
        to.setxattr(Resolver.ORIGIN_XATTR, Long.toString(originIno).getBytes(StandardCharsets.US_ASCII));
        to.chown(st.uid(), st.gid());
        if (!st.isSymlink()) {
            to.chmod(st.permissions()); // after chown, which clears setuid/setgid
        }
        to.setTimes(st);
    }

    /** Where a copy's attributes are set: a path (a final symlink not followed), or an open file. */
    private interface Attrs {
        void setxattr(String name, byte[] value);

        void chown(int uid, int gid);

        void chmod(int mode);

        /** atime and mtime as in {@code st}. */
        void setTimes(Stat st);
    }

    private record PathAttrs(String path) implements Attrs {
        public void setxattr(String name, byte[] value) {
            Posix.lsetxattr(path, name, value, 0);
        }

        public void chown(int uid, int gid) {
            Posix.lchown(path, uid, gid);
        }

        public void chmod(int mode) {
            Posix.chmod(path, mode);
        }

        public void setTimes(Stat st) {
            Posix.lutimens(path, st.atimeSec(), st.atimeNsec(), st.mtimeSec(), st.mtimeNsec());
        }
    }

    private record FileAttrs(int fd) implements Attrs {
        public void setxattr(String name, byte[] value) {
            Posix.fsetxattr(fd, name, value, 0);
        }

        public void chown(int uid, int gid) {
            Posix.fchown(fd, uid, gid);
        }

        public void chmod(int mode) {
            Posix.fchmod(fd, mode);
        }

        public void setTimes(Stat st) {
            Posix.futimens(fd, st.atimeSec(), st.atimeNsec(), st.mtimeSec(), st.mtimeNsec());
        }
    }

    /**
     * The data of lower file {@code from} into {@code out}, whose position is 0: in one run when the file has
     * no holes (its blocks cover its size), else extent by extent, so holes stay holes.
     */
    private static void copyData(String from, int out, Stat st) {
        if (st.size() > LONG_COPY) {
            LongWork.begin();
        }
        int in = Posix.open(from, Posix.O_RDONLY, 0);
        try {
            if (st.blocks() * 512 >= st.size()) {
                copyRange(in, out, 0, st.size());
            } else {
                copyExtents(in, out, st.size());
                Posix.ftruncate(out, st.size()); // a trailing hole
            }
        } finally {
            Posix.close(in);
        }
    }

    /** Copies only the data extents (SEEK_DATA/SEEK_HOLE). */
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
            copyRange(in, out, data, end);
            offset = end;
        }
    }

    /** Bytes {@code from} to {@code end}, both files' positions at {@code from}: in the kernel where it can. */
    private static void copyRange(int in, int out, long from, long end) {
        long remaining = end - from;
        while (remaining > 0) {
            long n;
            try {
                n = Posix.copyFileRange(in, out, Math.min(remaining, CHUNK));
            } catch (Errno e) {
                if (e.errno != Errno.EXDEV && e.errno != Errno.EINVAL && e.errno != Errno.EOPNOTSUPP) {
                    throw e;
                }
                // layers on filesystems that cannot copy between each other: copy through a buffer
                Posix.copyThroughBuffer(in, out, end - remaining, remaining);
                return;
            }
            if (n == 0) {
                throw new Errno(Errno.EIO, "copy-up: lower file shrank");
            }
            remaining -= n;
        }
    }
}
