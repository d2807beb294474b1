package io.layerfs.layer;

import io.layerfs.posix.DirEntry;
import io.layerfs.posix.Posix;
import io.layerfs.posix.Stat;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The merged listing of a directory: names from each of its real directories, top first; a name seen once
 * hides it below; whiteouts (char 0/0 and {@code .wh.} files) hide without showing; marker files never show.
 */
public final class MergedListing {

    /**
     * A visible entry, as readdir reported it in the topmost directory that has it.
     *
     * @param dir   index into the listed directories of where the entry was found
     * @param type  file type bits (S_IFMT)
     */
    public record Entry(String name, long ino, int type, int dir) {
    }

    private MergedListing() {
    }

    /** Visible entries of the merged directory made of {@code dirs} (real directories, top first). */
    public static List<Entry> entries(String[] dirs) {
        List<Entry> visible = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < dirs.length; i++) {
            List<String> ociHidden = null;
            for (DirEntry e : Posix.list(dirs[i])) {
                String name = e.name();
                if (OverlayFormat.isOciMarkerName(name)) {
                    if (!name.equals(OverlayFormat.OCI_OPAQUE_MARKER)) {
                        // .wh.X hides X in the layers below this one
                        if (ociHidden == null) {
                            ociHidden = new ArrayList<>();
                        }
                        ociHidden.add(name.substring(OverlayFormat.OCI_WHITEOUT_PREFIX.length()));
                    }
                    continue;
                }
                if (!seen.add(name)) {
                    continue;
                }
                int type = typeOf(e.dtype());
                if (type == 0 || type == Stat.S_IFCHR) { // unknown, or maybe a whiteout: ask lstat
                    Stat st = Posix.lstatOrNull(dirs[i] + "/" + name);
                    if (st == null || OverlayFormat.isWhiteout(st)) {
                        continue;
                    }
                    type = st.type();
                }
                visible.add(new Entry(name, e.ino(), type, i));
            }
            if (ociHidden != null) {
                seen.addAll(ociHidden);
            }
        }
        return visible;
    }

    /** Visible names of the merged directory made of {@code dirs}. */
    public static List<String> names(String[] dirs) {
        return entries(dirs).stream().map(Entry::name).toList();
    }

    public static boolean isEmpty(String[] dirs) {
        return entries(dirs).isEmpty();
    }

    private static int typeOf(int dtype) {
        return switch (dtype) {
            case DirEntry.DT_FIFO -> Stat.S_IFIFO;
            case DirEntry.DT_CHR -> Stat.S_IFCHR;
            case DirEntry.DT_DIR -> Stat.S_IFDIR;
            case DirEntry.DT_BLK -> Stat.S_IFBLK;
            case DirEntry.DT_REG -> Stat.S_IFREG;
            case DirEntry.DT_LNK -> Stat.S_IFLNK;
            case DirEntry.DT_SOCK -> Stat.S_IFSOCK;
            default -> 0;
        };
    }
}
