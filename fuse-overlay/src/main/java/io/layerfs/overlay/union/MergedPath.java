package io.layerfs.overlay.union;

/** Helpers for merged paths as FUSE hands them over: absolute, "/" for the root, no trailing slash. */
public final class MergedPath {
    private MergedPath() {
    }

    public static String parent(String path) {
        int i = path.lastIndexOf('/');
        return i <= 0 ? "/" : path.substring(0, i);
    }

    public static String name(String path) {
        return path.substring(path.lastIndexOf('/') + 1);
    }

    public static String child(String dir, String name) {
        return dir.equals("/") ? "/" + name : dir + "/" + name;
    }

    /** True when {@code path} is {@code dir} itself or lies below it. */
    public static boolean isWithin(String path, String dir) {
        return dir.equals("/") || path.equals(dir) || (path.startsWith(dir) && path.charAt(dir.length()) == '/');
    }
}
