package io.layerfs.overlay.union;

/** Who asked: the uid and gid that new objects are owned by. */
public record Caller(int uid, int gid) {
}
