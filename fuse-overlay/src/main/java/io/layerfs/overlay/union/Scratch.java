package io.layerfs.overlay.union;

import io.layerfs.posix.Posix;
import io.layerfs.posix.Trees;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Temporary names in the work directory, where objects are built before an atomic rename into the upper,
 * and where replaced objects go to be deleted. Leftovers of a crash are removed at the next mount.
 */
final class Scratch {
    private final String dir;
    private final AtomicLong counter = new AtomicLong();

    Scratch(String dir) {
        this.dir = dir;
    }

    String newName() {
        return dir + "/#" + Long.toHexString(counter.incrementAndGet());
    }

    /** Empties the scratch directory (but for its marks), creating it if needed. */
    void reset() {
        if (Posix.lstatOrNull(dir) == null) {
            Posix.mkdir(dir, 0700);
        }
        for (var e : Posix.list(dir)) {
            if (!VolatileMark.isMarkDir(e.name())) {
                Trees.remove(dir + "/" + e.name());
            }
        }
    }

    String dir() {
        return dir;
    }
}
