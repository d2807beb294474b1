package io.layerfs.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The layers of test-images/, built once per test JVM by the repo's own recipe. */
public final class TestImages {
    private static Path dir;

    private TestImages() {
    }

    public static Path repo() {
        // the repository root is the nearest directory above the working directory holding test-images/
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            if (Files.exists(d.resolve("test-images/build"))) {
                return d;
            }
        }
        throw new IllegalStateException("cannot find test-images/build above " + Path.of("").toAbsolutePath());
    }

    public static synchronized Path dir() {
        if (dir == null) {
            try {
                dir = Files.createTempDirectory("layerfs-images");
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            Sh.ok("'" + repo().resolve("test-images/build") + "' '" + dir + "' >/dev/null");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> Sh.run(null, "rm -rf '" + dir + "'")));
        }
        return dir;
    }

    public static Path base() {
        return dir().resolve("busybox-base");
    }

    public static Path app() {
        return dir().resolve("busybox-app");
    }

    public static Path features() {
        return dir().resolve("features");
    }

    /** All three, top-most first, as overlayfs's lowerdir= takes them. */
    public static List<Path> all() {
        return List.of(features(), app(), base());
    }

    /** The layers that use only the kernel's formats (no OCI markers, no user.overlay.opaque). */
    public static List<Path> kernelFormat() {
        return List.of(app(), base());
    }
}
