package io.layerfs.store;

import com.fasterxml.jackson.databind.JsonNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * Imports an image from an OCI image layout (what umoci and skopeo write): picks the manifest by tag,
 * imports every layer blob, checks each blob against its digest and each layer against the diffID in the
 * image config, and records the image under a name.
 */
public final class OciImageImporter {
    private static final Logger log = LoggerFactory.getLogger(OciImageImporter.class);
    static final String REF_NAME = "org.opencontainers.image.ref.name";
    static final String INDEX_TYPE = "application/vnd.oci.image.index.v1+json";

    private final LayerStore store;

    public OciImageImporter(LayerStore store) {
        this.store = store;
    }

    /**
     * @param layout the layout directory (holding index.json and blobs/)
     * @param tag    the ref name to import, or null when the layout holds exactly one image
     * @param name   the name to record the image under
     */
    public ImageRecord importImage(Path layout, String tag, String name, LongConsumer progress) {
        ImageNames.check(name);
        if (!Files.isRegularFile(layout.resolve("index.json"))) {
            throw new StoreException(layout + " is not an OCI image layout (no index.json)");
        }
        JsonNode manifest = readBlob(layout, pickManifest(layout, readJson(layout.resolve("index.json")), tag));
        String configDigest = manifest.path("config").path("digest").asText();
        JsonNode diffIds = readBlob(layout, configDigest).path("rootfs").path("diff_ids");
        JsonNode layers = manifest.path("layers");
        if (layers.size() != diffIds.size()) {
            throw new StoreException("image config lists " + diffIds.size() + " diffIDs for " + layers.size() + " layers");
        }
        List<String> imported = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            String blob = layers.get(i).path("digest").asText();
            Digest expected = Digest.parse(diffIds.get(i).asText());
            Digest got = importLayer(layout, blob, progress);
            if (!got.equals(expected)) {
                throw new StoreException("layer " + i + " (" + blob + ") has diffID " + got + ", but the image config says "
                        + expected);
            }
            imported.add(got.toString());
        }
        ImageRecord image = new ImageRecord(name, imported, configDigest, Instant.now().toString(),
                layout.toAbsolutePath() + (tag == null ? "" : ":" + tag));
        store.putImage(image);
        log.info("imported image {} ({} layers) from {}", name, imported.size(), layout);
        return image;
    }

    private Digest importLayer(Path layout, String blob, LongConsumer progress) {
        Path file = blobPath(layout, blob);
        MessageDigest sha = sha256();
        Digest diffId;
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), sha)) {
            diffId = store.importTar(in, file.toString(), progress);
            in.transferTo(java.io.OutputStream.nullOutputStream());
        } catch (IOException e) {
            throw new StoreException("cannot read blob " + blob + ": " + e.getMessage(), e);
        }
        if (!Digest.of(sha.digest()).toString().equals(blob)) {
            throw new StoreException("blob " + blob + " does not match its digest");
        }
        return diffId;
    }

    private static String pickManifest(Path layout, JsonNode index, String tag) {
        List<JsonNode> candidates = new ArrayList<>();
        for (JsonNode m : index.path("manifests")) {
            if (tag == null || tag.equals(m.path("annotations").path(REF_NAME).asText(null))) {
                candidates.add(m);
            }
        }
        if (candidates.isEmpty()) {
            throw new StoreException(tag == null ? "the layout holds no image" : "no image tagged " + tag + " in " + layout);
        }
        if (candidates.size() > 1) {
            throw new StoreException("the layout holds " + candidates.size() + " images: name one as DIR:TAG");
        }
        JsonNode m = candidates.get(0);
        if (INDEX_TYPE.equals(m.path("mediaType").asText())) { // a multi-platform image: take linux/amd64
            for (JsonNode inner : readBlob(layout, m.path("digest").asText()).path("manifests")) {
                JsonNode p = inner.path("platform");
                if ("linux".equals(p.path("os").asText()) && "amd64".equals(p.path("architecture").asText())) {
                    return inner.path("digest").asText();
                }
            }
            throw new StoreException("the image index has no linux/amd64 manifest");
        }
        return m.path("digest").asText();
    }

    private static JsonNode readBlob(Path layout, String digest) {
        return readJson(blobPath(layout, digest));
    }

    private static Path blobPath(Path layout, String digest) {
        Digest d = Digest.parse(digest);
        Path p = layout.resolve("blobs").resolve(Digest.ALGORITHM).resolve(d.hex());
        if (!Files.isRegularFile(p)) {
            throw new StoreException("blob " + digest + " is missing from " + layout);
        }
        return p;
    }

    private static JsonNode readJson(Path file) {
        try {
            return LayerStore.JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new StoreException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
