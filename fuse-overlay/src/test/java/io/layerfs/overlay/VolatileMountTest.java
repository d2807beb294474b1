package io.layerfs.overlay;

import io.layerfs.testing.Sh;
import io.layerfs.testing.TestImages;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code --volatile}, as kernel overlayfs's {@code volatile}: no fsync, the kernel's mark
 * ({@code WORK/work/incompat/volatile}) while mounted, gone after a clean unmount; a mark left by a crash stops
 * the next mount, of layerfs as of the kernel.
 */
class VolatileMountTest {
    MountFixture fx;

    @AfterEach
    void unmount() {
        if (fx != null) {
            fx.close();
        }
    }

    private Path mark() {
        return fx.work().resolve("work/incompat/volatile");
    }

    @Test
    void aVolatileMountIsMarkedWhileMountedAndCleanAfterwards() {
        fx = new MountFixture(TestImages.kernelFormat(), OverlayConfig.Options.defaults().withVolatile(true));
        assertThat(mark()).isDirectory();
        fx.sh("echo more >> etc/os-release && mkdir -p tmp/d && head -c 300000 /dev/urandom > tmp/d/blob && sync tmp/d/blob");
        String sums = fx.sh("sha256sum etc/os-release tmp/d/blob");
        fx.unmount();
        assertThat(mark()).doesNotExist();
        assertThat(fx.work().resolve("work/incompat")).doesNotExist();
        // the kernel mounts the upper as it is, with every change
        try (KernelOverlay k = new KernelOverlay(TestImages.kernelFormat(), fx.upper())) {
            assertThat(k.sh("sha256sum etc/os-release tmp/d/blob")).isEqualTo(sums);
        }
        fx.mount(); // and so does layerfs, volatile or not
        assertThat(fx.sh("sha256sum etc/os-release tmp/d/blob")).isEqualTo(sums);
    }

    @Test
    void aPlainMountLeavesNoMark() {
        fx = new MountFixture(TestImages.kernelFormat());
        fx.sh("echo more >> etc/os-release");
        assertThat(fx.work().resolve("work/incompat")).doesNotExist();
    }

    @Test
    void aMarkLeftByACrashStopsTheNextMountAsTheKernelDoes() throws Exception {
        fx = new MountFixture(TestImages.kernelFormat(), OverlayConfig.Options.defaults().withVolatile(true));
        fx.sh("echo more >> etc/os-release");
        fx.unmount();
        // what a killed daemon leaves: the mark, naming a process that is gone
        Files.createDirectories(mark());
        Files.createFile(mark().resolve("layerfs-" + deadPid()));
        assertThatThrownBy(fx::mount).isInstanceOf(OverlayConfigException.class)
                .hasMessageContaining("was mounted volatile and not unmounted cleanly")
                .hasMessageContaining(mark().toString());
        String lowerdir = TestImages.kernelFormat().stream().map(Path::toString).collect(Collectors.joining(":"));
        int kernel = Sh.run(null, "mount -t overlay overlay -o 'lowerdir=" + lowerdir + ",upperdir=" + fx.upper()
                + ",workdir=" + fx.work() + "' '" + fx.mnt() + "'").exit();
        if (kernel == 0) {
            Sh.ok("umount '" + fx.mnt() + "'");
        }
        assertThat(kernel).as("the kernel refuses too").isNotZero();
        assertThat(mark()).as("the mark stays for the user to judge").isDirectory();
        Sh.ok("rm -r '" + mark() + "'");
        fx.mount();
        assertThat(fx.sh("tail -1 etc/os-release")).isEqualTo("more\n");
    }

    /** A pid no process has: a short-lived child's, once it is gone. */
    private static long deadPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        return p.pid();
    }
}
