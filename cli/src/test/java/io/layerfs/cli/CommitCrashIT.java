package io.layerfs.cli;

import io.layerfs.cli.TempStore.Container;
import io.layerfs.testing.Sh;
import io.layerfs.testing.TestImages;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code layerfs commit} (an import of the container's upper into the store, then an image record) and kill -9,
 * on both bindings. A commit killed at any point (starting, writing the upper's tar, extracting it) leaves no
 * layer and no image, the container serves on unharmed, and {@code layer gc} removes the staging. A commit
 * during which the container's daemon is killed completes (it reads the upper itself) with the whole upper,
 * and {@code layerfs rm} recovers the container. (StoreCommandsIT kills {@code layer import} of a tar; a
 * commit is the import of a directory, the path {@code layer import DIR} takes.)
 */
class CommitCrashIT {
    static final long BLOB = 48_000_000L;
    /** How far a commit's staging must have come before it is killed: a file in ingest/ID bigger than 16 MB. */
    static final long STAGED = 16_000_000L;
    static final String STARTING = "starting";

    @RegisterExtension
    static final TempStore store = new TempStore("layerfs-commitcrash");
    static String layer;

    @BeforeAll
    static void importTheLayer() {
        layer = store.ok("layer import '" + TestImages.base() + "'").trim();
    }

    @BothBindings
    void killedCommitsLeaveNothingAndAKilledDaemonSpoilsNoCommit(String binding) throws Exception {
        Container c = store.mount("commit-" + binding, layer, binding);
        Sh.ok("head -c " + BLOB + " /dev/urandom > '" + c.mnt() + "/blob' && echo new > '" + c.mnt() + "/etc/new'");
        String blobSum = Sh.ok("sha256sum < '" + c.mnt() + "/blob'");
        String layers = committedLayers();
        String images = images();
        String image = "committed-" + binding;

        // killed while the launcher starts, while it writes the upper's tar, and while it extracts that tar
        for (String stage : new String[]{STARTING, "layer.tar", "diff/blob"}) {
            Process commit = startCommit(c, image);
            awaitStage(stage, commit);
            TempStore.stop(commit); // kill -9 of the launcher's JVM, our child
            assertThat(commit.exitValue()).as("the commit was killed (not done) at %s", stage).isEqualTo(128 + 9);
            assertThat(committedLayers()).as("layers after a commit killed at %s", stage).isEqualTo(layers);
            assertThat(images()).isEqualTo(images);
        }
        assertThat(Sh.ok("cat '" + c.mnt() + "/etc/new' && sha256sum < '" + c.mnt() + "/blob'")).isEqualTo("new\n" + blobSum);

        Process commit = startCommit(c, image);
        awaitStage("layer.tar", commit);
        // paused while it writes the tar, so that a fast machine cannot finish the commit before the kill lands
        Sh.ok("kill -STOP " + commit.pid());
        try {
            assertThat(commit.isAlive()).as("the commit was paused half-way").isTrue();
            c.killDaemon();
        } finally {
            Sh.ok("kill -CONT " + commit.pid());
        }
        assertThat(commit.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String out = new String(commit.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        assertThat(commit.exitValue()).as(out).isZero();
        String digest = out.trim();
        assertThat(store.ok("layer verify " + digest)).startsWith("ok ");
        assertThat(Sh.ok("sha256sum < '" + store.layerPath(digest) + "/blob'")).as("the whole upper").isEqualTo(blobSum);
        c.rmAfterKill();
        assertThat(store.ok("images")).contains(image);

        store.ok("layer gc"); // the image keeps its layers; the killed commits' staging goes
        assertThat(TempStore.list(store.root.resolve("ingest"))).isEmpty();
        assertThat(committedLayers()).contains(digest.substring("sha256:".length()));
    }

    /** {@code layerfs commit NAME --image IMAGE}, its output on its stdout. */
    private static Process startCommit(Container c, String image) throws IOException {
        return new ProcessBuilder("bash", "-c", "exec '" + Cli.launcher() + "' --root '" + store.root + "' commit " + c.name
                + " --image " + image).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    }

    /**
     * Waits until the commit is at {@code stage}: {@link #STARTING} (300 ms in), or a file of an import's staging
     * directory (ingest/ID/FILE) with more than {@link #STAGED} bytes in it.
     */
    private static void awaitStage(String stage, Process commit) throws Exception {
        if (stage.equals(STARTING)) {
            Thread.sleep(300);
            return;
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            for (Path staging : TempStore.list(store.root.resolve("ingest"))) {
                if (TempStore.sizeOrZero(staging.resolve(stage)) > STAGED) {
                    return;
                }
            }
            assertThat(commit.isAlive()).as("the commit runs until %s is staged", stage).isTrue();
            Thread.sleep(1);
        }
        throw new AssertionError(stage + " never staged");
    }

    /** What {@code layer ls} lists: the committed layers' directories. */
    private static String committedLayers() {
        return Sh.ok("ls '" + store.root.resolve("layers/sha256") + "'");
    }

    /** What {@code images} lists: the image records. */
    private static String images() {
        return Sh.ok("ls -A '" + store.root.resolve("images") + "'");
    }
}
