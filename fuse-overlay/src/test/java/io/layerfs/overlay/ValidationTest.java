package io.layerfs.overlay;

import io.layerfs.testing.Sh;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Bad input is refused with one clear line, and nothing is mounted or changed. */
class ValidationTest {
    Path base;
    Path lower;
    Path upper;
    Path work;
    Path mnt;

    @BeforeEach
    void setUp() throws IOException {
        base = Files.createTempDirectory("layerfs-validate");
        lower = Files.createDirectories(base.resolve("lower"));
        upper = Files.createDirectories(base.resolve("upper"));
        work = Files.createDirectories(base.resolve("work"));
        mnt = Files.createDirectories(base.resolve("mnt"));
    }

    @AfterEach
    void tearDown() {
        Sh.run(null, "rm -rf '" + base + "'");
    }

    private void refused(OverlayConfig config, Path mountpoint, String message) {
        refusedWithoutMounting(config, mountpoint, message);
        assertThat(Mounts.isMountpoint(mountpoint.toAbsolutePath().normalize())).isFalse();
    }

    private void refusedWithoutMounting(OverlayConfig config, Path mountpoint, String message) {
        assertThatThrownBy(() -> OverlayFs.mount(config, mountpoint).close())
                .isInstanceOf(OverlayConfigException.class)
                .hasMessageContaining(message)
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
        assertThat(Sh.ok("find '" + upper + "' '" + work + "' -mindepth 1")).isEmpty();
    }

    @Test
    void missingLower() {
        refused(new OverlayConfig(List.of(base.resolve("nope")), upper, work), mnt, "does not exist");
    }

    @Test
    void lowerIsAFile() throws IOException {
        Path f = Files.writeString(base.resolve("file"), "x");
        refused(new OverlayConfig(List.of(f), upper, work), mnt, "is not a directory");
    }

    @Test
    void missingUpperOrWork() {
        refused(new OverlayConfig(List.of(lower), base.resolve("no-upper"), work), mnt, "upper directory");
        refused(new OverlayConfig(List.of(lower), upper, base.resolve("no-work")), mnt, "work directory");
    }

    @Test
    void workOnAnotherFilesystem() throws IOException {
        Path shm = Files.createTempDirectory(Path.of("/dev/shm"), "layerfs-work");
        try {
            refused(new OverlayConfig(List.of(lower), upper, shm), mnt, "not on the same filesystem");
        } finally {
            Sh.run(null, "rm -rf '" + shm + "'");
        }
    }

    @Test
    void mountpointInsideALayer() throws IOException {
        Path inside = Files.createDirectories(lower.resolve("m"));
        refused(new OverlayConfig(List.of(lower), upper, work), inside, "inside layer directory");
        assertThat(Sh.ok("find '" + lower + "' -mindepth 1")).isEqualTo(inside + "\n");
    }

    @Test
    void missingMountpoint() {
        refused(new OverlayConfig(List.of(lower), upper, work), base.resolve("nope"), "mountpoint");
    }

    @Test
    void alreadyMountedMountpoint() {
        try (MountFixture fx = new MountFixture(List.of(lower))) {
            refusedWithoutMounting(new OverlayConfig(List.of(lower), upper, work), fx.mnt(), "already a mount point");
            assertThat(fx.sh("ls -A")).isEmpty(); // the first mount still serves
        }
    }

    @Test
    void upperInsideWork() throws IOException {
        Path nested = Files.createDirectories(work.resolve("up"));
        assertThatThrownBy(() -> OverlayFs.mount(new OverlayConfig(List.of(lower), nested, work), mnt))
                .hasMessageContaining("must not contain each other");
    }
}
