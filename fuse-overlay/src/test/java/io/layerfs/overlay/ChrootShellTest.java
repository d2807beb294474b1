package io.layerfs.overlay;

import io.layerfs.testing.TestImages;

import io.layerfs.testing.Sh;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;

import static org.assertj.core.api.Assertions.assertThat;

/** A busybox shell chrooted into the mounted test-image rootfs writes, appends and deletes files. */
class ChrootShellTest {

    @Test
    void busyboxShellChangesFilesInTheMergedRootfs() throws Exception {
        try (MountFixture fx = new MountFixture(TestImages.all())) {
            String out = Sh.ok("chroot '" + fx.mnt() + "' /bin/sh -c '"
                    + "set -e; cd /root; echo one > notes; echo two >> notes; cat notes;"
                    + "echo extra >> /etc/motd; tail -n 1 /etc/motd;"
                    + "rm /app/data/big.txt; rm -r /usr/share; mkdir -p /usr/share/x; mv /etc/profile /root/profile;"
                    + "ls /app/data | wc -l; sha256sum /bin/busybox > /root/sum; sha256sum -c /root/sum'");
            assertThat(out).isEqualTo("one\ntwo\nextra\n0\n/bin/busybox: OK\n");
            assertThat(Files.readString(fx.upper().resolve("root/notes"))).isEqualTo("one\ntwo\n");
            assertThat(Files.exists(fx.mnt().resolve("etc/profile"))).isFalse();
            assertThat(Files.exists(TestImages.base().resolve("etc/profile"))).isTrue();
            assertThat(Sh.ok("stat -c %F '" + fx.upper().resolve("app/data/big.txt") + "'"))
                    .isEqualTo("character special file\n");
        }
    }
}
