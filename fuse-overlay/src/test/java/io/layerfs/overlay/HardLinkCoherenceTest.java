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

    @Test
    void otherNamesOfAHardLinkSeeChangesAtOnce() throws Exception {
        OverlayConfig.Options options = OverlayConfig.Options.defaults();
        assumeTrue(options.binding() == OverlayConfig.Binding.DEV_FUSE, "libfuse 2 gives each name its own inode");
        try (MountFixture fx = new MountFixture(TestImages.kernelFormat(), options)) {
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
}
