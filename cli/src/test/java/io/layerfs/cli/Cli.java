package io.layerfs.cli;

import io.layerfs.testing.Sh;
import io.layerfs.testing.TestImages;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** Runs the real launcher, bin/layerfs, as a user would. */
final class Cli {
    private Cli() {
    }

    static Path launcher() {
        Path bin = TestImages.repo().resolve("bin/layerfs");
        if (!Files.isExecutable(bin) || !Files.exists(TestImages.repo().resolve("cli/target/layerfs.jar"))) {
            throw new IllegalStateException("bin/layerfs or the shaded jar is missing: run mvn package first");
        }
        return bin;
    }

    static Sh.Result run(String args) {
        return Sh.run(null, "'" + launcher() + "' " + args);
    }

    /**
     * The pid of the layerfs daemon serving {@code mountpoint} (we started it), from /proc/PID/cmdline: a
     * {@code layerfs ... mount ... MOUNTPOINT} JVM (bin/layerfs's, or one a CLI started as daemon).
     */
    static Optional<Long> daemonPid(Path mountpoint) {
        String out = Sh.ok("for p in /proc/[0-9]*; do c=$(tr '\\0' ' ' < $p/cmdline 2>/dev/null) || continue;"
                + " case \"$c\" in *' io.layerfs.cli.Layerfs '*'mount '*' " + mountpoint + " ') echo ${p#/proc/};; esac; done");
        return out.isBlank() ? Optional.empty() : Optional.of(Long.parseLong(out.trim().split("\n")[0]));
    }
}
