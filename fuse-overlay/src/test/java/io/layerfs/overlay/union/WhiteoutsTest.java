package io.layerfs.overlay.union;

import io.layerfs.layer.OverlayFormat;
import io.layerfs.posix.ByteString;
import io.layerfs.posix.Posix;
import io.layerfs.posix.Stat;
import io.layerfs.testing.Sh;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Shared whiteouts past the filesystem's link limit (ext4: 65,000 links; the temp directory is on the upper's
 * kind of filesystem here): the next whiteout gets a new shared inode, and every whiteout made stays one.
 * Without a mount, so 65,000 links take a second, not a minute of FUSE requests.
 */
class WhiteoutsTest {
    final String base = ByteString.of(Files.createTempDirectory(Path.of("/var/tmp"), "layerfs-whiteouts"));

    WhiteoutsTest() throws IOException {
    }

    @AfterEach
    void tearDown() {
        Sh.run(null, "rm -rf '" + base + "'");
    }

    @Test
    void aFullSharedWhiteoutIsReplaced() {
        Posix.mkdir(base + "/work", 0700);
        Posix.mkdir(base + "/d", 0755);
        Whiteouts whiteouts = new Whiteouts(new Scratch(base + "/work"));
        int count = 0;
        long firstIno = 0;
        Stat st;
        do {
            String path = base + "/d/w" + count++;
            whiteouts.make(path);
            st = Posix.lstat(path);
            assertThat(OverlayFormat.isWhiteout(st)).as(path).isTrue();
            firstIno = firstIno == 0 ? st.ino() : firstIno;
        } while (st.ino() == firstIno && count < 200_000);
        assertThat(count).as("whiteouts made before the shared one was replaced").isBetween(2_000, 199_999);
        assertThat(Posix.lstat(base + "/d/w0").nlink()).isEqualTo(count - 1);
        assertThat(Posix.lstat(base + "/work/#whiteout").ino()).isEqualTo(st.ino());
    }
}
