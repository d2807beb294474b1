package io.layerfs.overlay;

import io.layerfs.testing.Sh;
import io.layerfs.testing.TestImages;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** A mount reads ahead as far as the disk under its lowers does; the kernel starts FUSE mounts at 128 KiB. */
class ReadaheadTest {
    @Test
    void theMountReadsAheadAsFarAsItsLowersDisk() {
        try (MountFixture fx = new MountFixture(TestImages.kernelFormat())) {
            String disk = Sh.ok(null, "b=/sys/dev/block/$(stat -c %Hd:%Ld '" + fx.lower(0) + "'); "
                    + "cat $b/queue/read_ahead_kb 2>/dev/null || cat $b/../queue/read_ahead_kb 2>/dev/null || echo 0").trim();
            String ours = Sh.ok(null, "cat /sys/class/bdi/$(mountpoint -d '" + fx.mnt() + "')/read_ahead_kb").trim();
            assertThat(Long.parseLong(ours)).as("the mount's read-ahead, KiB (the disk's: %s)", disk)
                    .isEqualTo(Math.max(128, Long.parseLong(disk)));
        }
    }
}
