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
    private MergedListing() {
    }

    /** Visible names of the merged directory made of {@code dirs} (real directories, top first). */
    public static List<String> names(String[] dirs) {
        List<String> visible = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (String real : dirs) {
            List<String> ociHidden = null;
            for (DirEntry e : Posix.list(real)) {
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
                if ((e.dtype() == DirEntry.DT_CHR || e.dtype() == DirEntry.DT_UNKNOWN) && isWhiteout(real, name)) {
                    continue;
                }
                visible.add(name);
            }
            if (ociHidden != null) {
                seen.addAll(ociHidden);
            }
        }
        return visible;
    }

    public static boolean isEmpty(String[] dirs) {
        return names(dirs).isEmpty();
    }

    private static boolean isWhiteout(String dir, String name) {
        Stat st = Posix.lstatOrNull(dir + "/" + name);
        return st != null && OverlayFormat.isWhiteout(st);
    }
}
