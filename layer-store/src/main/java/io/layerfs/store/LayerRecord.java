package io.layerfs.store;

/**
 * What the store knows of a layer, stored as layer.json beside its directory.
 *
 * @param digest        the diffID: sha256 of the uncompressed tar it was imported from (or of its canonical tar)
 * @param contentDigest sha256 of the canonical tar of the stored directory, recomputed by verify
 * @param size          bytes of the uncompressed tar
 * @param created       when it was imported (ISO-8601)
 * @param source        what it was imported from (a path, or "-" for stdin)
 */
public record LayerRecord(String digest, String contentDigest, long size, String created, String source) {
}
