package io.layerfs.layer;

/** A layer archive that is refused: hostile or malformed. The message says which entry and why, in one line. */
public class LayerFormatException extends RuntimeException {
    public LayerFormatException(String message) {
        super(message);
    }

    public LayerFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
