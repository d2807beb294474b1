package io.layerfs.overlay;

import io.layerfs.testing.Sh;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The daemon never follows a symlink inside a layer while resolving a path. */
class SymlinkSafetyTest {
    Path lower;
    MountFixture fx;

    @BeforeEach
    void setUp() throws IOException {
        lower = Files.createTempDirectory("layerfs-lower");
        Files.createSymbolicLink(lower.resolve("x"), Path.of("/etc"));
        Files.createDirectories(lower.resolve("d"));
        Files.createSymbolicLink(lower.resolve("d/up"), Path.of("../../../../../../etc"));
        Files.writeString(lower.resolve("d/file"), "lower\n");
        fx = new MountFixture(List.of(lower));
    }

    @AfterEach
    void tearDown() {
        fx.close();
        Sh.run(null, "rm -rf '" + lower + "'");
    }

    @Test
    void upperDirectoryOverLowerSymlinkHidesTheHost() throws Exception {
        fx.unmount();
        Files.createDirectories(fx.upper().resolve("x"));
        fx.mount();
        assertThat(Files.isDirectory(fx.mnt().resolve("x"), LinkOption.NOFOLLOW_LINKS)).isTrue();
        assertThat(Files.exists(fx.mnt().resolve("x/passwd"), LinkOption.NOFOLLOW_LINKS)).isFalse();
        assertThat(fx.sh("ls -A x")).isEmpty();
    }

    @Test
    void lowerSymlinkIsReturnedAsASymlinkAndCopiedUpAsOne() throws Exception {
        assertThat(Files.isSymbolicLink(fx.mnt().resolve("x"))).isTrue();
        fx.sh("chown -h 1000:1000 x");
        assertThat(Files.isSymbolicLink(fx.upper().resolve("x"))).isTrue();
        assertThat(Files.readSymbolicLink(fx.upper().resolve("x")).toString()).isEqualTo("/etc");
        assertThat(Sh.ok("stat -c %u /etc")).isEqualTo("0\n");
    }

    @Test
    void writesThroughASymlinkInsideTheRootfsStayInTheRootfs() throws Exception {
        fx.unmount();
        Files.createDirectories(fx.upper().resolve("etc"));
        fx.mount();
        // inside a chroot, /x -> /etc resolves to the merged /etc, never the host's
        Files.copy(Path.of("/bin/busybox"), fx.mnt().resolve("busybox"));
        Sh.ok("chroot '" + fx.mnt() + "' /busybox sh -c 'echo inside > /x/passwd'");
        assertThat(Files.readString(fx.upper().resolve("etc/passwd"))).isEqualTo("inside\n");
        assertThat(Files.readString(Path.of("/etc/passwd"))).doesNotContain("inside");
    }

    @Test
    void relativeSymlinksClimbingOutAreNotFollowedByTheDaemon() {
        assertThat(fx.sh("readlink d/up")).isEqualTo("../../../../../../etc\n");
        assertThat(Files.isSymbolicLink(fx.mnt().resolve("d/up"))).isTrue();
        assertThat(Files.exists(fx.upper().resolve("d"))).isFalse(); // and nothing was copied up by looking
    }
}
