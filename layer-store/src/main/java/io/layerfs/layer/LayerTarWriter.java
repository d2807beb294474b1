package io.layerfs.layer;

import io.layerfs.posix.DirEntry;
import io.layerfs.posix.Posix;
import io.layerfs.posix.Stat;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.archivers.zip.ZipEncoding;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.attribute.FileTime;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a layer directory as a canonical OCI layer tar: depth-first with children sorted by name (so
 * parents come first), fixed header fields (numeric owners, no user/group names, whole-second mtimes, no
 * atime/ctime), hard links as link entries, xattrs as PAX {@code SCHILY.xattr.*} (empty values cannot
 * be represented: PAX reads them as deletions). Whiteouts in any form
 * become {@code .wh.<name>} entries and opaque directories get a {@code .wh..wh..opq} entry; overlay's own
 * xattrs are not written. The same directory always gives the same bytes.
 */
public final class LayerTarWriter {
    private static final int BUFFER = 1 << 20;

    private final TarArchiveOutputStream tar;
    private final Map<String, String> firstLinkByInode = new HashMap<>();
    private final Pointer buf = Memory.allocateDirect(Posix.runtime(), BUFFER);
    private final byte[] chunk = new byte[BUFFER];

    private LayerTarWriter(OutputStream out) {
        tar = new TarArchiveOutputStream(out, StandardCharsets.UTF_8.name());
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        tar.setAddPaxHeadersForNonAsciiNames(true);
    }

    /** Writes the layer rooted at the real directory {@code root} (a byte string) to {@code out}. */
    public static void write(String root, OutputStream out) throws IOException {
        LayerTarWriter w = new LayerTarWriter(out);
        w.tree(root);
        w.tar.finish();
        w.tar.flush();
    }

    /** A directory being written: its entries sorted by name, and the next one to write. */
    private static final class Dir {
        final String real;
        final String name;
        final List<DirEntry> entries;
        int next;

        Dir(String real, String name) {
            this.real = real;
            this.name = name;
            this.entries = new ArrayList<>(Posix.list(real));
            entries.sort((a, b) -> a.name().compareTo(b.name())); // byte order: names are Latin-1 byte strings
        }
    }

    /**
     * Every entry below {@code root}, depth first, each directory's entry before its children. A loop over a stack
     * of directories, not recursion: a layer may be thousands of directories deep.
     */
    private void tree(String root) throws IOException {
        ArrayDeque<Dir> dirs = new ArrayDeque<>();
        dirs.push(new Dir(root, ""));
        while (!dirs.isEmpty()) {
            Dir dir = dirs.peek();
            if (dir.next == dir.entries.size()) {
                dirs.pop();
                continue;
            }
            String name = dir.entries.get(dir.next++).name();
            if (name.equals(OverlayFormat.OCI_OPAQUE_MARKER)) {
                continue; // written right after its directory's entry
            }
            String real = dir.real + "/" + name;
            String entryName = dir.name + name;
            Stat st = Posix.lstat(real);
            if (OverlayFormat.isWhiteout(st) || (OverlayFormat.isOciMarkerName(name) && st.isRegular())) {
                String target = OverlayFormat.isWhiteout(st) ? OverlayFormat.OCI_WHITEOUT_PREFIX + name : name;
                put(marker(dir.name + target, st.mtimeSec()));
                continue;
            }
            entry(real, entryName, st);
            if (st.isDir()) {
                dirs.push(new Dir(real, entryName + "/"));
            }
        }
    }

    private void entry(String real, String name, Stat st) throws IOException {
        TarArchiveEntry e;
        boolean withData = false;
        switch (st.type()) {
            case Stat.S_IFDIR -> e = new Entry(TarNames.toTar(name + "/"), TarConstants.LF_DIR);
            case Stat.S_IFLNK -> {
                e = new Entry(TarNames.toTar(name), TarConstants.LF_SYMLINK);
                e.setLinkName(TarNames.toTar(Posix.readlink(real)));
            }
            case Stat.S_IFREG -> {
                String first = st.nlink() > 1 ? firstLinkByInode.putIfAbsent(st.dev() + ":" + st.ino(), name) : null;
                if (first != null) {
                    e = new Entry(TarNames.toTar(name), TarConstants.LF_LINK);
                    e.setLinkName(TarNames.toTar(first));
                } else {
                    e = new Entry(TarNames.toTar(name), TarConstants.LF_NORMAL);
                    e.setSize(st.size());
                    withData = true;
                }
            }
            case Stat.S_IFCHR, Stat.S_IFBLK -> {
                e = new Entry(TarNames.toTar(name), st.type() == Stat.S_IFCHR ? TarConstants.LF_CHR : TarConstants.LF_BLK);
                e.setDevMajor(Stat.major(st.rdev()));
                e.setDevMinor(Stat.minor(st.rdev()));
            }
            case Stat.S_IFIFO -> e = new Entry(TarNames.toTar(name), TarConstants.LF_FIFO);
            default -> {
                return; // sockets have no tar form
            }
        }
        e.setMode(st.permissions());
        e.setUserId(st.uid());
        e.setGroupId(st.gid());
        e.setUserName("");
        e.setGroupName("");
        e.setModTime(FileTime.fromMillis(st.mtimeSec() * 1000));
        for (String xattr : sorted(Posix.llistxattr(real))) {
            if (OverlayFormat.isPrivateXattr(xattr) || xattr.equals(OverlayFormat.USER_OPAQUE_XATTR)) {
                continue;
            }
            byte[] value = Posix.lgetxattr(real, xattr);
            if (value != null && value.length > 0) { // an empty PAX value reads back as "no such key"
                e.addPaxHeader("SCHILY.xattr." + xattr, new String(value, StandardCharsets.UTF_8));
            }
        }
        tar.putArchiveEntry(e);
        if (withData) {
            copyData(real, st.size());
        }
        tar.closeArchiveEntry();
        if (st.isDir() && OverlayFormat.isOpaque(real)) {
            put(marker(name + "/" + OverlayFormat.OCI_OPAQUE_MARKER, st.mtimeSec()));
        }
    }

    /** A whiteout or opaque marker: an empty regular file owned by root with mode 0. */
    private static TarArchiveEntry marker(String name, long mtimeSec) {
        TarArchiveEntry e = new Entry(TarNames.toTar(name), TarConstants.LF_NORMAL);
        e.setMode(0);
        e.setUserName("");
        e.setGroupName("");
        e.setModTime(FileTime.fromMillis(mtimeSec * 1000));
        return e;
    }

    private void put(TarArchiveEntry e) throws IOException {
        tar.putArchiveEntry(e);
        tar.closeArchiveEntry();
    }

    private void copyData(String real, long size) throws IOException {
        int fd = Posix.open(real, Posix.O_RDONLY, 0);
        try {
            long off = 0;
            while (off < size) {
                long n = Posix.pread(fd, buf, Math.min(BUFFER, size - off), off);
                if (n == 0) {
                    throw new IOException("file shrank while being archived: " + real);
                }
                buf.get(0, chunk, 0, (int) n);
                tar.write(chunk, 0, (int) n);
                off += n;
            }
        } finally {
            Posix.close(fd);
        }
    }

    private static List<String> sorted(List<String> names) {
        names.sort(null);
        return names;
    }

    /**
     * An entry whose ustar header is written in time linear in its name. With long names in PAX records, commons-compress
     * still fills the 100-byte ustar name and link name fields with the longest prefix that fits, found by encoding
     * ever shorter prefixes one character at a time: quadratic in the name's length (seconds per entry for a name of
     * tens of kilobytes in a deep tree). Every character takes at least one byte, so that prefix has at most 100
     * characters: the names cut to 100 characters give the same bytes. The full names are in the PAX record, written
     * before this header.
     */
    static final class Entry extends TarArchiveEntry {
        private static final int CUT = TarConstants.NAMELEN;

        Entry(String name, byte linkFlag) {
            super(name, linkFlag, true); // preserveAbsolutePath: names are taken as they are, so setName restores exactly
        }

        @Override
        public void writeEntryHeader(byte[] outbuf, ZipEncoding encoding, boolean starMode) throws IOException {
            String name = getName();
            String linkName = getLinkName();
            if (name.length() <= CUT && linkName.length() <= CUT) {
                super.writeEntryHeader(outbuf, encoding, starMode);
                return;
            }
            setName(name.length() > CUT ? name.substring(0, CUT) : name);
            setLinkName(linkName.length() > CUT ? linkName.substring(0, CUT) : linkName);
            try {
                super.writeEntryHeader(outbuf, encoding, starMode);
            } finally {
                setName(name);
                setLinkName(linkName);
            }
        }
    }
}
