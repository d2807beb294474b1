package io.layerfs.overlay;

import io.layerfs.testing.TestImages;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * With the /dev/fuse binding, names of one upper file share one kernel inode: a change through one name
 * shows through the others at once, whatever the attribute timeout (as on kernel overlayfs).
 */
class HardLinkCoherenceTest {

    /** A mount with the /dev/fuse binding; skipped with jnr-fuse, where libfuse 2 gives each name its own inode. */
    private static MountFixture devFuseMount() {
        OverlayConfig.Options options = OverlayConfig.Options.defaults();
        assumeTrue(options.binding() == OverlayConfig.Binding.DEV_FUSE, "libfuse 2 gives each name its own inode");
        return new MountFixture(TestImages.kernelFormat(), options);
    }

    @Test
    void otherNamesOfAHardLinkSeeChangesAtOnce() throws Exception {
        try (MountFixture fx = devFuseMount()) {
            fx.sh("stat etc/passwd >/dev/null && ln etc/passwd etc/pw2 && ln etc/passwd etc/pw3");
            assertThat(fx.sh("stat -c %h etc/passwd etc/pw2 etc/pw3")).isEqualTo("3\n3\n3\n");
            fx.sh("chmod 600 etc/pw2 && echo appended >> etc/pw3");
            assertThat(fx.sh("stat -c '%a %s %i' etc/passwd etc/pw2 etc/pw3").lines().distinct().count()).isEqualTo(1);
            assertThat(fx.sh("stat -c %a etc/passwd")).isEqualTo("600\n");
            assertThat(Files.readString(fx.mnt().resolve("etc/passwd"))).endsWith("appended\n");
            fx.sh("rm etc/passwd");
            assertThat(fx.sh("stat -c %h etc/pw2; tail -n 1 etc/pw2")).isEqualTo("2\nappended\n");
            fx.sh("mv etc/pw2 root/pw && echo again >> root/pw");
            assertThat(fx.sh("tail -n 1 etc/pw3; stat -c %h etc/pw3")).isEqualTo("again\n2\n");
        }
    }

    /**
     * FIXED BUG (found by the random-differential soak): names of a linked FIFO, symlink or device node were each
     * their own kernel inode (only regular files shared one), so with the default timeout a chown through one name
     * did not show through the other for an hour.
     */
    @Test
    void otherNamesOfALinkedFifoSymlinkOrDeviceSeeChangesAtOnce() throws Exception {
        try (MountFixture fx = devFuseMount()) {
            fx.sh("mkfifo tmp/fifo && ln -s target tmp/sym && mknod tmp/null c 1 3");
            for (String name : new String[] {"tmp/fifo", "tmp/sym", "tmp/null"}) {
                fx.sh("stat " + name + " >/dev/null && ln -P " + name + " etc/" + name.substring(4) + "2");
                fx.sh("chown -h 1000:1001 " + name);
                assertThat(fx.sh("stat -c '%u:%g %h %i' " + name + " etc/" + name.substring(4) + "2").lines().distinct())
                        .as(name).hasSize(1).first().asString().startsWith("1000:1001 2 ");
            }
        }
    }
}
