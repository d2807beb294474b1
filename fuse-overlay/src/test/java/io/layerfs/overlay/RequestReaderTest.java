package io.layerfs.overlay;

import io.layerfs.testing.TestImages;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The dev-fuse binding's workers poll the request queue briefly between requests (RequestReader): that spin must
 * end, so an idle mount sleeps, and an unmount still wakes the sleeping worker.
 */
class RequestReaderTest {
    @Test
    void anIdleMountSleeps() throws Exception {
        MountFixture fx = new MountFixture(TestImages.kernelFormat(), DevFuseRegressionTest.devFuse());
        List<String> states = new ArrayList<>();
        try {
            UserDefinedFileAttributeView xattrs = Files.getFileAttributeView(fx.mnt().resolve("etc"),
                    UserDefinedFileAttributeView.class);
            for (int i = 0; i < 5000; i++) { // LISTXATTRs close together (never cached by the kernel): it spins
                xattrs.list();
            }
            Thread.sleep(200);
            for (int i = 0; i < 50; i++) {
                states.addAll(workerStates());
                Thread.sleep(5);
            }
        } finally {
            ConcurrencyTest.closeWithin(fx, 30);
        }
        assertThat(states).as("states of the workers (layerfs-fuse-*) of an idle mount").isNotEmpty()
                .doesNotContain("R");
    }

    /** The scheduler state (R running, S sleeping, ...) of each of this process's FUSE worker threads. */
    private static List<String> workerStates() throws IOException {
        List<String> states = new ArrayList<>();
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path task : tasks.toList()) {
                try {
                    if (Files.readString(task.resolve("comm")).startsWith("layerfs-fuse-")) {
                        String stat = Files.readString(task.resolve("stat"));
                        states.add(stat.substring(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
                    }
                } catch (java.nio.file.NoSuchFileException e) {
                    // the thread ended meanwhile
                }
            }
        }
        return states;
    }
}
