package io.layerfs.store;

import java.util.List;

/**
 * An image: a name for an ordered list of layers (bottom-most first), as imported from an OCI layout.
 *
 * @param name    the image's name in this store
 * @param layers  diffIDs, bottom-most first
 * @param config  the digest of the image config it came with (or null)
 * @param created when it was imported (ISO-8601)
 * @param source  what it was imported from
 */
public record ImageRecord(String name, List<String> layers, String config, String created, String source) {
}
