package io.layerfs.overlay.union;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.layerfs.layer.MergedLookup;
import io.layerfs.posix.Posix;
import io.layerfs.posix.Stat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;

/**
 * Answers "where does this merged path exist": resolves component by component with lstat (never following
 * a symlink inside a layer), honouring whiteouts and opaque directories, and caches the answers.
 * <p>Callers hold the union's read lock while resolving and its write lock while changing anything, then
 * {@link #invalidate} what they changed; so a cached node is never stale.
 */
final class Resolver {
    /** layerfs's record of the lower inode a copied-up object came from; hidden like all trusted.overlay.*. */
    static final String ORIGIN_XATTR = "trusted.overlay.layerfs.origin";

    /**
     * The node this thread's last lookup made, with the lstat that lookup took of its real object: so a stat
     * right after a cache miss (a READDIRPLUS entry, a copy-up's reply) need not lstat the same object again.
     */
    private static final ThreadLocal<Fresh> FRESH = new ThreadLocal<>();

    private record Fresh(Node node, Stat stat) {
    }

    private final LayerStack stack;
    private final Cache<String, Node> cache;

    Resolver(LayerStack stack, long cacheSize) {
        this.stack = stack;
        // maintenance (eviction) on the calling thread: no hand-off to the common pool for each batch of changes
        this.cache = Caffeine.newBuilder().maximumSize(cacheSize).executor(Runnable::run).build();
    }

    /** The node for a merged path; {@link Node#ABSENT} when it does not exist. */
    Node resolve(String path) {
        Node n = cache.getIfPresent(path);
        if (n != null) {
            return n;
        }
        // Up to the nearest cached ancestor, then down, looking up and caching each level: a loop, not recursion,
        // since a hostile layer may be thousands of directories deep. No Caffeine loader: resolving a child
        // resolves its parent, and recursive loads in one map can deadlock.
        ArrayDeque<String> below = new ArrayDeque<>();
        String p = path;
        while (n == null) {
            below.push(p);
            if (p.equals("/")) {
                break;
            }
            p = MergedPath.parent(p);
            n = cache.getIfPresent(p);
        }
        while (!below.isEmpty()) {
            String q = below.pop();
            n = q.equals("/") ? root() : lookup(n, q);
            cache.put(q, n);
        }
        return n;
    }

    /**
     * Resolves {@code path}, a child of the directory {@code parent}, bypassing the cache. The node keeps the
     * caller's string, which the cache (and the dev-fuse node table) keep as well: one copy of the path, not two.
     */
    Node lookup(Node parent, String path) {
        if (!parent.exists() || !parent.isDir()) {
            return Node.ABSENT;
        }
        MergedLookup.Entry e = MergedLookup.lookup(parent.dirs, MergedPath.name(path), parent.inUpper() ? 1 : 0);
        if (e == null) {
            return Node.ABSENT;
        }
        int top = parent.dirLayers[e.top()];
        int[] dirLayers = null;
        if (e.dirs() != null) {
            dirLayers = new int[e.dirs().length];
            for (int i = 0; i < dirLayers.length; i++) {
                dirLayers[i] = parent.dirLayers[e.indexes()[i]];
            }
        }
        Node node = new Node(path, top, e.real(), e.stat().type(),
                inode(top, e.real(), e.stat()), e.dirs(), dirLayers);
        FRESH.set(new Fresh(node, e.stat()));
        return node;
    }

    /** Forgets this thread's last lookup: call before a resolve whose own lookup alone may be used. */
    static void forgetFresh() {
        FRESH.set(null); // not remove(): the thread keeps its slot, and the next lookup does not make a new one
    }

    /**
     * The lstat of {@code n}'s real object if this thread's last lookup (since {@link #forgetFresh}) made
     * {@code n}, else null. Used under the union's lock held since that lookup, so nothing has changed it.
     */
    static Stat freshStat(Node n) {
        Fresh f = FRESH.get();
        return f != null && f.node == n ? f.stat : null;
    }

    private Node root() {
        String[] dirs = new String[stack.size()];
        int[] layers = new int[stack.size()];
        for (int i = 0; i < dirs.length; i++) {
            dirs[i] = stack.root(i);
            layers[i] = i;
        }
        Stat st = Posix.lstat(stack.upper());
        return new Node("/", LayerStack.UPPER, stack.upper(), Stat.S_IFDIR, st.ino(), dirs, layers);
    }

    private static long inode(int layer, String real, Stat st) {
        return layer == LayerStack.UPPER ? originOr(real, st.ino()) : st.ino();
    }

    /** The lower inode an upper object was copied up from, else {@code ino}. */
    static long originOr(String upperReal, long ino) {
        byte[] origin = Posix.lgetxattr(upperReal, ORIGIN_XATTR);
        if (origin != null) {
            try {
                return Long.parseLong(new String(origin, StandardCharsets.US_ASCII));
            } catch (NumberFormatException ignored) {
                // not ours: fall back to the real inode
            }
        }
        return ino;
    }

    void invalidate(String path) {
        cache.invalidate(path);
    }

    /** Drops the path and everything cached below it (after a directory rename or removal). */
    void invalidateTree(String path) {
        cache.invalidate(path);
        String prefix = path.equals("/") ? "/" : path + "/";
        cache.asMap().keySet().removeIf(k -> k.startsWith(prefix));
    }
}
