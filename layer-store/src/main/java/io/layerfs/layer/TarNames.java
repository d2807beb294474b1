package io.layerfs.layer;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Converts between layerfs's byte-string names and tar entry names. Tar names are UTF-8 (PAX requires
 * it, and OCI tools write it), so a name that is not valid UTF-8 cannot cross exactly: it is written as
 * if each byte were a Latin-1 character (deterministic, but not the original bytes on the way back).
 */
final class TarNames {
    private TarNames() {
    }

    static String toTar(String byteString) {
        byte[] bytes = byteString.getBytes(StandardCharsets.ISO_8859_1);
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            return byteString;
        }
    }

    static String fromTar(String tarName) {
        return new String(tarName.getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1);
    }
}
