package io.layerfs.overlay.fuse;

import io.layerfs.overlay.union.Caller;
import io.layerfs.overlay.union.DirListing;
import io.layerfs.overlay.union.OpenFile;
import io.layerfs.overlay.union.UnionFs;
import io.layerfs.posix.Errno;
import io.layerfs.posix.Posix;
import io.layerfs.posix.Stat;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Struct;
import jnr.ffi.types.mode_t;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import ru.serce.jnrfuse.FuseFillDir;
import ru.serce.jnrfuse.FuseStubFS;
import ru.serce.jnrfuse.struct.FileStat;
import ru.serce.jnrfuse.struct.FuseContext;
import ru.serce.jnrfuse.struct.FuseFileInfo;
import ru.serce.jnrfuse.struct.Statvfs;
import ru.serce.jnrfuse.struct.Timespec;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The jnr-fuse (libfuse 2 high-level API) binding of {@link UnionFs}. One short method per FUSE operation:
 * call the union engine, return 0 or -errno. Every method catches everything, because an exception that
 * escapes a jnr-fuse callback is reported to the kernel as success.
 */
public final class OverlayFuse extends FuseStubFS {
    private static final Logger log = LoggerFactory.getLogger(OverlayFuse.class);
    /** Bits of the int after fuse_operations.bmap: flag_nullpath_ok (0) and flag_utime_omit_ok (2). */
    private static final int NULLPATH_OK_AND_UTIME_OMIT_OK = 0b101;

    private final UnionFs fs;
    private final Runnable onInit;
    private final ThreadLocal<Pointer> direntStat = ThreadLocal.withInitial(
            () -> Memory.allocateDirect(Posix.runtime(), Stat.SIZE));

    public OverlayFuse(UnionFs fs, Runnable onInit) {
        this.fs = fs;
        this.onInit = onInit;
        // Not exposed by jnr-fuse: without utime_omit_ok, `touch -m` silently changes nothing; nullpath_ok lets
        // an unlinked but open file keep working through its handle.
        Struct.getMemory(fuseOperations).putInt(fuseOperations.bmap.offset() + 8, NULLPATH_OK_AND_UTIME_OMIT_OK);
    }

    @Override
    public String getFSName() {
        return "layerfs";
    }

    /** Maps anything thrown by an operation to a negative errno; unexpected failures are logged as EIO. */
    private static int fail(Throwable t, String op, String path) {
        if (t instanceof Errno e) {
            if (log.isDebugEnabled()) {
                log.debug("{} {}: {}", op, path, e.getMessage());
            }
            return -e.errno;
        }
        log.error("{} {} failed unexpectedly", op, path, t);
        return -Errno.EIO;
    }

    private Caller caller() {
        FuseContext ctx = getContext();
        return new Caller((int) ctx.uid.get(), (int) ctx.gid.get(), (int) ctx.pid.get());
    }

    @Override
    public Pointer init(Pointer conn) {
        try {
            onInit.run();
        } catch (Throwable t) {
            log.error("init callback failed", t);
        }
        return null;
    }

    @Override
    public void destroy(Pointer initResult) {
        try {
            fs.closeAll();
        } catch (Throwable t) {
            log.error("destroy failed", t);
        }
    }

    // ---------------------------------------------------------------- attributes

    @Override
    public int getattr(String path, FileStat stat) {
        try {
            fs.statInto(path, Struct.getMemory(stat));
            return 0;
        } catch (Throwable t) {
            return fail(t, "getattr", path);
        }
    }

    @Override
    public int fgetattr(String path, FileStat stat, FuseFileInfo fi) {
        try {
            fs.fstatInto(fs.files().get(fi.fh.get()), Struct.getMemory(stat));
            return 0;
        } catch (Throwable t) {
            return fail(t, "fgetattr", path);
        }
    }

    @Override
    public int access(String path, int mask) {
        try {
            fs.lookup(path); // permissions are checked by the kernel (default_permissions)
            return 0;
        } catch (Throwable t) {
            return fail(t, "access", path);
        }
    }

    @Override
    public int readlink(String path, Pointer buf, @size_t long size) {
        try {
            byte[] target = fs.readlink(path).getBytes(StandardCharsets.ISO_8859_1);
            int n = (int) Math.min(target.length, size - 1);
            buf.put(0, target, 0, n);
            buf.putByte(n, (byte) 0);
            return 0;
        } catch (Throwable t) {
            return fail(t, "readlink", path);
        }
    }

    @Override
    public int chmod(String path, @mode_t long mode) {
        try {
            fs.chmod(path, (int) mode);
            return 0;
        } catch (Throwable t) {
            return fail(t, "chmod", path);
        }
    }

    @Override
    public int chown(String path, long uid, long gid) {
        try {
            fs.chown(path, (int) uid, (int) gid);
            return 0;
        } catch (Throwable t) {
            return fail(t, "chown", path);
        }
    }

    @Override
    public int utimens(String path, Timespec[] timespec) {
        try {
            fs.utimens(path, timespec[0].tv_sec.get(), timespec[0].tv_nsec.longValue(),
                    timespec[1].tv_sec.get(), timespec[1].tv_nsec.longValue());
            return 0;
        } catch (Throwable t) {
            return fail(t, "utimens", path);
        }
    }

    @Override
    public int truncate(String path, @off_t long size) {
        try {
            fs.truncate(path, size);
            return 0;
        } catch (Throwable t) {
            return fail(t, "truncate", path);
        }
    }

    @Override
    public int ftruncate(String path, @off_t long size, FuseFileInfo fi) {
        try {
            Posix.ftruncate(fs.files().get(fi.fh.get()).fd(), size);
            return 0;
        } catch (Throwable t) {
            return fail(t, "ftruncate", path);
        }
    }

    @Override
    public int statfs(String path, Statvfs stbuf) {
        try {
            fs.statvfsInto(Struct.getMemory(stbuf));
            return 0;
        } catch (Throwable t) {
            return fail(t, "statfs", path);
        }
    }

    // ---------------------------------------------------------------- xattrs

    @Override
    public int getxattr(String path, String name, Pointer value, @size_t long size) {
        try {
            return copyOut(fs.getxattr(path, name), value, size);
        } catch (Throwable t) {
            return fail(t, "getxattr", path);
        }
    }

    @Override
    public int listxattr(String path, Pointer list, @size_t long size) {
        try {
            StringBuilder names = new StringBuilder();
            for (String name : fs.listxattr(path)) {
                names.append(name).append('\0');
            }
            return copyOut(names.toString().getBytes(StandardCharsets.ISO_8859_1), list, size);
        } catch (Throwable t) {
            return fail(t, "listxattr", path);
        }
    }

    /** The xattr size protocol: size 0 asks for the length; a too-small buffer is ERANGE. */
    private static int copyOut(byte[] data, Pointer buf, long size) {
        if (size == 0) {
            return data.length;
        }
        if (data.length > size) {
            return -Errno.ERANGE;
        }
        buf.put(0, data, 0, data.length);
        return data.length;
    }

    @Override
    public int setxattr(String path, String name, Pointer value, @size_t long size, int flags) {
        try {
            byte[] bytes = new byte[(int) size];
            value.get(0, bytes, 0, bytes.length);
            fs.setxattr(path, name, bytes, flags);
            return 0;
        } catch (Throwable t) {
            return fail(t, "setxattr", path);
        }
    }

    @Override
    public int removexattr(String path, String name) {
        try {
            fs.removexattr(path, name);
            return 0;
        } catch (Throwable t) {
            return fail(t, "removexattr", path);
        }
    }

    // ---------------------------------------------------------------- directories

    @Override
    public int readdir(String path, Pointer buf, FuseFillDir filler, @off_t long offset, FuseFileInfo fi) {
        try {
            DirListing listing = fs.readdir(path);
            Pointer st = direntStat.get();
            fill(filler, buf, st, ".", listing.ino(), Stat.S_IFDIR);
            fill(filler, buf, st, "..", listing.parentIno(), Stat.S_IFDIR);
            for (DirListing.Entry e : listing.entries()) {
                if (fill(filler, buf, st, e.name(), e.ino(), e.type()) != 0) {
                    break;
                }
            }
            return 0;
        } catch (Throwable t) {
            return fail(t, "readdir", path);
        }
    }

    private static int fill(FuseFillDir filler, Pointer buf, Pointer st, String name, long ino, int type) {
        st.putLong(Stat.OFF_INO, ino);
        st.putInt(Stat.OFF_MODE, type);
        byte[] bytes = name.getBytes(StandardCharsets.ISO_8859_1);
        byte[] cstr = new byte[bytes.length + 1];
        System.arraycopy(bytes, 0, cstr, 0, bytes.length);
        return filler.apply(buf, ByteBuffer.wrap(cstr), st, 0);
    }

    @Override
    public int mkdir(String path, @mode_t long mode) {
        try {
            fs.mkdir(path, (int) mode, caller());
            return 0;
        } catch (Throwable t) {
            return fail(t, "mkdir", path);
        }
    }

    @Override
    public int rmdir(String path) {
        try {
            fs.rmdir(path);
            return 0;
        } catch (Throwable t) {
            return fail(t, "rmdir", path);
        }
    }

    // ---------------------------------------------------------------- names

    @Override
    public int mknod(String path, @mode_t long mode, long rdev) {
        try {
            fs.mknod(path, (int) mode, rdev, caller());
            return 0;
        } catch (Throwable t) {
            return fail(t, "mknod", path);
        }
    }

    @Override
    public int symlink(String target, String path) {
        try {
            fs.symlink(target, path, caller());
            return 0;
        } catch (Throwable t) {
            return fail(t, "symlink", path);
        }
    }

    @Override
    public int link(String from, String to) {
        try {
            fs.link(from, to);
            return 0;
        } catch (Throwable t) {
            return fail(t, "link", to);
        }
    }

    @Override
    public int unlink(String path) {
        try {
            fs.unlink(path);
            return 0;
        } catch (Throwable t) {
            return fail(t, "unlink", path);
        }
    }

    @Override
    public int rename(String from, String to) {
        try {
            fs.rename(from, to);
            return 0;
        } catch (Throwable t) {
            return fail(t, "rename", from);
        }
    }

    // ---------------------------------------------------------------- files

    @Override
    public int create(String path, @mode_t long mode, FuseFileInfo fi) {
        try {
            fi.fh.set(fs.create(path, (int) mode, fi.flags.get(), caller()).id);
            return 0;
        } catch (Throwable t) {
            return fail(t, "create", path);
        }
    }

    @Override
    public int open(String path, FuseFileInfo fi) {
        try {
            fi.fh.set(fs.open(path, fi.flags.get(), caller()).id);
            return 0;
        } catch (Throwable t) {
            return fail(t, "open", path);
        }
    }

    @Override
    public int read(String path, Pointer buf, @size_t long size, @off_t long offset, FuseFileInfo fi) {
        try {
            return (int) Posix.pread(fs.files().get(fi.fh.get()).fd(), buf, size, offset);
        } catch (Throwable t) {
            return fail(t, "read", path);
        }
    }

    @Override
    public int write(String path, Pointer buf, @size_t long size, @off_t long offset, FuseFileInfo fi) {
        try {
            return (int) Posix.pwrite(fs.files().get(fi.fh.get()).fd(), buf, size, offset);
        } catch (Throwable t) {
            return fail(t, "write", path);
        }
    }

    @Override
    public int flush(String path, FuseFileInfo fi) {
        return 0; // writes go straight to the backing file; nothing is buffered here
    }

    @Override
    public int fsync(String path, int isdatasync, FuseFileInfo fi) {
        try {
            fs.fsync(fs.files().get(fi.fh.get()), isdatasync != 0);
            return 0;
        } catch (Throwable t) {
            return fail(t, "fsync", path);
        }
    }

    @Override
    public int fsyncdir(String path, FuseFileInfo fi) {
        try {
            fs.fsyncDir(path);
            return 0;
        } catch (Throwable t) {
            return fail(t, "fsyncdir", path);
        }
    }

    @Override
    public int fallocate(String path, int mode, @off_t long off, @off_t long length, FuseFileInfo fi) {
        try {
            Posix.fallocate(fs.files().get(fi.fh.get()).fd(), mode, off, length);
            return 0;
        } catch (Throwable t) {
            return fail(t, "fallocate", path);
        }
    }

    @Override
    public int release(String path, FuseFileInfo fi) {
        try {
            fs.release(fi.fh.get());
            return 0;
        } catch (Throwable t) {
            return fail(t, "release", path);
        }
    }
}
