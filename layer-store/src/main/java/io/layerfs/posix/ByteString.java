package io.layerfs.posix;

import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * File names are bytes. layerfs holds them as ISO-8859-1 "byte strings" (one char per byte), which
 * round-trip any name through jnr-ffi when the JVM runs with {@code -Dfile.encoding=ISO-8859-1}.
 * Java's own {@link Path}s decode names with {@code sun.jnu.encoding} (the locale); these helpers convert.
 */
public final class ByteString {
    private static final Charset JNU = Charset.forName(System.getProperty("sun.jnu.encoding", "UTF-8"));

    private ByteString() {
    }

    /** The byte string naming the same file as a Java path. */
    public static String of(Path path) {
        return new String(path.toString().getBytes(JNU), StandardCharsets.ISO_8859_1);
    }

    /** Bytes of a byte string. */
    public static byte[] bytes(String byteString) {
        return byteString.getBytes(StandardCharsets.ISO_8859_1);
    }

    /** A byte string made readable for messages (decoded as UTF-8, invalid bytes replaced). */
    public static String display(String byteString) {
        return new String(bytes(byteString), StandardCharsets.UTF_8);
    }
}
