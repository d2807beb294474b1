package io.layerfs.overlay.union;

import io.layerfs.layer.OverlayFormat;
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
final class DirMerger {
    private DirMerger() {
    }

    static List<String> names(Node dir) {
        List<String> visible = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (String real : dir.dirs) {
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

    static boolean isEmpty(Node dir) {
        return names(dir).isEmpty();
    }

    private static boolean isWhiteout(String dir, String name) {
        Stat st = Posix.lstatOrNull(LayerStack.join(dir, name));
        return st != null && OverlayFormat.isWhiteout(st);
    }
}
