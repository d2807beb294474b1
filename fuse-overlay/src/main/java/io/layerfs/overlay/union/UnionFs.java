package io.layerfs.overlay.union;

import io.layerfs.layer.MergedListing;
import io.layerfs.layer.MergedLookup;
import io.layerfs.layer.OverlayFormat;
import io.layerfs.posix.Errno;
import io.layerfs.posix.Posix;
import io.layerfs.posix.Stat;
import io.layerfs.posix.Trees;
import jnr.ffi.Pointer;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;

/**
 * The union filesystem's operations on merged paths, independent of any FUSE binding. Each method
 * resolves, copies up or creates in the upper as overlayfs would, performs the syscall on the real file,
 * and throws {@link Errno} on failure.
 * <p>Locking: lookups and reads hold the read lock; anything that changes the upper holds the write lock
 * (one lock, so two-path operations cannot deadlock). Data reads and writes on open handles take no lock.
 * A thread that has to wait for the lock says so first ({@link LongWork}), as does a large copy-up.
 */
public final class UnionFs {
    private final LayerStack stack;
    private final Resolver resolver;
    private final Scratch scratch;
    private final OpenFiles files = new OpenFiles();
    private final CopyUp copyUp;
    private final Whiteouts whiteouts;
    private final Lock readLock;
    private final Lock writeLock;
    /** This process's umask; new objects' modes arrive with the caller's umask applied, so ours is undone. */
    private final int umask;
    /** Whether this daemon makes new objects owned by 0:0, as a root caller wants them. */
    private final boolean createsAsRoot = Posix.createsAsRoot();
    /** A volatile mount ({@link VolatileMark}): nothing is fsynced. */
    private final boolean volatileMount;

    public UnionFs(LayerStack stack, long cacheSize) {
        this(stack, cacheSize, false);
    }

    public UnionFs(LayerStack stack, long cacheSize, boolean volatileMount) {
        this.stack = stack;
        this.volatileMount = volatileMount;
        this.resolver = new Resolver(stack, cacheSize);
        this.scratch = new Scratch(stack.scratch());
        this.copyUp = new CopyUp(resolver, scratch, files, !volatileMount);
        this.whiteouts = new Whiteouts(scratch);
        ReentrantReadWriteLock rw = new ReentrantReadWriteLock();
        this.readLock = rw.readLock();
        this.writeLock = rw.writeLock();
        int old = Posix.umask(0);
        Posix.umask(old);
        this.umask = old;
        scratch.reset();
        if (volatileMount) {
            VolatileMark.set(scratch.dir());
        }
    }

    public OpenFiles files() {
        return files;
    }

    /** Takes the lock; if another request holds it, first tells the binding this thread is about to wait. */
    private static void acquire(Lock lock) {
        if (!lock.tryLock()) {
            LongWork.begin();
            lock.lock();
        }
    }

    // ---------------------------------------------------------------- lookups

    /** The node of an existing path; ENOENT otherwise. */
    public Node lookup(String path) {
        acquire(readLock);
        try {
            return existing(path);
        } finally {
            readLock.unlock();
        }
    }

    public boolean exists(String path) {
        acquire(readLock);
        try {
            return resolver.resolve(path).exists();
        } finally {
            readLock.unlock();
        }
    }

    /**
     * lstat of the merged object straight into a native struct stat, with the stable inode number. Returns
     * the real inode number of a non-directory in the upper (its identity among hard links: FIFOs, symlinks and
     * device nodes can be linked too), else 0.
     */
    public long statInto(String path, Pointer statbuf) {
        acquire(readLock);
        try {
            Resolver.forgetFresh();
            Node n = existing(path);
            Stat fresh = Resolver.freshStat(n); // just looked up (a cache miss): its lstat is this moment's
            if (fresh != null) {
                fresh.writeTo(statbuf);
            } else {
                Posix.lstatInto(n.real, statbuf);
            }
            long realIno = statbuf.getLong(Stat.OFF_INO);
            statbuf.putLong(Stat.OFF_INO, n.ino);
            if (n.isMergedDir()) {
                statbuf.putLong(Stat.OFF_NLINK, 1); // as overlayfs: a merged dir's link count is unknown
            }
            return n.inUpper() && (statbuf.getInt(Stat.OFF_MODE) & Stat.S_IFMT) != Stat.S_IFDIR ? realIno : 0;
        } finally {
            readLock.unlock();
        }
    }

    public void fstatInto(OpenFile f, Pointer statbuf) {
        Posix.fstatInto(f.fd(), statbuf);
        statbuf.putLong(Stat.OFF_INO, f.ino);
    }

    public String readlink(String path) {
        acquire(readLock);
        try {
            Node n = existing(path);
            if (!n.isSymlink()) {
                throw new Errno(Errno.EINVAL, "readlink " + path);
            }
            return Posix.readlink(n.real);
        } finally {
            readLock.unlock();
        }
    }

    /**
     * The merged directory's entries with their inode numbers and types, from readdir itself: no lstat per
     * entry. An entry found in the upper may be a copy-up, whose inode number is its origin's.
     */
    public DirListing readdir(String path) {
        acquire(readLock);
        try {
            Node dir = existing(path);
            if (!dir.isDir()) {
                throw new Errno(Errno.ENOTDIR, "readdir " + path);
            }
            List<MergedListing.Entry> entries = MergedListing.entries(dir.dirs);
            List<DirListing.Entry> out = new ArrayList<>(entries.size());
            for (MergedListing.Entry e : entries) {
                long ino = e.ino();
                if (dir.dirLayers[e.dir()] == LayerStack.UPPER) {
                    ino = resolver.originOr(LayerStack.join(dir.dirs[e.dir()], e.name()), ino);
                }
                out.add(new DirListing.Entry(e.name(), ino, e.type()));
            }
            long parentIno = path.equals("/") ? dir.ino : resolver.resolve(MergedPath.parent(path)).ino;
            return new DirListing(dir.ino, parentIno, out);
        } finally {
            readLock.unlock();
        }
    }

    public void statvfsInto(Pointer buf) {
        Posix.statvfsInto(stack.upper(), buf);
    }

    // ---------------------------------------------------------------- xattrs

    public byte[] getxattr(String path, String name) {
        if (OverlayFormat.isPrivateXattr(name)) {
            throw new Errno(Errno.EOPNOTSUPP, "getxattr " + name);
        }
        acquire(readLock);
        try {
            byte[] value = Posix.lgetxattr(existing(path).real, name);
            if (value == null) {
                throw new Errno(Errno.ENODATA, "getxattr " + name);
            }
            return value;
        } finally {
            readLock.unlock();
        }
    }

    public List<String> listxattr(String path) {
        acquire(readLock);
        try {
            List<String> names = Posix.llistxattr(existing(path).real);
            names.removeIf(OverlayFormat::isPrivateXattr);
            return names;
        } finally {
            readLock.unlock();
        }
    }

    public void setxattr(String path, String name, byte[] value, int flags) {
        if (OverlayFormat.isPrivateXattr(name)) {
            throw new Errno(Errno.EOPNOTSUPP, "setxattr " + name);
        }
        acquire(writeLock);
        try {
            Posix.lsetxattr(copyUp.copyUp(existing(path), true), name, value, flags);
            resolver.invalidate(path);
        } finally {
            writeLock.unlock();
        }
    }

    public void removexattr(String path, String name) {
        if (OverlayFormat.isPrivateXattr(name)) {
            throw new Errno(Errno.EOPNOTSUPP, "removexattr " + name);
        }
        acquire(writeLock);
        try {
            Node n = existing(path);
            if (Posix.lgetxattr(n.real, name) == null) {
                throw new Errno(Errno.ENODATA, "removexattr " + name); // nothing to remove: no copy-up
            }
            Posix.lremovexattr(copyUp.copyUp(n, true), name);
        } finally {
            writeLock.unlock();
        }
    }

    // ---------------------------------------------------------------- attributes (copy-up, then change)

    public void chmod(String path, int mode) {
        acquire(writeLock);
        try {
            Node n = existing(path);
            if (n.isSymlink()) {
                throw new Errno(Errno.EOPNOTSUPP, "chmod on a symlink " + path); // chmod(2) would follow it
            }
            Posix.chmod(copyUp.copyUp(n, true), mode & 07777);
        } finally {
            writeLock.unlock();
        }
    }

    // ------------------------------------------- through an open upper file (one whose last name may be gone)

    /** chmod of a file open in the upper, by its descriptor: it may have no name any more (unlinked while open). */
    public void fchmod(OpenFile f, int mode) {
        Posix.fchmod(f.fd(), mode & 07777);
    }

    /** uid or gid -1 leaves that id unchanged. */
    public void fchown(OpenFile f, int uid, int gid) {
        Posix.fchown(f.fd(), uid, gid);
    }

    /** Times as for futimens: nsec may be UTIME_NOW or UTIME_OMIT. */
    public void futimens(OpenFile f, long atimeSec, long atimeNsec, long mtimeSec, long mtimeNsec) {
        Posix.futimens(f.fd(), atimeSec, atimeNsec, mtimeSec, mtimeNsec);
    }

    public byte[] fgetxattr(OpenFile f, String name) {
        if (OverlayFormat.isPrivateXattr(name)) {
            throw new Errno(Errno.EOPNOTSUPP, "getxattr " + name);
        }
        byte[] value = Posix.fgetxattr(f.fd(), name);
        if (value == null) {
            throw new Errno(Errno.ENODATA, "getxattr " + name);
        }
        return value;
    }

    public List<String> flistxattr(OpenFile f) {
        List<String> names = Posix.flistxattr(f.fd());
        names.removeIf(OverlayFormat::isPrivateXattr);
        return names;
    }

    public void fsetxattr(OpenFile f, String name, byte[] value, int flags) {
        if (OverlayFormat.isPrivateXattr(name)) {
            throw new Errno(Errno.EOPNOTSUPP, "setxattr " + name);
        }
        Posix.fsetxattr(f.fd(), name, value, flags);
    }

    public void fremovexattr(OpenFile f, String name) {
        if (OverlayFormat.isPrivateXattr(name)) {
            throw new Errno(Errno.EOPNOTSUPP, "removexattr " + name);
        }
        Posix.fremovexattr(f.fd(), name);
    }

    // ------------------------------------------------------------------------------------------------------

    /** uid or gid -1 leaves that id unchanged. */
    public void chown(String path, int uid, int gid) {
        acquire(writeLock);
        try {
            Posix.lchown(copyUp.copyUp(existing(path), true), uid, gid);
        } finally {
            writeLock.unlock();
        }
    }

    /** Times as for utimensat: nsec may be UTIME_NOW or UTIME_OMIT. */
    public void utimens(String path, long atimeSec, long atimeNsec, long mtimeSec, long mtimeNsec) {
        acquire(writeLock);
        try {
            Posix.lutimens(copyUp.copyUp(existing(path), true), atimeSec, atimeNsec, mtimeSec, mtimeNsec);
        } finally {
            writeLock.unlock();
        }
    }

    public void truncate(String path, long size) {
        try (CopyUp.Staged staged = size > 0 ? stageAhead(path) : null) {
            acquire(writeLock);
            try {
                Node n = existing(path);
                if (n.isDir()) {
                    throw new Errno(Errno.EISDIR, "truncate " + path);
                }
                Posix.truncate(copyUp.copyUp(n, size > 0, staged), size);
            } finally {
                writeLock.unlock();
            }
        }
    }

    /**
     * Before a copy-up that keeps the data: copies a large lower file's data ahead, without holding the lock,
     * so that other requests go on meanwhile (null if there is nothing to stage).
     */
    private CopyUp.Staged stageAhead(String path) {
        Node n;
        acquire(readLock);
        try {
            n = resolver.resolve(path);
        } finally {
            readLock.unlock();
        }
        return n.exists() ? copyUp.stage(n) : null;
    }

    // ---------------------------------------------------------------- open files

    /**
     * Opens a file. Opening for writing (or with O_TRUNC) copies a lower file up first, without its data
     * when O_TRUNC would discard it; a large file's data is copied before the lock is taken ({@link #stageAhead}).
     * A read-only open reads the lower file in place. An O_TRUNC open by a caller other than root also clears
     * setuid (and setgid with group exec), as the VFS does for any truncation: with atomic_o_trunc the kernel
     * leaves that to us.
     */
    public OpenFile open(String path, int flags, Caller caller) {
        OpenFile f = openFile(path, flags);
        dropSetIdOnTruncate(f, flags, caller);
        return f;
    }

    /**
     * Opens again a file that is open in the upper: a file whose last name is gone can still be opened (through
     * /proc/PID/fd), and only a descriptor of it leads to it.
     */
    public OpenFile reopen(OpenFile open, int flags, Caller caller) {
        // the magic link leads to the open file itself: O_NOFOLLOW would refuse it
        int real = Posix.open("/proc/self/fd/" + open.fd(), backingFlags(flags) & ~Posix.O_NOFOLLOW, 0);
        OpenFile f = files.add(real, open.ino, null);
        dropSetIdOnTruncate(f, flags, caller);
        return f;
    }

    private static void dropSetIdOnTruncate(OpenFile f, int flags, Caller caller) {
        if ((flags & Posix.O_TRUNC) != 0 && caller.uid() != 0) {
            dropSetIds(f, caller); // the file opened (in the upper), whatever its name is by now
        }
    }

    /**
     * The set-id bits the VFS drops when {@code caller} writes, truncates or chowns regular file {@code st}
     * (setattr_should_drop_suidgid, for a caller without CAP_FSETID): set-user-id always; set-group-id with
     * group exec, or without it when the caller is not in the file's group.
     */
    private static int setIdsToDrop(Stat st, Caller caller) {
        if (!st.isRegular()) {
            return 0;
        }
        int m = st.permissions();
        boolean dropGid = (m & Stat.S_ISGID) != 0 && ((m & Stat.S_IXGRP) != 0 || !caller.inGroup(st.gid()));
        return (m & Stat.S_ISUID) | (dropGid ? Stat.S_ISGID : 0);
    }

    /**
     * Drops the set-id bits that a write, truncate or chown by {@code caller} drops, where the kernel leaves that
     * to the file system (FUSE's kill-priv): copied up only if there is a bit to drop.
     */
    public void dropSetIds(String path, Caller caller) {
        acquire(writeLock);
        try {
            Node n = existing(path);
            Stat st = Posix.lstat(n.real);
            int drop = setIdsToDrop(st, caller);
            if (drop != 0) {
                Posix.chmod(copyUp.copyUp(n, true), st.permissions() & ~drop);
            }
        } finally {
            writeLock.unlock();
        }
    }

    /** As {@link #dropSetIds(String, Caller)}, for a file open in the upper. */
    public static void dropSetIds(OpenFile f, Caller caller) {
        Stat st = Posix.fstat(f.fd());
        int drop = setIdsToDrop(st, caller);
        if (drop != 0) {
            Posix.fchmod(f.fd(), st.permissions() & ~drop);
        }
    }

    /** A caller's open flags as the real file is opened with: the creation and the caller-side flags dropped. */
    private static int backingFlags(int flags) {
        return flags & ~(Posix.O_CREAT | Posix.O_EXCL | Posix.O_NOCTTY | Posix.O_DIRECT | Posix.O_NOATIME);
    }

    private OpenFile openFile(String path, int flags) {
        int backingFlags = backingFlags(flags);
        boolean writes = (flags & Posix.O_ACCMODE) != Posix.O_RDONLY || (flags & Posix.O_TRUNC) != 0;
        if (!writes) {
            acquire(readLock);
            try {
                Node n = existing(path);
                if (n.inUpper()) {
                    return files.add(Posix.open(n.real, backingFlags, 0), n.ino, null);
                }
                return files.add(Posix.open(n.real, backingFlags, 0), n.ino, n.real);
            } finally {
                readLock.unlock();
            }
        }
        boolean keepsData = (flags & Posix.O_TRUNC) == 0;
        try (CopyUp.Staged staged = keepsData ? stageAhead(path) : null) {
            acquire(writeLock);
            try {
                Node n = existing(path);
                if (n.isDir()) {
                    throw new Errno(Errno.EISDIR, "open " + path);
                }
                String real = copyUp.copyUp(n, keepsData, staged);
                return files.add(Posix.open(real, backingFlags, 0), n.ino, null);
            } finally {
                writeLock.unlock();
            }
        }
    }

    /** Creates and opens a new regular file (the FUSE create operation). */
    public OpenFile create(String path, int mode, int flags, Caller caller) {
        acquire(writeLock);
        try {
            String real = place(path, caller, false, t -> Posix.mknod(t, Stat.S_IFREG | (mode & 07777), 0), mode);
            Node n = resolver.resolve(path);
            return files.add(Posix.open(real, backingFlags(flags) & ~Posix.O_TRUNC, 0), n.ino, null);
        } finally {
            writeLock.unlock();
        }
    }

    public void release(long handle) {
        files.release(handle);
    }

    // ---------------------------------------------------------------- new entries

    public void mknod(String path, int mode, long rdev, Caller caller) {
        acquire(writeLock);
        try {
            place(path, caller, false, t -> Posix.mknod(t, mode, rdev), mode);
        } finally {
            writeLock.unlock();
        }
    }

    public void mkdir(String path, int mode, Caller caller) {
        acquire(writeLock);
        try {
            place(path, caller, true, t -> Posix.mkdir(t, mode & 07777), mode);
        } finally {
            writeLock.unlock();
        }
    }

    public void symlink(String target, String path, Caller caller) {
        acquire(writeLock);
        try {
            place(path, caller, false, t -> Posix.symlink(target, t), 0);
        } finally {
            writeLock.unlock();
        }
    }

    /** A hard link: the source is copied up (data included), then linked in the upper. */
    public void link(String from, String to) {
        acquire(writeLock);
        try {
            Node src = existing(from);
            if (src.isDir()) {
                throw new Errno(Errno.EPERM, "link of a directory " + from);
            }
            checkCreatable(to);
            String srcReal = copyUp.copyUp(src, true);
            place(to, null, false, t -> Posix.link(srcReal, t), 0);
            resolver.invalidate(from);
        } finally {
            writeLock.unlock();
        }
    }

    // ---------------------------------------------------------------- removal

    public void unlink(String path) {
        acquire(writeLock);
        try {
            Node n = existing(path);
            if (n.isDir()) {
                throw new Errno(Errno.EISDIR, "unlink " + path);
            }
            remove(n);
            resolver.invalidate(path);
        } finally {
            writeLock.unlock();
        }
    }

    public void rmdir(String path) {
        acquire(writeLock);
        try {
            Node n = existing(path);
            if (!n.isDir()) {
                throw new Errno(Errno.ENOTDIR, "rmdir " + path);
            }
            if (path.equals("/")) {
                throw new Errno(Errno.EPERM, "rmdir /");
            }
            if (!MergedListing.isEmpty(n.dirs)) {
                throw new Errno(Errno.ENOTEMPTY, "rmdir " + path);
            }
            remove(n);
            // not invalidateTree (a scan of the whole cache, milliseconds per rmdir in a big walk): below an empty
            // directory only absences can be cached, and they stay true, since a directory made at this path
            // again is opaque, and a rename to it drops the cache below it
            resolver.invalidate(path);
        } finally {
            writeLock.unlock();
        }
    }

    /**
     * Removes an object from the merged view. With nothing of that name below, the upper object just goes;
     * otherwise a whiteout takes its place in one atomic step (no copy-up, whatever the object is).
     */
    private void remove(Node n) {
        Node parent = resolver.resolve(MergedPath.parent(n.path));
        String name = MergedPath.name(n.path);
        if (!n.inUpper()) { // only in a lower layer: nothing to look up below it
            whiteouts.make(LayerStack.join(copyUp.copyUp(parent, false), name));
            return;
        }
        if (!hasLowerEntry(parent, name)) {
            if (n.isDir()) {
                String tmp = scratch.newName();
                Posix.rename(n.real, tmp); // it may still hold whiteouts: take it away whole, then delete
                Trees.remove(tmp);
            } else {
                Posix.unlink(n.real);
            }
            return;
        }
        String whiteout = scratch.newName();
        whiteouts.make(whiteout);
        if (n.isDir()) {
            Posix.renameat2(whiteout, n.real, Posix.RENAME_EXCHANGE);
            Trees.remove(whiteout); // now the old directory
        } else {
            Posix.rename(whiteout, n.real);
        }
    }

    // ---------------------------------------------------------------- rename

    /**
     * Renames within the merged view. The source becomes a complete upper object first (a lower file is
     * copied up; a directory with lower parts is copied up whole and made opaque), so the rename itself
     * is one rename in the upper; a whiteout is left behind where a lower entry would otherwise reappear.
     * This is how a directory from a lower layer can be renamed without EXDEV.
     */
    public void rename(String from, String to) {
        acquire(writeLock);
        try {
            Node src = existing(from);
            if (from.equals(to)) {
                return;
            }
            if (MergedPath.isWithin(to, from)) {
                throw new Errno(Errno.EINVAL, "rename into itself " + from);
            }
            Node dstParent = existing(MergedPath.parent(to));
            String dstName = MergedPath.name(to);
            if (OverlayFormat.isOciMarkerName(dstName)) {
                throw new Errno(Errno.EINVAL, "reserved name " + to);
            }
            Node dst = resolver.resolve(to);
            if (dst.exists()) {
                if (src.isDir() && !dst.isDir()) {
                    throw new Errno(Errno.ENOTDIR, "rename " + to);
                }
                if (!src.isDir() && dst.isDir()) {
                    throw new Errno(Errno.EISDIR, "rename " + to);
                }
                if (dst.isDir() && !MergedListing.isEmpty(dst.dirs)) {
                    throw new Errno(Errno.ENOTEMPTY, "rename " + to);
                }
                if (!src.isDir() && sameFile(src, dst)) {
                    return; // two links to one file: POSIX says do nothing
                }
            }
            boolean srcMerges = src.isDir() && !src.isUpperOnlyDir();
            String srcReal = src.isDir() ? copyUpTree(src) : copyUp.copyUp(src, true);
            boolean whiteoutAtSource = hasLowerEntry(resolver.resolve(MergedPath.parent(from)), MergedPath.name(from));
            dstParent = resolver.resolve(MergedPath.parent(to)); // the source's copy-up may have changed it
            String target = LayerStack.join(copyUp.copyUp(dstParent, false), dstName);
            if (src.isDir() && hasLowerEntry(dstParent, dstName)) {
                OverlayFormat.markOpaque(srcReal); // must hide whatever lower directory had that name
            }
            Stat old = Posix.lstatOrNull(target);
            if (old != null && old.isDir()) {
                clearWhiteouts(target); // merged-empty, but may hold whiteouts; rename needs it empty
            }
            if (old != null && src.isDir() && !old.isDir()) {
                // a directory cannot replace a whiteout: swap them, which leaves the whiteout at the source
                Posix.renameat2(srcReal, target, Posix.RENAME_EXCHANGE);
                if (!whiteoutAtSource) {
                    Posix.unlink(srcReal);
                }
            } else if (whiteoutAtSource) {
                renameLeavingWhiteout(srcReal, target);
            } else {
                Posix.rename(srcReal, target);
            }
            if (srcMerges) {
                clearWhiteoutsTree(target); // its copy is complete; what the whiteouts hid is not below it now
            }
            invalidateMoved(src.isDir(), from, to);
        } finally {
            writeLock.unlock();
        }
    }

    /**
     * rename(2) with RENAME_EXCHANGE: {@code a} and {@code b} swap places. Both are copied up (a directory with
     * lower parts with its whole merged subtree, as for a rename), then swapped in the upper in one step. A directory
     * that lands where a lower layer has an entry becomes opaque; both names stay occupied, so no whiteout is needed.
     */
    public void exchange(String a, String b) {
        acquire(writeLock);
        try {
            Node na = existing(a);
            Node nb = existing(b);
            if (a.equals(b) || (!na.isDir() && !nb.isDir() && sameFile(na, nb))) {
                return;
            }
            if (MergedPath.isWithin(a, b) || MergedPath.isWithin(b, a)) {
                throw new Errno(Errno.EINVAL, "exchange with an ancestor " + a + " " + b);
            }
            String realA = copyUpForRename(na);
            String realB = copyUpForRename(resolver.resolve(b)); // a's copy-up may have copied up b's parents
            if (na.isDir() && hasLowerEntry(resolver.resolve(MergedPath.parent(b)), MergedPath.name(b))) {
                OverlayFormat.markOpaque(realA);
            }
            if (nb.isDir() && hasLowerEntry(resolver.resolve(MergedPath.parent(a)), MergedPath.name(a))) {
                OverlayFormat.markOpaque(realB);
            }
            Posix.renameat2(realA, realB, Posix.RENAME_EXCHANGE);
            invalidateMoved(na.isDir() || nb.isDir(), a, b);
        } finally {
            writeLock.unlock();
        }
    }

    /**
     * Drops what a rename or exchange between {@code a} and {@code b} changed from the resolver's cache. Moving
     * a directory changes everything below both names. Moving files does not: neither name was or becomes a
     * directory, so only absences can be cached below them, and they stay true; and the whole-cache scan that
     * {@code invalidateTree} makes would cost milliseconds per rename after a big walk.
     */
    private void invalidateMoved(boolean dirs, String a, String b) {
        if (dirs) {
            resolver.invalidateTree(a);
            resolver.invalidateTree(b);
        } else {
            resolver.invalidate(a);
            resolver.invalidate(b);
        }
    }

    /**
     * The upper path of a rename's source: a file copied up, a directory with its whole merged subtree in the
     * upper and no whiteouts left in it (nothing below it merges once it moves).
     */
    private String copyUpForRename(Node n) {
        if (!n.isDir()) {
            return copyUp.copyUp(n, true);
        }
        boolean merges = !n.isUpperOnlyDir();
        String real = copyUpTree(n);
        if (merges) {
            OverlayFormat.markOpaque(real); // its copy is complete: keep hiding what its whiteouts hid
            clearWhiteoutsTree(real);
        }
        return real;
    }

    private void renameLeavingWhiteout(String from, String to) {
        try {
            Posix.renameat2(from, to, Posix.RENAME_WHITEOUT);
        } catch (Errno e) {
            if (e.errno != Errno.EINVAL && e.errno != Errno.EOPNOTSUPP) {
                throw e;
            }
            Posix.rename(from, to); // filesystem without RENAME_WHITEOUT: two steps
            whiteouts.make(from);
        }
    }

    /**
     * Copies a directory's whole merged subtree into the upper, so it no longer depends on the lowers at
     * its current place. The merged view does not change; returns the upper path. A loop over a stack of
     * directories, not recursion: a hostile layer may be thousands of directories deep.
     */
    private String copyUpTree(Node dir) {
        String upper = copyUp.copyUp(dir, false);
        if (dir.isUpperOnlyDir()) {
            return upper; // nothing below to merge
        }
        ArrayDeque<Node> dirs = new ArrayDeque<>();
        dirs.push(dir);
        while (!dirs.isEmpty()) {
            Node d = dirs.pop();
            for (String name : MergedListing.names(d.dirs)) {
                Node child = resolver.resolve(MergedPath.child(d.path, name));
                copyUp.copyUp(child, !child.isDir());
                if (child.isDir() && !child.isUpperOnlyDir()) {
                    dirs.push(child); // it merges something below
                }
            }
        }
        resolver.invalidateTree(dir.path);
        return upper;
    }

    /**
     * Removes the whiteouts of a directory tree that no longer merges with anything below it. The merged view
     * does not change, so neither do the directories' times. A loop, not recursion, as above.
     */
    private static void clearWhiteoutsTree(String upperDir) {
        ArrayDeque<String> dirs = new ArrayDeque<>();
        dirs.push(upperDir);
        while (!dirs.isEmpty()) {
            String dir = dirs.pop();
            Stat before = Posix.lstat(dir);
            boolean changed = false;
            for (var e : Posix.list(dir)) {
                String real = LayerStack.join(dir, e.name());
                Stat st = Posix.lstat(real);
                if (OverlayFormat.isWhiteout(st)) {
                    Posix.unlink(real);
                    changed = true;
                } else if (st.isDir()) {
                    dirs.push(real);
                }
            }
            if (changed) {
                Posix.lutimens(dir, before.atimeSec(), before.atimeNsec(), before.mtimeSec(), before.mtimeNsec());
            }
        }
    }

    private static void clearWhiteouts(String upperDir) {
        for (var e : Posix.list(upperDir)) {
            String real = LayerStack.join(upperDir, e.name());
            Stat st = Posix.lstat(real);
            if (OverlayFormat.isWhiteout(st)) {
                Posix.unlink(real);
            }
        }
    }

    private static boolean sameFile(Node a, Node b) {
        Stat sa = Posix.lstat(a.real);
        Stat sb = Posix.lstat(b.real);
        return sa.dev() == sb.dev() && sa.ino() == sb.ino();
    }

    // ---------------------------------------------------------------- helpers

    private Node existing(String path) {
        Node n = resolver.resolve(path);
        if (!n.exists()) {
            throw new Errno(Errno.ENOENT, path);
        }
        return n;
    }

    /** True when a lower layer of {@code parent} has a visible entry {@code name}, which removal must keep hidden. */
    private static boolean hasLowerEntry(Node parent, String name) {
        int firstLower = parent.inUpper() ? 1 : 0; // dirs[0] is the upper directory when the parent has one
        return firstLower < parent.dirs.length
                && MergedLookup.lookup(Arrays.copyOfRange(parent.dirs, firstLower, parent.dirs.length), name) != null;
    }

    private Node checkCreatable(String path) {
        Node parent = existing(MergedPath.parent(path));
        if (!parent.isDir()) {
            throw new Errno(Errno.ENOTDIR, path);
        }
        if (OverlayFormat.isOciMarkerName(MergedPath.name(path))) {
            throw new Errno(Errno.EINVAL, "reserved name " + path);
        }
        if (resolver.resolve(path).exists()) {
            throw new Errno(Errno.EEXIST, path);
        }
        return parent;
    }

    /**
     * Puts a new object at {@code path} in the upper, made by {@code make} at a real path. Where a whiteout
     * hides a lower entry of that name, the object is built in the work dir (a directory marked opaque) and
     * swapped in atomically. A new directory in a merged parent is marked opaque, as overlayfs does. New
     * objects are owned by the caller, taking the group of a setgid parent.
     * Returns the real path.
     */
    private String place(String path, Caller caller, boolean isDir, Consumer<String> make, int mode) {
        Node parent = checkCreatable(path);
        String upperParent = copyUp.copyUp(parent, false);
        String target = LayerStack.join(upperParent, MergedPath.name(path));
        if (madeNew(make, target)) {
            own(target, caller, upperParent, isDir, mode);
            if (isDir && parent.isMergedDir()) {
                // as overlayfs: nothing is below a new directory, so say so and spare every later lookup
                OverlayFormat.markOpaque(target);
            }
        } else { // the upper has a whiteout here (the merged name does not exist): replace it in one step
            String tmp = scratch.newName();
            try {
                make.accept(tmp);
                own(tmp, caller, upperParent, isDir, mode);
                if (isDir) {
                    OverlayFormat.markOpaque(tmp);
                    Posix.renameat2(tmp, target, Posix.RENAME_EXCHANGE);
                    Posix.unlink(tmp); // the whiteout we swapped out
                } else {
                    Posix.rename(tmp, target);
                }
            } catch (RuntimeException e) {
                Trees.removeQuietly(tmp);
                throw e;
            }
        }
        resolver.invalidate(path);
        return target;
    }

    /** Makes {@code target} with {@code make}; false if something (a whiteout) is there already. */
    private static boolean madeNew(Consumer<String> make, String target) {
        try {
            make.accept(target);
            return true;
        } catch (Errno e) {
            if (e.errno == Errno.EEXIST) {
                return false;
            }
            throw e;
        }
    }

    private void own(String real, Caller caller, String upperParent, boolean isDir, int mode) {
        if (caller == null) {
            return;
        }
        if (createsAsRoot && caller.uid() == 0 && caller.gid() == 0 && (mode & umask) == 0) {
            return; // made by this root daemon as root would make it (group and setgid from a setgid parent included)
        }
        Stat parent = Posix.lstat(upperParent);
        boolean setgidParent = (parent.mode() & Stat.S_ISGID) != 0;
        Posix.lchown(real, caller.uid(), setgidParent ? parent.gid() : caller.gid());
        int perms = mode & 07777;
        if (isDir && setgidParent) {
            Posix.chmod(real, perms | Stat.S_ISGID);
        } else if ((perms & (Stat.S_ISUID | Stat.S_ISGID)) != 0 || (perms & umask) != 0) {
            Posix.chmod(real, perms); // chown cleared setuid/setgid; our umask cut bits the caller asked for
        }
    }

    /** When the mount has ended: closes what is still open; a volatile mount syncs and drops its mark. */
    public void closeAll() {
        files.closeAll();
        if (volatileMount) {
            VolatileMark.clear(scratch.dir(), stack.upper());
        }
    }

    /**
     * A caller's fsync of a directory: its upper directory's, as overlayfs (none on a volatile mount; a directory
     * only in the lowers has nothing of this mount's to sync).
     */
    public void fsyncDir(String path) {
        if (volatileMount) {
            return;
        }
        Node n = lookup(path);
        if (n.inUpper()) {
            Posix.fsyncDir(n.real);
        }
    }

    /** A caller's fsync of an open file (none on a volatile mount). */
    public void fsync(OpenFile f, boolean dataOnly) {
        if (!volatileMount) {
            Posix.fsync(f.fd(), dataOnly);
        }
    }
}
