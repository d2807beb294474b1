package io.layerfs.overlay.devfuse;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.layerfs.overlay.union.Caller;
import io.layerfs.overlay.union.DirListing;
import io.layerfs.overlay.union.LongWork;
import io.layerfs.overlay.union.MergedPath;
import io.layerfs.overlay.union.OpenFile;
import io.layerfs.overlay.union.UnionFs;
import io.layerfs.posix.Errno;
import io.layerfs.posix.Posix;
import io.layerfs.posix.Stat;
import jnr.ffi.Pointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Serves the FUSE protocol on an open /dev/fuse descriptor: worker threads take turns reading one request at a
 * time into their own buffer (see {@link #serve}), run it against the {@link UnionFs} engine, and write one
 * reply. Node ids map to merged paths ({@link NodeTable}); directory listings come with attributes
 * (READDIRPLUS), so a walk needs no LOOKUP per entry. One method per operation, each reading its request
 * struct and writing its reply.
 */
final class DevFuseServer {
    private static final Logger log = LoggerFactory.getLogger(DevFuseServer.class);

    private final UnionFs fs;
    private final int fd;
    private final NodeTable nodes = new NodeTable();
    /**
     * Keeps node paths still while a request turns them into engine paths and back into nodes: renames and
     * removals (which change paths) take it exclusively, other path requests shared. Otherwise a lookup below a
     * directory being renamed could register a node under the old path, and the kernel would see one directory
     * under two names (ESTALE) or a stale negative entry.
     */
    private final ReentrantReadWriteLock pathLock = new ReentrantReadWriteLock();
    /** The turn to read the next request: held by one worker at a time (see {@link #serve}). */
    private final ReentrantLock reading = new ReentrantLock();
    /** How the holder of {@link #reading} waits for the next request. */
    private final RequestReader reader;
    /**
     * Listings being read, by directory node: taken when the kernel reads from the start, then served in pieces
     * by cookie. There are no directory handles (the kernel opens directories without asking, see
     * {@link Worker#opendir}); a listing goes with the read past its end, an abandoned one ages out.
     */
    private final Cache<Long, DirSnapshot> listings = Caffeine.newBuilder().maximumSize(256).executor(Runnable::run).build();
    private final double entryTimeout;
    private final double attrTimeout;
    private final double negativeTimeout;
    private volatile boolean destroyed;
    /** Negotiated at INIT: the kernel reads and writes upper files itself (FUSE passthrough, Linux 6.9+). */
    private volatile boolean passthrough;
    /** Negotiated at INIT: the kernel opens directories without OPENDIR once told ENOSYS. */
    private volatile boolean noOpendir;
    /**
     * Negotiated at INIT (HANDLE_KILLPRIV_V2): dropping set-id bits on a write, truncate or chown is ours. The
     * kernel then remembers per inode that a file has no security.capability (S_NOSEC) instead of asking on
     * every write(2) and chown.
     */
    private volatile boolean killPriv;
    /** What each open file handle is: its node, and its passthrough backing id (0 when served here). */
    private record Handle(long node, int backingId) {
    }

    private final Map<Long, Handle> handles = new ConcurrentHashMap<>();
    /**
     * A backing file registered with the kernel: its id, the read-write fd of the upper file behind it, and how
     * many passthrough handles use it. The kernel takes one per FUSE inode (a second, different one makes that
     * open fail with EIO), so every passthrough handle of a node shares its node's.
     */
    private static final class Backing {
        final int id;
        final int fd;
        int handles;

        Backing(int id, int fd) {
            this.id = id;
            this.fd = fd;
        }
    }

    private final Map<Long, Backing> backings = new java.util.HashMap<>();

    DevFuseServer(UnionFs fs, int fd, double entryTimeout, double attrTimeout, double negativeTimeout) {
        this.fs = fs;
        this.fd = fd;
        this.reader = new RequestReader(fd);
        this.entryTimeout = entryTimeout;
        this.attrTimeout = attrTimeout;
        this.negativeTimeout = negativeTimeout;
    }

    /**
     * One worker's loop: until the filesystem is unmounted (read fails with ENODEV). Only the worker holding
     * {@link #reading} waits for a request (see {@link RequestReader}), and it keeps that turn while its requests
     * are quick, so a client that sends one request at a time (rm -rf, chmod -R, tar) is served by one thread:
     * no hand-over per request, and queued FORGETs arrive in batches. A request that may keep its worker long (a
     * read, a write or an fsync, a large copy-up, a wait for a lock another request holds) passes the turn to an
     * idle worker first, so other requests go on meanwhile.
     */
    void serve() {
        Worker w = new Worker();
        LongWork.announceOnThisThread(w::passTurn);
        try {
            while (!destroyed) {
                if (!w.hasTurn) {
                    reading.lock();
                    w.hasTurn = true;
                }
                long n = reader.read(w.inPtr, Fuse.BUFFER, w.statPtr);
                if (n < 0) {
                    int errno = (int) -n;
                    if (errno == 4 || errno == Errno.ENOENT) { // EINTR, an interrupted request
                        continue;
                    }
                    if (errno != 19) { // ENODEV: unmounted
                        log.error("reading /dev/fuse failed: {}", Errno.name(errno));
                    }
                    return;
                }
                w.in.clear().limit((int) n);
                w.handle();
            }
        } finally {
            w.passTurn();
        }
    }

    /** Per-thread buffers: the request, the reply, and scratch space for a struct stat. */
    private final class Worker {
        final ByteBuffer in = ByteBuffer.allocateDirect(Fuse.BUFFER).order(ByteOrder.LITTLE_ENDIAN);
        final ByteBuffer out = ByteBuffer.allocateDirect(Fuse.BUFFER).order(ByteOrder.LITTLE_ENDIAN);
        final ByteBuffer stat = ByteBuffer.allocateDirect(Stat.SIZE).order(ByteOrder.LITTLE_ENDIAN);
        final Pointer inPtr = Pointer.wrap(Posix.runtime(), in);
        final Pointer outPtr = Pointer.wrap(Posix.runtime(), out);
        final Pointer statPtr = Pointer.wrap(Posix.runtime(), stat);
        long unique;
        long nodeid;
        int uid;
        int gid;
        int pid;
        /** Whether this worker holds {@link #reading}. */
        boolean hasTurn;

        /** Lets another worker read the next request while this one works on a long request. */
        void passTurn() {
            if (hasTurn) {
                hasTurn = false;
                reading.unlock();
            }
        }

        void handle() {
            int opcode = in.getInt(4);
            unique = in.getLong(8);
            nodeid = in.getLong(16);
            uid = in.getInt(24);
            gid = in.getInt(28);
            pid = in.getInt(32);
            in.position(Fuse.IN_HEADER);
            out.clear().position(Fuse.OUT_HEADER);
            switch (opcode) {
                case Fuse.READ, Fuse.WRITE, Fuse.FSYNC, Fuse.FSYNCDIR, Fuse.FALLOCATE -> passTurn(); // may wait on the disk
                default -> { }
            }
            Lock lock = switch (opcode) {
                case Fuse.RENAME, Fuse.RENAME2, Fuse.UNLINK, Fuse.RMDIR -> pathLock.writeLock();
                case Fuse.READ, Fuse.WRITE, Fuse.FSYNC, Fuse.FLUSH, Fuse.RELEASE, Fuse.FALLOCATE, Fuse.FORGET,
                     Fuse.BATCH_FORGET, Fuse.INTERRUPT, Fuse.INIT, Fuse.DESTROY, Fuse.RELEASEDIR, Fuse.STATFS -> null;
                default -> pathLock.readLock();
            };
            if (lock != null && !lock.tryLock()) {
                passTurn(); // a rename or a long request holds the paths: let others read meanwhile
                lock.lock();
            }
            try {
                switch (opcode) {
                    case Fuse.INIT -> init();
                    case Fuse.LOOKUP -> lookup();
                    case Fuse.FORGET -> {
                        nodes.forget(nodeid, in.getLong());
                        return; // no reply
                    }
                    case Fuse.BATCH_FORGET -> {
                        batchForget();
                        return;
                    }
                    case Fuse.GETATTR -> getattr();
                    case Fuse.SETATTR -> setattr();
                    case Fuse.READLINK -> readlink();
                    case Fuse.SYMLINK -> symlink();
                    case Fuse.MKNOD -> mknod();
                    case Fuse.MKDIR -> mkdir();
                    case Fuse.UNLINK -> unlink();
                    case Fuse.RMDIR -> rmdir();
                    case Fuse.RENAME -> rename(in.getLong(), 0);
                    case Fuse.RENAME2 -> {
                        long newdir = in.getLong();
                        int flags = in.getInt();
                        in.getInt();
                        rename(newdir, flags);
                    }
                    case Fuse.LINK -> link();
                    case Fuse.OPEN -> open();
                    case Fuse.CREATE -> create();
                    case Fuse.READ -> read();
                    case Fuse.WRITE -> write();
                    case Fuse.FLUSH -> {
                        // nothing to do (data goes straight to the upper): ENOSYS says so once, and the kernel
                        // stops sending FLUSH, one request fewer on every close(2)
                        reply(-Errno.ENOSYS);
                        return;
                    }
                    case Fuse.FSYNCDIR -> fs.fsyncDir(path());
                    case Fuse.FSYNC -> fsync();
                    case Fuse.RELEASE -> release(in.getLong());
                    case Fuse.FALLOCATE -> fallocate();
                    case Fuse.STATFS -> statfs();
                    case Fuse.OPENDIR -> opendir();
                    case Fuse.READDIR -> readdir(false);
                    case Fuse.READDIRPLUS -> readdir(true);
                    case Fuse.RELEASEDIR -> { }
                    case Fuse.SETXATTR -> setxattr();
                    case Fuse.GETXATTR -> getxattr();
                    case Fuse.LISTXATTR -> listxattr();
                    case Fuse.REMOVEXATTR -> removexattr();
                    case Fuse.ACCESS -> fs.lookup(path()); // permissions: the kernel checks (default_permissions)
                    case Fuse.INTERRUPT -> {
                        return; // requests are short; let them finish
                    }
                    case Fuse.DESTROY -> destroyed = true;
                    default -> {
                        reply(-Errno.ENOSYS);
                        return;
                    }
                }
                reply(0);
            } catch (Errno e) {
                reply(-e.errno);
            } catch (Throwable t) {
                log.error("FUSE opcode {} on node {} failed", opcode, nodeid, t);
                reply(-Errno.EIO);
            } finally {
                if (lock != null) {
                    lock.unlock();
                }
            }
        }

        /** Sends the reply: the header, then whatever the operation put in {@code out}; only the header on error. */
        private void reply(int error) {
            int len = error == 0 ? out.position() : Fuse.OUT_HEADER;
            out.putInt(0, len);
            out.putInt(4, error);
            out.putLong(8, unique);
            long n = Posix.writeOrErrno(fd, outPtr, len);
            if (n < 0 && n != -Errno.ENOENT) { // ENOENT: the request was interrupted meanwhile
                log.debug("reply to {} failed: {}", unique, Errno.name((int) -n));
            }
        }

        private String path() {
            return nodes.path(nodeid);
        }

        /** A NUL-terminated name from the request, as a byte string. */
        private String cstring() {
            int start = in.position();
            int end = start;
            while (in.get(end) != 0) {
                end++;
            }
            byte[] b = new byte[end - start];
            in.get(start, b);
            in.position(end + 1);
            return new String(b, StandardCharsets.ISO_8859_1);
        }

        private String childPath(long parent, String name) {
            return MergedPath.child(nodes.path(parent), name);
        }

        private Caller caller() {
            return new Caller(uid, gid, pid);
        }

        // ------------------------------------------------------------ replies with attributes

        /** fuse_attr from a struct stat in the scratch buffer. */
        private void putAttr(ByteBuffer b, int at) {
            b.putLong(at, stat.getLong(8));                      // ino
            b.putLong(at + 8, stat.getLong(48));                 // size
            b.putLong(at + 16, stat.getLong(64));                // blocks
            b.putLong(at + 24, stat.getLong(72));                // atime
            b.putLong(at + 32, stat.getLong(88));                // mtime
            b.putLong(at + 40, stat.getLong(104));               // ctime
            b.putInt(at + 48, (int) stat.getLong(80));
            b.putInt(at + 52, (int) stat.getLong(96));
            b.putInt(at + 56, (int) stat.getLong(112));
            b.putInt(at + 60, stat.getInt(24));                  // mode
            b.putInt(at + 64, (int) stat.getLong(16));           // nlink
            b.putInt(at + 68, stat.getInt(28));                  // uid
            b.putInt(at + 72, stat.getInt(32));                  // gid
            b.putInt(at + 76, (int) stat.getLong(40));           // rdev
            b.putInt(at + 80, (int) stat.getLong(56));           // blksize
            b.putInt(at + 84, 0);
        }

        private void putValid(ByteBuffer b, int at, double seconds) {
            long sec = (long) seconds;
            b.putLong(at, sec);
        }

        /** fuse_entry_out for {@code path} (already stat'ed into the scratch buffer), counting a lookup. */
        private void putEntry(ByteBuffer b, int at, String path, long upperIno) {
            b.putLong(at, nodes.lookedUp(path, upperIno));
            b.putLong(at + 8, 0);                                // generation
            putValid(b, at + 16, entryTimeout);
            putValid(b, at + 24, attrTimeout);
            b.putInt(at + 32, 0);
            b.putInt(at + 36, 0);
            putAttr(b, at + 40);
        }

        /** Replies with the entry of a path that now exists. */
        private void entry(String path) {
            long upperIno = fs.statInto(path, statPtr);
            putEntry(out, Fuse.OUT_HEADER, path, upperIno);
            out.position(Fuse.OUT_HEADER + Fuse.ENTRY_OUT);
        }

        private void attrReply() {
            putValid(out, Fuse.OUT_HEADER, attrTimeout);
            out.putInt(Fuse.OUT_HEADER + 8, 0);
            out.putInt(Fuse.OUT_HEADER + 12, 0);
            putAttr(out, Fuse.OUT_HEADER + 16);
            out.position(Fuse.OUT_HEADER + Fuse.ATTR_OUT);
        }

        // ------------------------------------------------------------ operations

        private void init() {
            int major = in.getInt();
            int minor = in.getInt();
            int maxReadahead = in.getInt();
            long offered = in.getInt() & 0xffffffffL;
            int offered2 = (offered & Fuse.INIT_EXT) != 0 ? in.getInt() : 0;
            if (major != Fuse.KERNEL_VERSION) {
                throw new Errno(Errno.EIO, "FUSE protocol " + major + "." + minor);
            }
            // READDIRPLUS always, not READDIRPLUS_AUTO: with AUTO, every piece of a listing after the first is a
            // plain READDIR and a walk that stats then sends a LOOKUP per entry (29k more requests over /usr)
            long want = Fuse.ASYNC_READ | Fuse.ATOMIC_O_TRUNC | Fuse.BIG_WRITES | Fuse.DO_READDIRPLUS
                    | Fuse.PARALLEL_DIROPS | Fuse.MAX_PAGES | Fuse.ASYNC_DIO | Fuse.HANDLE_KILLPRIV_V2;
            killPriv = (offered & Fuse.HANDLE_KILLPRIV_V2) != 0;
            passthrough = (offered2 & Fuse.FLAGS2_PASSTHROUGH) != 0;
            noOpendir = (offered & Fuse.NO_OPENDIR_SUPPORT) != 0;
            if (passthrough) {
                want |= Fuse.INIT_EXT;
            }
            int b = Fuse.OUT_HEADER;
            out.putInt(b, Fuse.KERNEL_VERSION);
            out.putInt(b + 4, Math.min(minor, Fuse.KERNEL_MINOR));
            out.putInt(b + 8, maxReadahead);
            out.putInt(b + 12, (int) (want & offered));
            out.putShort(b + 16, (short) 64);                    // max_background
            out.putShort(b + 18, (short) 48);                    // congestion_threshold
            out.putInt(b + 20, Fuse.MAX_WRITE);
            out.putInt(b + 24, 1);                               // time_gran: nanoseconds
            out.putShort(b + 28, (short) Fuse.MAX_PAGES_VALUE);
            out.putShort(b + 30, (short) 0);
            for (int i = 32; i < 64; i += 4) {
                out.putInt(b + i, 0);
            }
            if (passthrough) {
                out.putInt(b + 32, Fuse.FLAGS2_PASSTHROUGH);
                out.putInt(b + 36, 1);                           // max_stack_depth: backing files on a plain fs
            }
            out.position(b + 64);
        }

        private void batchForget() {
            int count = in.getInt();
            in.getInt();
            for (int i = 0; i < count; i++) {
                nodes.forget(in.getLong(), in.getLong());
            }
        }

        private void lookup() {
            String path = childPath(nodeid, cstring());
            if (!fs.exists(path)) {
                // a negative entry: node id 0, cached by the kernel like a positive one
                for (int i = 0; i < Fuse.ENTRY_OUT; i++) {
                    out.put(Fuse.OUT_HEADER + i, (byte) 0);
                }
                putValid(out, Fuse.OUT_HEADER + 16, negativeTimeout);
                out.position(Fuse.OUT_HEADER + Fuse.ENTRY_OUT);
                return;
            }
            entry(path);
        }

        private void getattr() {
            int flags = in.getInt();
            in.getInt();
            long fh = in.getLong();
            OpenFile f = (flags & Fuse.GETATTR_FH) != 0 ? fs.files().get(fh) : unlinkedFile();
            if (f != null) {
                fs.fstatInto(f, statPtr);
            } else {
                fs.statInto(path(), statPtr);
            }
            attrReply();
        }

        /**
         * For a node whose last name is gone (unlinked while open), a file still open on it in the upper: such a
         * node is reached only through one, never by its old path, which may name another file by now. Null for a
         * node that still has a name; ENOENT when none is open.
         */
        private OpenFile unlinkedFile() {
            if (!nodes.unlinked(nodeid)) {
                return null;
            }
            for (var h : handles.entrySet()) {
                if (h.getValue().node() == nodeid) {
                    OpenFile f = fs.files().get(h.getKey());
                    if (f != null && f.inUpper()) {
                        return f;
                    }
                }
            }
            throw new Errno(Errno.ENOENT, "node " + nodeid + " has no name and no open file");
        }

        private void setattr() {
            int valid = in.getInt();
            in.getInt();
            long fh = in.getLong();
            long size = in.getLong();
            in.getLong();                                        // lock_owner
            long atime = in.getLong();
            long mtime = in.getLong();
            in.getLong();                                        // ctime
            int atimensec = in.getInt();
            int mtimensec = in.getInt();
            in.getInt();
            int mode = in.getInt();
            in.getInt();
            int uid = in.getInt();
            int gid = in.getInt();
            String path = path();
            // A node unlinked while open is changed through a file still open on it (the kernel drops set-id bits
            // before a write with a SETATTR by node alone). A handle comes with an ftruncate, whose SETATTR may also
            // carry the mode that drops set-id bits; both go to the open upper file, not to a path.
            OpenFile unlinked = unlinkedFile();
            OpenFile open = (valid & Fuse.FATTR_FH) != 0 ? fs.files().get(fh) : unlinked;
            if (killPriv && ((valid & Fuse.FATTR_KILL_SUIDGID) != 0 || (valid & Fuse.FATTR_CHANGES) == 0)) {
                dropSetIds(open, path); // before a chown, whose rule looks at the group the file had
            }
            if ((valid & Fuse.FATTR_MODE) != 0) {
                if (open != null && open.inUpper()) {
                    fs.fchmod(open, mode);
                } else {
                    fs.chmod(path, mode);
                }
            }
            if ((valid & (Fuse.FATTR_UID | Fuse.FATTR_GID)) != 0) {
                int u = (valid & Fuse.FATTR_UID) != 0 ? uid : -1;
                int g = (valid & Fuse.FATTR_GID) != 0 ? gid : -1;
                if (unlinked != null) {
                    fs.fchown(unlinked, u, g);
                } else {
                    fs.chown(path, u, g);
                }
            }
            if ((valid & Fuse.FATTR_SIZE) != 0) {
                if (open != null) {
                    Posix.ftruncate(open.fd(), size);
                } else {
                    fs.truncate(path, size);
                }
            }
            if ((valid & (Fuse.FATTR_ATIME | Fuse.FATTR_MTIME)) != 0) {
                long aNs = (valid & Fuse.FATTR_ATIME) == 0 ? Posix.UTIME_OMIT
                        : (valid & Fuse.FATTR_ATIME_NOW) != 0 ? Posix.UTIME_NOW : atimensec;
                long mNs = (valid & Fuse.FATTR_MTIME) == 0 ? Posix.UTIME_OMIT
                        : (valid & Fuse.FATTR_MTIME_NOW) != 0 ? Posix.UTIME_NOW : mtimensec;
                if (unlinked != null) {
                    fs.futimens(unlinked, atime, aNs, mtime, mNs);
                } else {
                    fs.utimens(path, atime, aNs, mtime, mNs);
                }
            }
            if (open != null) {
                fs.fstatInto(open, statPtr);
            } else {
                fs.statInto(path, statPtr);
            }
            attrReply();
        }

        /**
         * Drops set-id bits where the kernel leaves it to us (HANDLE_KILLPRIV_V2). It says so with a flag on a chown
         * or a truncate by a caller without CAP_FSETID, and with a SETATTR that changes nothing for a write by such a
         * caller (passthrough writes never reach us) or a chown(-1, -1). (Ambiguous, and taken as a write: root
         * writing to a setuid file that has file capabilities, which the kernel would leave setuid.)
         */
        private void dropSetIds(OpenFile open, String path) {
            if (open != null && open.inUpper()) {
                UnionFs.dropSetIds(open, caller());
            } else {
                fs.dropSetIds(path, caller());
            }
        }

        private void readlink() {
            byte[] target = fs.readlink(path()).getBytes(StandardCharsets.ISO_8859_1);
            out.put(target);
        }

        private void symlink() {
            String name = cstring();
            String target = cstring();
            String path = childPath(nodeid, name);
            fs.symlink(target, path, caller());
            entry(path);
        }

        private void mknod() {
            int mode = in.getInt();
            int rdev = in.getInt();
            String path = childPath(nodeid, skip(8).cstring());
            fs.mknod(path, mode, rdev & 0xffffffffL, caller());
            entry(path);
        }

        private void mkdir() {
            int mode = in.getInt();
            String path = childPath(nodeid, skip(4).cstring());
            fs.mkdir(path, mode, caller());
            entry(path);
        }

        private Worker skip(int bytes) {
            in.position(in.position() + bytes);
            return this;
        }

        private void unlink() {
            String path = childPath(nodeid, cstring());
            fs.unlink(path);
            nodes.removed(path);
        }

        private void rmdir() {
            String path = childPath(nodeid, cstring());
            fs.rmdir(path);
            nodes.removed(path);
        }

        /**
         * rename and renameat2: RENAME_NOREPLACE and RENAME_EXCHANGE as kernel overlayfs has them; RENAME_WHITEOUT
         * is EINVAL there too (a whiteout is not an object of the merged view).
         */
        private void rename(long newdir, int flags) {
            String from = childPath(nodeid, cstring());
            String to = childPath(newdir, cstring());
            boolean dir = fs.lookup(from).isDir(); // a file's rename moves one node name, a directory's a subtree
            switch (flags) {
                case 0 -> fs.rename(from, to);
                case Posix.RENAME_NOREPLACE -> {
                    if (fs.exists(to)) {                         // (no path changes meanwhile: pathLock)
                        throw new Errno(Errno.EEXIST, to);
                    }
                    fs.rename(from, to);
                }
                case Posix.RENAME_EXCHANGE -> {
                    boolean dirs = dir || fs.lookup(to).isDir();
                    fs.exchange(from, to);
                    nodes.exchanged(from, to, dirs);
                    return;
                }
                default -> throw new Errno(Errno.EINVAL, "rename flags " + flags);
            }
            nodes.renamed(from, to, dir);
        }

        /** The new name joins the node of the linked file, so the kernel sees one inode (the link copied it up). */
        private void link() {
            long oldNode = in.getLong();
            String oldPath = nodes.path(oldNode);
            String path = childPath(nodeid, cstring());
            fs.link(oldPath, path);
            nodes.adopt(oldNode, fs.statInto(oldPath, statPtr));
            entry(path);
        }

        private void open() {
            int flags = in.getInt();
            OpenFile unlinked = unlinkedFile();
            OpenFile f = unlinked != null ? fs.reopen(unlinked, flags, caller()) : fs.open(path(), flags, caller());
            if (putPassthrough(nodeid, f)) {
                return;
            }
            fs.fstatInto(f, statPtr);
            long mtimeNs = stat.getLong(88) * 1_000_000_000L + stat.getLong(96);
            boolean keep = nodes.keepCache(nodeid, mtimeNs, stat.getLong(48));
            out.putLong(f.id);
            out.putInt(keep ? Fuse.FOPEN_KEEP_CACHE : 0);
            out.putInt(0);
        }

        /**
         * For an upper file, lets the kernel read and write the backing file itself (passthrough). Lower files
         * go through the daemon, so a read-only handle still sees the file once another one copies it up.
         */
        private boolean putPassthrough(long node, OpenFile f) {
            if (nodes.opened(node, passthrough && f.inUpper())) {
                int id = acquireBacking(node, f);
                if (id > 0) {
                    handles.put(f.id, new Handle(node, id));
                    out.putLong(f.id);
                    out.putInt(Fuse.FOPEN_PASSTHROUGH);
                    out.putInt(id);
                    return true;
                }
                log.warn("FUSE passthrough unavailable ({}); serving reads and writes", Errno.name(-id));
                passthrough = false;
                nodes.opened(node, false); // through the page cache instead
            }
            handles.put(f.id, new Handle(node, 0));
            return false;
        }

        /**
         * The node's backing id for one more passthrough handle, registering the backing file with its first
         * (opened read-write, whatever this open asked for, as later opens share it); -errno if the kernel refuses.
         */
        private int acquireBacking(long node, OpenFile f) {
            synchronized (backings) {
                Backing b = backings.get(node);
                if (b == null) {
                    int bfd = Posix.open("/proc/self/fd/" + f.fd(), Posix.O_RDWR, 0);
                    stat.putInt(0, bfd);                         // struct fuse_backing_map { fd, flags, padding }
                    stat.putInt(4, 0);
                    stat.putLong(8, 0);
                    int id = Posix.ioctlOrErrno(fd, Fuse.DEV_IOC_BACKING_OPEN, statPtr);
                    if (id <= 0) {
                        Posix.close(bfd);
                        return id;
                    }
                    b = new Backing(id, bfd);
                    backings.put(node, b);
                }
                b.handles++;
                return b.id;
            }
        }

        /** After a passthrough handle's release: the last one unregisters its node's backing file. */
        private void releaseBacking(long node) {
            synchronized (backings) {
                Backing b = backings.get(node);
                if (b != null && --b.handles == 0) {
                    backings.remove(node);
                    stat.putInt(0, b.id);
                    Posix.ioctlOrErrno(fd, Fuse.DEV_IOC_BACKING_CLOSE, statPtr);
                    Posix.close(b.fd);
                }
            }
        }

        private void create() {
            int flags = in.getInt();
            int mode = in.getInt();
            String path = childPath(nodeid, skip(8).cstring());
            OpenFile f = fs.create(path, mode, flags, caller());
            entry(path);
            if (!putPassthrough(out.getLong(Fuse.OUT_HEADER), f)) {
                out.putLong(f.id);
                out.putInt(0);
                out.putInt(0);
            }
        }

        private void release(long fh) {
            Handle h = handles.remove(fh);
            if (h != null) {
                if (h.backingId() != 0) {
                    releaseBacking(h.node());
                } else {
                    nodes.cachedClosed(h.node());
                }
            }
            fs.release(fh);
        }

        private void read() {
            long fh = in.getLong();
            long offset = in.getLong();
            int size = Math.min(in.getInt(), Fuse.MAX_WRITE);
            long n = Posix.pread(fs.files().get(fh).fd(), outPtr.slice(Fuse.OUT_HEADER), size, offset);
            out.position(Fuse.OUT_HEADER + (int) n);
        }

        private void write() {
            long fh = in.getLong();
            long offset = in.getLong();
            int size = in.getInt();
            int writeFlags = in.getInt();
            OpenFile f = fs.files().get(fh);
            int fd = f.fd();
            long done = 0;
            int data = Fuse.IN_HEADER + 40;
            while (done < size) {
                done += Posix.pwrite(fd, inPtr.slice(data + done), size - done, offset + done);
            }
            if (killPriv && (writeFlags & Fuse.WRITE_KILL_SUIDGID) != 0) {
                UnionFs.dropSetIds(f, caller()); // a write through the page cache (no passthrough)
            }
            out.putInt((int) done);
            out.putInt(0);
        }

        private void fsync() {
            long fh = in.getLong();
            int flags = in.getInt();
            fs.fsync(fs.files().get(fh), (flags & Fuse.FSYNC_FDATASYNC) != 0);
        }

        private void fallocate() {
            long fh = in.getLong();
            long offset = in.getLong();
            long length = in.getLong();
            int mode = in.getInt();
            Posix.fallocate(fs.files().get(fh).fd(), mode, offset, length);
        }

        private void statfs() {
            fs.statvfsInto(statPtr);
            int b = Fuse.OUT_HEADER;
            out.putLong(b, stat.getLong(16));                    // blocks
            out.putLong(b + 8, stat.getLong(24));                // bfree
            out.putLong(b + 16, stat.getLong(32));               // bavail
            out.putLong(b + 24, stat.getLong(40));               // files
            out.putLong(b + 32, stat.getLong(48));               // ffree
            out.putInt(b + 40, (int) stat.getLong(0));           // bsize
            out.putInt(b + 44, (int) stat.getLong(80));          // namelen
            out.putInt(b + 48, (int) stat.getLong(8));           // frsize
            for (int i = 52; i < 80; i += 4) {
                out.putInt(b + i, 0);
            }
            out.position(b + 80);
        }

        // ------------------------------------------------------------ directories

        /**
         * Kernels that can open a directory without asking (FUSE_NO_OPENDIR_SUPPORT, 5.1+) get ENOSYS once and
         * then send no OPENDIR or RELEASEDIR at all: two requests fewer per directory of a walk, and the listing
         * cache stays on (the kernel's default then is FOPEN_CACHE_DIR | FOPEN_KEEP_CACHE). Older kernels get
         * handle 0 and the same flags. The kernel drops a cached listing itself when the directory changes
         * through the mount.
         */
        private void opendir() {
            if (noOpendir) {
                throw new Errno(Errno.ENOSYS, "opendir");
            }
            fs.lookup(path());
            out.putLong(0);
            out.putInt(Fuse.FOPEN_CACHE_DIR | Fuse.FOPEN_KEEP_CACHE);
            out.putInt(0);
        }

        /**
         * Entries after cookie {@code offset}, as many as fit: "." and ".." first. With {@code plus}, each entry
         * carries its attributes and counts a lookup (only for entries actually sent). Child paths come from the
         * directory's current path, which a rename since opendir may have changed.
         */
        private void readdir(boolean plus) {
            in.getLong(); // fh: always 0
            long offset = in.getLong();
            int size = in.getInt();
            String dir = path();
            DirSnapshot snap = offset == 0 ? null : listings.getIfPresent(nodeid);
            if (snap == null) { // offset 0 (opendir or rewinddir) must see changes; a later one continues by cookie
                snap = new DirSnapshot(fs.readdir(dir));
                listings.put(nodeid, snap);
            }
            if (offset >= DirSnapshot.AFTER_DOTDOT && snap.firstAfter(offset) == snap.size()) {
                listings.asMap().remove(nodeid, snap); // the read at the end: the listing is done
                return;
            }
            int limit = Fuse.OUT_HEADER + Math.min(size, Fuse.MAX_WRITE);
            if (offset < DirSnapshot.AFTER_DOT
                    && !putDirent(plus, limit, ".", snap.listing.ino(), Stat.S_IFDIR, DirSnapshot.AFTER_DOT, null)) {
                return;
            }
            if (offset < DirSnapshot.AFTER_DOTDOT
                    && !putDirent(plus, limit, "..", snap.listing.parentIno(), Stat.S_IFDIR, DirSnapshot.AFTER_DOTDOT, null)) {
                return;
            }
            for (int i = snap.firstAfter(offset); i < snap.size(); i++) {
                DirListing.Entry e = snap.entry(i);
                if (!putDirent(plus, limit, e.name(), e.ino(), e.type(), snap.cookie(i), MergedPath.child(dir, e.name()))) {
                    return;
                }
            }
        }

        /**
         * One fuse_dirent (with its fuse_entry_out before it for READDIRPLUS; none for "." and "..", whose
         * {@code child} is null). False when it does not fit; true when put, or skipped because the child is
         * gone since the listing was taken.
         */
        private boolean putDirent(boolean plus, int limit, String name, long ino, int type, long cookie, String child) {
            byte[] nameBytes = name.getBytes(StandardCharsets.ISO_8859_1);
            int direntLen = (24 + nameBytes.length + 7) & ~7;
            int at = out.position();
            if (at + (plus ? Fuse.ENTRY_OUT : 0) + direntLen > limit) {
                return false;
            }
            if (plus) {
                if (child == null) {
                    for (int k = 0; k < Fuse.ENTRY_OUT; k++) {
                        out.put(at + k, (byte) 0);
                    }
                } else {
                    long upperIno;
                    try {
                        upperIno = fs.statInto(child, statPtr);
                    } catch (Errno gone) {
                        return true;
                    }
                    putEntry(out, at, child, upperIno);
                    ino = stat.getLong(8);
                }
                at += Fuse.ENTRY_OUT;
            }
            out.putLong(at, ino);
            out.putLong(at + 8, cookie);                         // where the next READDIR continues
            out.putInt(at + 16, nameBytes.length);
            out.putInt(at + 20, type >>> 12);                    // DT_* is S_IFMT >> 12
            out.position(at + 24);
            out.put(nameBytes);
            while (out.position() < at + direntLen) {
                out.put((byte) 0);                               // dirents are 8-byte aligned
            }
            return true;
        }

        // ------------------------------------------------------------ xattrs

        private void setxattr() {
            int size = in.getInt();
            int flags = in.getInt();
            String name = cstring();
            byte[] value = new byte[size];
            in.get(value);
            OpenFile unlinked = unlinkedFile();
            if (unlinked != null) {
                fs.fsetxattr(unlinked, name, value, flags);
            } else {
                fs.setxattr(path(), name, value, flags);
            }
        }

        private void getxattr() {
            int size = in.getInt();
            in.getInt();
            String name = cstring();
            OpenFile unlinked = unlinkedFile();
            sized(unlinked != null ? fs.fgetxattr(unlinked, name) : fs.getxattr(path(), name), size);
        }

        private void removexattr() {
            String name = cstring();
            OpenFile unlinked = unlinkedFile();
            if (unlinked != null) {
                fs.fremovexattr(unlinked, name);
            } else {
                fs.removexattr(path(), name);
            }
        }

        private void listxattr() {
            int size = in.getInt();
            in.getInt();
            OpenFile unlinked = unlinkedFile();
            StringBuilder names = new StringBuilder();
            for (String n : unlinked != null ? fs.flistxattr(unlinked) : fs.listxattr(path())) {
                names.append(n).append('\0');
            }
            sized(names.toString().getBytes(StandardCharsets.ISO_8859_1), size);
        }

        /** The xattr size protocol: size 0 asks for the length; a too-small buffer is ERANGE. */
        private void sized(byte[] data, int size) {
            if (size == 0) {
                out.putInt(data.length);
                out.putInt(0);
            } else if (data.length > size) {
                throw new Errno(Errno.ERANGE, "xattr buffer");
            } else {
                out.put(data);
            }
        }
    }
}
