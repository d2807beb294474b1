package io.layerfs.layer;

import io.layerfs.posix.DirEntry;
import io.layerfs.posix.Posix;
import io.layerfs.posix.Stat;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * What an upper directory changed against its lowers, in {@code docker diff} terms. Walks the upper only:
 * an entry with nothing of its name below is Added (with everything under it); one that exists below is
 * Changed (so are the directories above any change); a whiteout of something that exists below is one
 * Deleted entry (a deleted directory is listed once); an opaque directory also Deletes what it hides.
 */
public final class ChangeScanner {
    public enum Kind { ADDED, CHANGED, DELETED }

    /** One change; the path is absolute in the merged view ("/etc/motd"), as a byte string. */
    public record Change(Kind kind, String path) {
    }

    private final List<Change> out = new ArrayList<>();

    private ChangeScanner() {
    }

    /** Scans {@code upper} against {@code lowersTopFirst}; the result is sorted by path. */
    public static List<Change> scan(String upper, List<String> lowersTopFirst) {
        ChangeScanner s = new ChangeScanner();
        // a loop over a stack of directories, not recursion: an upper may be thousands of directories deep
        ArrayDeque<Dir> dirs = new ArrayDeque<>();
        dirs.push(new Dir(upper, "", lowersTopFirst.toArray(new String[0])));
        while (!dirs.isEmpty()) {
            s.scan(dirs.pop(), dirs);
        }
        s.out.sort(Comparator.comparing(Change::path));
        return s.out;
    }

    /** An upper directory to scan: its merged path ("" for the root) and what it merges with below (or null). */
    private record Dir(String upperDir, String rel, String[] lowerDirs) {
    }

    private void scan(Dir dir, ArrayDeque<Dir> todo) {
        String[] lowerDirs = dir.lowerDirs();
        for (DirEntry e : Posix.list(dir.upperDir())) {
            String name = e.name();
            if (name.equals(OverlayFormat.OCI_OPAQUE_MARKER)) {
                continue;
            }
            String real = dir.upperDir() + "/" + name;
            Stat st = Posix.lstat(real);
            boolean whiteout = OverlayFormat.isWhiteout(st);
            String target = name;
            if (OverlayFormat.isOciMarkerName(name) && st.isRegular()) {
                whiteout = true;
                target = name.substring(OverlayFormat.OCI_WHITEOUT_PREFIX.length());
            }
            String path = dir.rel() + "/" + target;
            MergedLookup.Entry below = lowerDirs == null ? null : MergedLookup.lookup(lowerDirs, target);
            if (whiteout) {
                if (below != null) {
                    out.add(new Change(Kind.DELETED, path));
                }
                continue;
            }
            if (below == null) {
                out.add(new Change(Kind.ADDED, path));
                if (st.isDir()) {
                    todo.push(new Dir(real, path, null));
                }
                continue;
            }
            out.add(new Change(Kind.CHANGED, path));
            if (st.isDir()) {
                if (below.dirs() != null && OverlayFormat.isUpperOpaque(real)) {
                    for (String hidden : MergedListing.names(below.dirs())) {
                        if (!present(real, hidden)) {
                            out.add(new Change(Kind.DELETED, path + "/" + hidden));
                        }
                    }
                }
                todo.push(new Dir(real, path, below.dirs()));
            }
        }
    }

    private static boolean present(String upperDir, String name) {
        Stat st = Posix.lstatOrNull(upperDir + "/" + name);
        return st != null && !OverlayFormat.isWhiteout(st);
    }
}
