package io.layerfs.overlay;

import io.layerfs.testing.TreeSnapshot;

import io.layerfs.testing.TestImages;

import io.layerfs.testing.Sh;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The upper directory format is the kernel's: each side mounts what the other wrote and sees the same tree. */
class InteropTest {

    private static void runScript(java.nio.file.Path mnt) {
        for (String line : DifferentialTest.SCRIPT.strip().split("\n")) {
            Sh.run(mnt, line);
        }
    }

    @Test
    void kernelOverlayfsMountsAnUpperWrittenByLayerfs() throws Exception {
        try (MountFixture ours = new MountFixture(TestImages.kernelFormat())) {
            runScript(ours.mnt());
            ours.remount(); // fresh kernel caches (see OverlayConfig on hard links)
            Map<String, String> expected = TreeSnapshot.of(ours.mnt(), TreeSnapshot.Options.MERGED);
            ours.unmount();
            try (KernelOverlay kernel = new KernelOverlay(TestImages.kernelFormat(), ours.upper())) {
                assertThat(TreeSnapshot.of(kernel.mnt(), TreeSnapshot.Options.MERGED)).isEqualTo(expected);
            }
        }
    }

    @Test
    void layerfsMountsAnUpperWrittenByKernelOverlayfs() {
        try (KernelOverlay kernel = new KernelOverlay(TestImages.kernelFormat())) {
            runScript(kernel.mnt());
            Map<String, String> expected = TreeSnapshot.of(kernel.mnt(), TreeSnapshot.Options.MERGED);
            kernel.unmount();
            try (MountFixture ours = new MountFixture(TestImages.kernelFormat())) {
                ours.unmount();
                Sh.ok("rm -rf '" + ours.upper() + "' && cp -a '" + kernel.upper() + "' '" + ours.upper() + "'");
                ours.mount();
                assertThat(TreeSnapshot.of(ours.mnt(), TreeSnapshot.Options.MERGED)).isEqualTo(expected);
            }
        }
    }
}
