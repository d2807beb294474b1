package io.layerfs.overlay.devfuse;

import io.layerfs.overlay.union.MergedPath;
import io.layerfs.posix.Errno;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The kernel's node ids and what they mean. Each id names a merged path (plus, for a hard-linked upper file,
 * its other known names) and counts the lookups the kernel holds on it; FORGET drops them, and an id whose
 * count reaches zero is gone. Ids are never reused.
 * <p>Names of one upper file share one id, keyed by the upper inode, so the kernel sees one inode with one
 * set of attributes, as it does on overlayfs. (Lower files never share: a copy-up may split them.)
 */
final class NodeTable {
    static final long ROOT = 1;

    private static final class Entry {
        String path;
        /** Its other names (hard links), oldest first; none for almost every node, so made on the first. */
        List<String> aliases = List.of();
        long upperIno;
        long lookups;
        /** mtime (ns) and size the file had when last opened: unchanged means the kernel's cached pages are good. */
        long openedMtime = -1;
        long openedSize = -1;
        /** Open handles that go through the kernel's page cache (none may be passed through meanwhile). */
        int cachedOpens;
        /** Its last name is gone (unlinked or replaced while the kernel still holds it): its path names nothing. */
        boolean unlinked;

        Entry(String path, long upperIno) {
            this.path = path;
            this.upperIno = upperIno;
        }
    }

    private final Map<Long, Entry> byId = new HashMap<>();
    private final Map<String, Long> byPath = new HashMap<>();
    private final Map<Long, Long> byUpperIno = new HashMap<>();
    private final AtomicLong nextId = new AtomicLong(ROOT + 1);

    NodeTable() {
        byId.put(ROOT, new Entry("/", 0));
        byPath.put("/", ROOT);
    }

    /** The merged path of a node id; ENOENT (stale) for ids the kernel should not hold. */
    synchronized String path(long id) {
        Entry e = byId.get(id);
        if (e == null) {
            throw new Errno(Errno.ENOENT, "node " + id);
        }
        return e.path;
    }

    /**
     * The id for {@code path}, counting one more kernel lookup. {@code upperIno} is the upper inode of a
     * non-directory in the upper (0 otherwise): a name of an upper file already known gets that file's id.
     */
    synchronized long lookedUp(String path, long upperIno) {
        Long id = byPath.get(path);
        if (id == null && upperIno != 0) {
            id = byUpperIno.get(upperIno);
            if (id != null) {
                Entry e = byId.get(id);
                if (e.aliases.isEmpty()) {
                    e.aliases = new ArrayList<>(1);
                }
                e.aliases.add(path);
                byPath.put(path, id);
            }
        }
        if (id == null) {
            id = nextId.getAndIncrement();
            byId.put(id, new Entry(path, upperIno));
            byPath.put(path, id);
            if (upperIno != 0) {
                byUpperIno.put(upperIno, id);
            }
        }
        byId.get(id).lookups++;
        return id;
    }

    synchronized void forget(long id, long n) {
        if (id == ROOT) {
            return;
        }
        Entry e = byId.get(id);
        if (e == null) {
            return;
        }
        e.lookups -= n;
        if (e.lookups <= 0) {
            byId.remove(id);
            byPath.remove(e.path, id);
            for (String alias : e.aliases) {
                byPath.remove(alias, id);
            }
            if (e.upperIno != 0) {
                byUpperIno.remove(e.upperIno, id);
            }
        }
    }

    /** The node now stands for this upper file (a lower file copied up by a link): its other names will join it. */
    synchronized void adopt(long id, long upperIno) {
        Entry e = byId.get(id);
        if (e == null || upperIno == 0 || e.upperIno == upperIno) {
            return;
        }
        if (e.upperIno != 0) {
            byUpperIno.remove(e.upperIno, id);
        }
        e.upperIno = upperIno;
        byUpperIno.put(upperIno, id);
    }

    /** The path no longer names its node (unlink, rmdir); the node keeps another name if it has one. */
    synchronized void removed(String path) {
        Long id = byPath.remove(path);
        Entry e = id == null ? null : byId.get(id);
        if (e == null) {
            return;
        }
        if (e.path.equals(path)) {
            if (!e.aliases.isEmpty()) {
                e.path = e.aliases.remove(e.aliases.size() - 1);
            } else {
                e.unlinked = true;
                if (e.upperIno != 0) {
                    // the filesystem may give its inode number to a new file, which must not become another name
                    // of this node (the kernel may hold the node until FORGET)
                    byUpperIno.remove(e.upperIno, id);
                    e.upperIno = 0;
                }
            }
        } else if (!e.aliases.isEmpty()) { // (the shared empty list refuses remove, even of what it lacks)
            e.aliases.remove(path);
        }
    }

    /** Whether the node's last name is gone, so that only a file still open on it reaches it. */
    synchronized boolean unlinked(long id) {
        Entry e = byId.get(id);
        return e != null && e.unlinked;
    }

    /** After a rename: the id at {@code from} (and, for a directory, every id below it) moves under {@code to}. */
    synchronized void renamed(String from, String to, boolean dir) {
        removed(to); // whatever the target named is gone
        remap(p -> moved(p, from, to), dir ? null : idsNamed(from));
    }

    /** After a RENAME_EXCHANGE: the ids at (and, with a directory, below) {@code a} and {@code b} trade places. */
    synchronized void exchanged(String a, String b, boolean dirs) {
        remap(p -> {
            String q = moved(p, a, b);
            return q != null ? q : moved(p, b, a);
        }, dirs ? null : idsNamed(a, b));
    }

    /** {@code path} with its prefix {@code from} replaced by {@code to}; null when not at or below {@code from}. */
    private static String moved(String path, String from, String to) {
        return MergedPath.isWithin(path, from) ? to + path.substring(from.length()) : null; // (never the root)
    }

    /** The ids these paths name: what a rename of files (nothing below them) can move. */
    private List<Long> idsNamed(String... paths) {
        List<Long> ids = new ArrayList<>(paths.length);
        for (String p : paths) {
            Long id = byPath.get(p);
            if (id != null) {
                ids.add(id);
            }
        }
        return ids;
    }

    /**
     * Gives every live node name that {@code move} maps (to non-null) its new name: of the nodes {@code only}, or
     * of all (a directory's rename moves every node below it).
     */
    private void remap(java.util.function.UnaryOperator<String> move, List<Long> only) {
        Map<String, Long> moved = new HashMap<>();
        for (Long id : only != null ? only : byId.keySet()) {
            Entry e = byId.get(id);
            if (e == null) {
                continue;
            }
            String p = move.apply(e.path);
            if (p != null && id.equals(byPath.get(e.path))) { // (a removed name stays removed)
                byPath.remove(e.path, id);
                e.path = p;
                moved.put(p, id);
            }
            for (int i = 0; i < e.aliases.size(); i++) {
                String a = move.apply(e.aliases.get(i));
                if (a != null) {
                    byPath.remove(e.aliases.get(i), id);
                    e.aliases.set(i, a);
                    moved.put(a, id);
                }
            }
        }
        byPath.putAll(moved); // after every removal: in an exchange, one node's new name is another's old one
    }

    /**
     * Whether the kernel may keep its cached pages of this file, opened now with this mtime and size
     * (libfuse's auto_cache): only if neither changed since the last open.
     */
    synchronized boolean keepCache(long id, long mtimeNs, long size) {
        Entry e = byId.get(id);
        if (e == null) {
            return false;
        }
        boolean same = e.openedMtime == mtimeNs && e.openedSize == size;
        e.openedMtime = mtimeNs;
        e.openedSize = size;
        return same;
    }

    /**
     * Records an open of node {@code id} and says whether it may be passed through: the kernel keeps one
     * I/O mode per inode, so not while a handle that goes through the page cache is open.
     */
    synchronized boolean opened(long id, boolean wantPassthrough) {
        Entry e = byId.get(id);
        if (e == null) {
            return false;
        }
        if (wantPassthrough && e.cachedOpens == 0) {
            return true;
        }
        e.cachedOpens++;
        return false;
    }

    /** A handle that {@link #opened} did not pass through is closed. */
    synchronized void cachedClosed(long id) {
        Entry e = byId.get(id);
        if (e != null) {
            e.cachedOpens--;
        }
    }

    synchronized int size() {
        return byId.size();
    }
}
