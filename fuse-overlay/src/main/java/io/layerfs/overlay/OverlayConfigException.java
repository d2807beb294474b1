package io.layerfs.overlay;

/** A mount that cannot be made as asked: bad directories, a busy mountpoint. The message is one line for users. */
public class OverlayConfigException extends RuntimeException {
    public OverlayConfigException(String message) {
        super(message);
    }

    public OverlayConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
