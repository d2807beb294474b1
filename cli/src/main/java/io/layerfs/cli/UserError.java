package io.layerfs.cli;

/** A failure caused by what the user asked for; its message is the one line they see. */
final class UserError extends RuntimeException {
    UserError(String message) {
        super(message);
    }
}
