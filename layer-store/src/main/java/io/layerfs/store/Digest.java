package io.layerfs.store;

import java.util.HexFormat;
import java.util.regex.Pattern;

/** A content digest, {@code sha256:<64 hex>}: for a layer, its OCI diffID (sha256 of the uncompressed tar). */
public record Digest(String hex) implements Comparable<Digest> {
    public static final String ALGORITHM = "sha256";
    private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");

    public Digest {
        if (!HEX64.matcher(hex).matches()) {
            throw new IllegalArgumentException("not a sha256 digest: " + hex);
        }
    }

    /** Parses {@code sha256:<64 lowercase hex>}. */
    public static Digest parse(String text) {
        String prefix = ALGORITHM + ":";
        if (!text.startsWith(prefix) || !HEX64.matcher(text.substring(prefix.length())).matches()) {
            throw new IllegalArgumentException("invalid digest '" + text + "': expected sha256:<64 hex digits>");
        }
        return new Digest(text.substring(prefix.length()));
    }

    public static Digest of(byte[] sha256) {
        return new Digest(HexFormat.of().formatHex(sha256));
    }

    /** The first 12 hex digits, as docker shows them. */
    public String shortHex() {
        return hex.substring(0, 12);
    }

    @Override
    public String toString() {
        return ALGORITHM + ":" + hex;
    }

    @Override
    public int compareTo(Digest o) {
        return hex.compareTo(o.hex);
    }
}
