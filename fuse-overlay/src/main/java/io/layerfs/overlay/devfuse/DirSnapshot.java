package io.layerfs.overlay.devfuse;

import io.layerfs.overlay.union.DirListing;

import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

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
        this.listing = listing;
        List<DirListing.Entry> list = listing.entries();
        Keyed[] keyed = new Keyed[list.size()];
        for (int i = 0; i < keyed.length; i++) {
            keyed[i] = new Keyed(cookie(list.get(i).name()), list.get(i)); // each name hashed once, not per comparison
        }
        Arrays.sort(keyed, Comparator.comparingLong(Keyed::cookie).thenComparing(k -> k.entry().name()));
        entries = new DirListing.Entry[keyed.length];
        cookies = new long[keyed.length];
        long previous = AFTER_DOTDOT;
        for (int i = 0; i < keyed.length; i++) {
            entries[i] = keyed[i].entry();
            // a 62-bit collision would share a cookie: the later name takes the next free value instead
            previous = Math.max(keyed[i].cookie(), previous + 1);
            cookies[i] = previous;
        }
    }

    private record Keyed(long cookie, DirListing.Entry entry) {
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
