package io.layerfs.overlay.devfuse;

import io.layerfs.overlay.union.DirListing;

import java.util.Arrays;
import java.util.List;
import java.util.function.ToLongFunction;

/**
 * A directory listing as READDIR serves it: entries ordered by a cookie (the offset the kernel hands back to
 * continue after an entry) that depends only on the entry's name, as ext4's hash order does. The kernel's
 * per-inode listing cache may be filled by several handles whose listings were taken at different times; with
 * name-derived cookies every piece agrees on the order, so the cache never holds a name twice or skips a name
 * that was there all along. Cookies 1 and 2 follow "." and "..".
 */
final class DirSnapshot {
    static final long AFTER_DOT = 1;
    static final long AFTER_DOTDOT = 2;

    final DirListing listing;
    private final DirListing.Entry[] entries;
    private final long[] cookies;

    DirSnapshot(DirListing listing) {
        this(listing, DirSnapshot::cookie);
    }

    /** With another name hash: lets a test make names collide. */
    DirSnapshot(DirListing listing, ToLongFunction<String> hash) {
        this.listing = listing;
        List<DirListing.Entry> list = listing.entries();
        int n = list.size();
        // Ordered by a primitive sort of the cookies, each entry then dropped into its place: no comparator
        // over objects, whose sort the JIT compiles again and again in a daemon's first minutes.
        long[] hashes = new long[n];
        for (int i = 0; i < n; i++) {
            hashes[i] = hash.applyAsLong(list.get(i).name());
        }
        long[] sorted = hashes.clone();
        Arrays.sort(sorted);
        entries = new DirListing.Entry[n];
        for (int i = 0; i < n; i++) {
            int at = Arrays.binarySearch(sorted, hashes[i]);
            while (at > 0 && sorted[at - 1] == hashes[i]) {
                at--;
            }
            while (entries[at] != null) { // a 62-bit collision: the next place of the same hash
                at++;
            }
            entries[at] = list.get(i);
        }
        cookies = new long[n];
        long previous = AFTER_DOTDOT;
        for (int i = 0; i < n; i++) {
            if (i > 0 && sorted[i] == sorted[i - 1]) {
                orderCollisionByName(i, sorted);
            }
            // colliding names share a hash: the later one (by name) takes the next free cookie instead
            previous = Math.max(sorted[i], previous + 1);
            cookies[i] = previous;
        }
    }

    /** Moves entry {@code i} back among the entries of the same hash until they are in name order. */
    private void orderCollisionByName(int i, long[] sorted) {
        for (int j = i; j > 0 && sorted[j - 1] == sorted[j] && entries[j - 1].name().compareTo(entries[j].name()) > 0; j--) {
            DirListing.Entry t = entries[j - 1];
            entries[j - 1] = entries[j];
            entries[j] = t;
        }
    }

    int size() {
        return entries.length;
    }

    DirListing.Entry entry(int index) {
        return entries[index];
    }

    long cookie(int index) {
        return cookies[index];
    }

    /** Index of the first entry after {@code offset} (an entry's cookie, or 0..2 for the start). */
    int firstAfter(long offset) {
        int i = Arrays.binarySearch(cookies, offset);
        return i >= 0 ? i + 1 : -i - 1;
    }

    /** FNV-1a over the name's bytes (names are ISO-8859-1 byte strings), mixed, in [3, 2^62). */
    static long cookie(String name) {
        long h = 0xcbf29ce484222325L;
        for (int i = 0; i < name.length(); i++) {
            h = (h ^ (name.charAt(i) & 0xff)) * 0x100000001b3L;
        }
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        return Math.max(h >>> 2, AFTER_DOTDOT + 1);
    }
}
