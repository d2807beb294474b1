package io.layerfs.store;

import java.nio.file.Path;

/**
 * Where everything lives under a store root. The only class that knows the on-disk layout:
 * <pre>
 *   layers/sha256/&lt;hex&gt;/layer.json   metadata ({@link LayerRecord})
 *   layers/sha256/&lt;hex&gt;/diff/        the read-only layer directory handed to mounts
 *   ingest/&lt;id&gt;/                      imports being staged; invisible until renamed into layers/
 *   holds/&lt;hex&gt;/&lt;holder&gt;              one empty file per hold (a mount using the layer)
 *   images/&lt;name&gt;.json                 image records ({@link ImageRecord})
 *   store.lock                         flock: shared for imports and holds, exclusive for rm and gc
 * </pre>
 */
public record StoreLayout(Path root) {
    public StoreLayout {
        root = root.toAbsolutePath().normalize();
    }

    public Path layers() {
        return root.resolve("layers").resolve(Digest.ALGORITHM);
    }

    public Path layer(Digest d) {
        return layers().resolve(d.hex());
    }

    public Path layerDiff(Digest d) {
        return layer(d).resolve("diff");
    }

    public Path layerRecord(Digest d) {
        return layer(d).resolve("layer.json");
    }

    public Path ingest() {
        return root.resolve("ingest");
    }

    public Path holds() {
        return root.resolve("holds");
    }

    public Path holds(Digest d) {
        return holds().resolve(d.hex());
    }

    public Path images() {
        return root.resolve("images");
    }

    public Path image(String name) {
        return images().resolve(name + ".json");
    }

    public Path lockFile() {
        return root.resolve("store.lock");
    }
}
