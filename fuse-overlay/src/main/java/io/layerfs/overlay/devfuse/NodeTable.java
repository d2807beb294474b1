package io.layerfs.overlay.devfuse;

import io.layerfs.posix.Errno;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The kernel's node ids and what they mean: each id names a merged path and counts the lookups the kernel
 * holds on it; FORGET drops them, and an id whose count reaches zero is gone. Ids are never reused.
 * Renames move ids (and everything below a renamed directory) to their new paths.
 */
final class NodeTable {
    static final long ROOT = 1;

    private static final class Entry {
        volatile String path;
        long lookups;

        Entry(String path) {
            this.path = path;
        }
    }

    private final Map<Long, Entry> byId = new ConcurrentHashMap<>();
    private final Map<String, Long> byPath = new ConcurrentHashMap<>();
    private final AtomicLong nextId = new AtomicLong(ROOT + 1);

    NodeTable() {
        byId.put(ROOT, new Entry("/"));
        byPath.put("/", ROOT);
    }

    /** The merged path of a node id; ENOENT (stale) for ids the kernel should not hold. */
    String path(long id) {
        Entry e = byId.get(id);
        if (e == null) {
            throw new Errno(Errno.ENOENT, "node " + id);
        }
        return e.path;
    }

    /** The id for {@code path}, counting one more kernel lookup (new ids start at one). */
    synchronized long lookedUp(String path) {
        Long id = byPath.get(path);
        Entry e;
        if (id == null) {
            id = nextId.getAndIncrement();
            e = new Entry(path);
            byId.put(id, e);
            byPath.put(path, id);
        } else {
            e = byId.get(id);
        }
        e.lookups++;
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
        }
    }

    /** The path no longer names this node (unlink, rmdir): later lookups of that path get a new id. */
    synchronized void removed(String path) {
        byPath.remove(path);
    }

    /** After a rename: ids at {@code from} (and, for a directory, below it) now name paths under {@code to}. */
    synchronized void renamed(String from, String to, boolean dir) {
        byPath.remove(to);
        if (!dir) {
            Long id = byPath.remove(from);
            if (id != null && byId.containsKey(id)) {
                byId.get(id).path = to;
                byPath.put(to, id);
            }
            return;
        }
        String prefix = from + "/";
        for (Map.Entry<Long, Entry> me : byId.entrySet()) {
            Entry e = me.getValue();
            String p = e.path;
            String moved = p.equals(from) ? to : p.startsWith(prefix) ? to + p.substring(from.length()) : null;
            if (moved != null) {
                byPath.remove(p, me.getKey());
                e.path = moved;
                byPath.put(moved, me.getKey());
            }
        }
    }

    int size() {
        return byId.size();
    }
}
