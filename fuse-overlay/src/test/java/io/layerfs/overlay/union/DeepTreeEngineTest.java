package io.layerfs.overlay.union;

import io.layerfs.layer.OverlayFormat;
import io.layerfs.posix.ByteString;
import io.layerfs.posix.Posix;
import io.layerfs.posix.Stat;
import io.layerfs.testing.Sh;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The engine on a lower tree a thousand directories deep, on a thread with a small stack: resolving, copying up
 * and renaming walk such trees in loops, not recursion, so a hostile layer cannot overflow a FUSE worker's stack
 * (the dev-fuse workers are Java threads with the JVM's default stack size). Without the mount: no FUSE round
 * trips, so the test stays quick; the real-mount cases are in HostileLayerTest.
 */
class DeepTreeEngineTest {
    static final int LEVELS = 1000;
    static final long SMALL_STACK = 160 * 1024;

    String base;
    String lower;
    String upper;
    UnionFs fs;

    @BeforeEach
    void setUp() throws IOException {
        base = ByteString.of(Files.createTempDirectory("layerfs-deepengine"));
        lower = base + "/lower";
        upper = base + "/upper";
        Posix.mkdir(lower, 0755);
        Posix.mkdir(upper, 0755);
        Posix.mkdir(base + "/work", 0755);
        String p = lower;
        for (int i = 0; i < LEVELS; i++) {
            p += "/d";
            Posix.mkdir(p, 0755);
        }
        write(p + "/f", "bottom");
        Posix.lsetxattr(p, "user.deep", "yes".getBytes(StandardCharsets.US_ASCII), 0);
        fs = new UnionFs(new LayerStack(upper, List.of(lower), base + "/work/work"), 100_000);
    }

    @AfterEach
    void tearDown() {
        fs.closeAll();
        Sh.run(null, "rm -rf '" + base + "'");
    }

    private static void write(String path, String content) {
        int fd = Posix.open(path, Posix.O_WRONLY | Posix.O_CREAT | Posix.O_APPEND, 0644);
        try {
            pwrite(fd, content);
        } finally {
            Posix.close(fd);
        }
    }

    private static void pwrite(int fd, String content) {
        byte[] b = content.getBytes(StandardCharsets.ISO_8859_1);
        Pointer buf = Memory.allocateDirect(Posix.runtime(), b.length);
        buf.put(0, b, 0, b.length);
        Posix.pwrite(fd, buf, b.length, 0);
    }

    private static String read(int fd) {
        Pointer buf = Memory.allocateDirect(Posix.runtime(), 100);
        byte[] b = new byte[(int) Posix.pread(fd, buf, 100, 0)];
        buf.get(0, b, 0, b.length);
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    /** Runs {@code body} on a thread with a small stack, rethrowing what it threw. */
    private static void onSmallStack(Runnable body) throws Throwable {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread t = new Thread(null, () -> {
            try {
                body.run();
            } catch (Throwable e) {
                failure.set(e);
            }
        }, "small-stack", SMALL_STACK);
        t.start();
        t.join();
        if (failure.get() != null) {
            throw failure.get();
        }
    }

    @Test
    void aTreeAThousandDirectoriesDeepResolvesCopiesUpAndRenamesOnASmallStack() throws Throwable {
        String deep = "/d".repeat(LEVELS);
        Caller root = new Caller(0, 0, 0);
        onSmallStack(() -> {
            // a cold cache: one lookup resolves every level
            assertThat(fs.lookup(deep + "/f").inUpper()).isFalse();
            // a write copies up 1000 parents, top-down
            OpenFile f = fs.open(deep + "/f", Posix.O_WRONLY | Posix.O_APPEND, root);
            pwrite(f.fd(), "+more");
            fs.release(f.id);
            assertThat(fs.lookup(deep + "/f").inUpper()).isTrue();
            assertThat(fs.getxattr(deep, "user.deep")).asString().isEqualTo("yes");
            fs.mkdir(deep + "/new", 0755, root);
            // a lower directory renamed whole: its merged subtree copied up, then one rename leaving a whiteout
            fs.rename("/d", "/moved");
            assertThat(fs.exists("/d")).isFalse();
            String moved = "/moved" + "/d".repeat(LEVELS - 1);
            OpenFile r = fs.open(moved + "/f", Posix.O_RDONLY, root);
            assertThat(read(r.fd())).isEqualTo("bottom+more");
            fs.release(r.id);
            assertThat(fs.readdir(moved).entries()).extracting(DirListing.Entry::name).containsExactlyInAnyOrder("f", "new");
            fs.rmdir(moved + "/new");
            fs.unlink(moved + "/f");
            assertThat(fs.readdir(moved).entries()).isEmpty();
        });
        // the upper: a whiteout hides the lower tree; the moved copy is complete (the xattr went along) and holds
        // no whiteouts, nothing of its name being below
        Stat whiteout = Posix.lstat(upper + "/d");
        assertThat(OverlayFormat.isWhiteout(whiteout)).isTrue();
        String movedReal = upper + "/moved" + "/d".repeat(LEVELS - 1);
        assertThat(Posix.list(movedReal)).isEmpty();
        assertThat(Posix.lgetxattr(movedReal, "user.deep")).asString().isEqualTo("yes");
        assertThat(Posix.list(base + "/work/work")).isEmpty(); // nothing staged is left behind
    }
}
