package io.layerfs.layer;

import io.layerfs.posix.Errno;
import io.layerfs.posix.Posix;
import io.layerfs.posix.Stat;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Extracts an OCI layer tar into an empty directory, converting OCI whiteouts to the overlay format
 * ({@code .wh.<name>} → char 0/0, {@code .wh..wh..opq} → {@code trusted.overlay.opaque=y}).
 * <p>Hostile archives are refused before anything is written outside the target directory: absolute
 * paths, {@code ..}, a path through a symlink, hard links leaving the layer or to directories, duplicate
 * entries, device nodes when not root, truncated or corrupt data. Owners, modes, setuid bits, times,
 * xattrs, hard links, symlinks, fifos and devices are kept; runs of zeros become holes.
 */
public final class LayerTarReader {
    private static final int BUFFER = 1 << 16;

    private final String root;
    private final Set<String> seen = new HashSet<>();
    /**
     * Names of the directories this import made or found real (never through a symlink); they stay directories,
     * since no later entry may replace an existing one. So an entry's parents are checked once, not per entry: per
     * entry, that is a lstat per level, each walking the whole path (cubic in the depth of a deep tree).
     */
    private final Set<String> dirs = new HashSet<>();
    private final Deque<String[]> mtimes = new ArrayDeque<>();
    private final byte[] chunk = new byte[BUFFER];
    private final Pointer buf = Memory.allocateDirect(Posix.runtime(), BUFFER);
    private final boolean root_;

    private LayerTarReader(String root) {
        this.root = root;
        this.root_ = Posix.isRoot();
    }

    /**
     * Extracts every entry of {@code in} (an uncompressed tar) into the existing empty directory {@code root}
     * (a byte string), then reads {@code in} to its end so a digest over it covers the whole archive.
     */
    public static void extract(InputStream in, String root) throws IOException {
        new LayerTarReader(root).run(in);
    }

    private void run(InputStream in) throws IOException {
        TarArchiveInputStream tar = new TarArchiveInputStream(in, StandardCharsets.UTF_8.name());
        try {
            TarArchiveEntry e;
            while ((e = tar.getNextEntry()) != null) {
                entry(tar, e);
            }
        } catch (IOException | IllegalArgumentException e) {
            throw new LayerFormatException("corrupt or truncated tar: " + e.getMessage(), e);
        }
        in.transferTo(OutputStreamNull.INSTANCE); // trailing zero blocks and padding count toward the digest
        while (!mtimes.isEmpty()) { // children were pushed after parents: pop restores them first
            String[] t = mtimes.pop();
            long sec = Long.parseLong(t[1]);
            Posix.lutimens(t[0], sec, 0, sec, 0);
        }
    }

    private void entry(TarArchiveInputStream tar, TarArchiveEntry e) throws IOException {
        String name = normalize(e.getName());
        if (!seen.add(name)) {
            throw new LayerFormatException("duplicate entry " + name);
        }
        if (name.isEmpty()) {
            attributes(root, e, false); // "./": the layer root itself
            return;
        }
        int slash = name.lastIndexOf('/');
        String parent = slash < 0 ? root : ensureParents(name.substring(0, slash));
        String base = name.substring(slash + 1);
        if (base.equals(OverlayFormat.OCI_OPAQUE_MARKER)) {
            OverlayFormat.markOpaque(parent);
            return;
        }
        if (OverlayFormat.isOciMarkerName(base)) {
            String hidden = base.substring(OverlayFormat.OCI_WHITEOUT_PREFIX.length());
            String path = parent + "/" + hidden;
            if (hidden.isEmpty() || Posix.lstatOrNull(path) != null) {
                throw new LayerFormatException("whiteout " + name + " for an entry of the same layer");
            }
            OverlayFormat.makeWhiteout(path);
            mtimes.push(new String[]{path, Long.toString(e.getModTime().getTime() / 1000)});
            return;
        }
        String path = parent + "/" + base;
        Stat existing = Posix.lstatOrNull(path);
        if (e.isDirectory()) {
            if (existing == null) {
                Posix.mkdir(path, 0700);
            } else if (!existing.isDir()) {
                throw new LayerFormatException("duplicate entry " + name);
            }
            dirs.add(name);
            attributes(path, e, false);
            return;
        }
        if (existing != null) {
            throw new LayerFormatException("duplicate entry " + name);
        }
        if (e.isSymbolicLink()) {
            Posix.symlink(TarNames.fromTar(e.getLinkName()), path);
            attributes(path, e, true);
        } else if (e.isLink()) {
            String target = normalize(e.getLinkName());
            Stat t = Posix.lstatOrNull(root + "/" + target);
            if (target.isEmpty() || t == null || t.isDir() || !seen.contains(target)) {
                throw new LayerFormatException("hard link " + name + " to " + target + " which is not an earlier file of this layer");
            }
            Posix.link(root + "/" + target, path);
        } else if (e.isCharacterDevice() || e.isBlockDevice()) {
            if (!root_) {
                throw new LayerFormatException("device node " + name + ": only root can import device nodes");
            }
            int type = e.isCharacterDevice() ? Stat.S_IFCHR : Stat.S_IFBLK;
            Posix.mknod(path, type | 0600, Stat.makedev(e.getDevMajor(), e.getDevMinor()));
            attributes(path, e, false);
        } else if (e.isFIFO()) {
            Posix.mknod(path, Stat.S_IFIFO | 0600, 0);
            attributes(path, e, false);
        } else if (e.isFile()) {
            writeFile(tar, path, e.getSize(), name);
            attributes(path, e, false);
        } else {
            throw new LayerFormatException("entry " + name + " has an unsupported type '" + (char) e.getLinkFlag() + "'");
        }
    }

    /**
     * Owner, then mode (chown clears setuid), xattrs (overlay's own are dropped, except the opaque marker,
     * which a tar of a kernel-format directory carries); the mtime is set at the end, once children exist.
     */
    private void attributes(String path, TarArchiveEntry e, boolean symlink) {
        if (root_) {
            Posix.lchown(path, (int) e.getLongUserId(), (int) e.getLongGroupId());
        }
        if (!symlink) {
            Posix.chmod(path, e.getMode() & 07777);
        }
        for (Map.Entry<String, String> h : e.getExtraPaxHeaders().entrySet()) {
            String key = h.getKey();
            if (key.startsWith("SCHILY.xattr.")) {
                String xattr = key.substring("SCHILY.xattr.".length());
                if (!OverlayFormat.isPrivateXattr(xattr) || xattr.equals(OverlayFormat.OPAQUE_XATTR)) {
                    Posix.lsetxattr(path, xattr, h.getValue().getBytes(StandardCharsets.UTF_8), 0);
                }
            }
        }
        mtimes.push(new String[]{path, Long.toString(e.getModTime().getTime() / 1000)});
    }

    private void writeFile(InputStream data, String path, long size, String name) throws IOException {
        int fd = Posix.open(path, Posix.O_WRONLY | Posix.O_CREAT | Posix.O_EXCL, 0600);
        try {
            long off = 0;
            while (off < size) {
                int n = data.read(chunk, 0, (int) Math.min(BUFFER, size - off));
                if (n < 0) {
                    throw new LayerFormatException("truncated tar: " + name + " ends early");
                }
                if (!allZero(chunk, n)) { // leave zeros as a hole
                    buf.put(0, chunk, 0, n);
                    for (long w = 0; w < n; ) {
                        w += Posix.pwrite(fd, buf.slice(w), n - w, off + w);
                    }
                }
                off += n;
            }
            Posix.ftruncate(fd, size);
        } finally {
            Posix.close(fd);
        }
    }

    private static boolean allZero(byte[] b, int n) {
        for (int i = 0; i < n; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * Makes sure each directory of {@code dirs} exists as a real directory (created if the archive did not
     * list it), refusing to go through a symlink or a non-directory. Returns the real path.
     */
    private String ensureParents(String parents) {
        if (dirs.contains(parents)) {
            return root + "/" + parents;
        }
        String path = root;
        String rel = "";
        for (String part : parents.split("/")) {
            path = path + "/" + part;
            rel = rel.isEmpty() ? part : rel + "/" + part;
            if (dirs.contains(rel)) {
                continue;
            }
            Stat st = Posix.lstatOrNull(path);
            if (st == null) {
                Posix.mkdir(path, 0755);
            } else if (st.isSymlink()) {
                throw new LayerFormatException("path " + parents + " goes through the symlink " + part);
            } else if (!st.isDir()) {
                throw new LayerFormatException("path " + parents + " goes through the non-directory " + part);
            }
            dirs.add(rel);
        }
        return path;
    }

    /**
     * An entry name as a relative byte-string path without "./" or trailing "/"; "" for the root. Refuses
     * absolute paths and ".." components.
     */
    static String normalize(String tarName) {
        String name = TarNames.fromTar(tarName);
        if (name.startsWith("/")) {
            throw new LayerFormatException("absolute path " + name);
        }
        StringBuilder out = new StringBuilder();
        for (String part : name.split("/")) {
            if (part.isEmpty() || part.equals(".")) {
                continue;
            }
            if (part.equals("..")) {
                throw new LayerFormatException("path " + name + " leaves the layer (..)");
            }
            if (part.indexOf('\0') >= 0) {
                throw new LayerFormatException("path " + name + " contains a NUL byte");
            }
            if (out.length() > 0) {
                out.append('/');
            }
            out.append(part);
        }
        return out.toString();
    }

    /** A sink for the archive's trailing bytes. */
    private static final class OutputStreamNull extends java.io.OutputStream {
        static final OutputStreamNull INSTANCE = new OutputStreamNull();

        @Override
        public void write(int b) {
        }

        @Override
        public void write(byte[] b, int off, int len) {
        }
    }
}
