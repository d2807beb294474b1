package io.layerfs.cli;

import io.layerfs.cli.TempStore.Container;
import io.layerfs.testing.Sh;
import io.layerfs.testing.TreeSnapshot;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * kill -9 of a container's daemon in the middle of its two long operations, a large copy-up and the rename
 * of a lower directory (which first copies the directory's subtree up in place), on both bindings. Each test
 * kills the daemon during one of them and recovers with {@code layerfs umount} and {@code layerfs mount NAME}:
 * the merged view is then exactly the layer (no partial copy-up, nothing of the work directory), the work
 * directory holds nothing of the copy, and the interrupted operation goes through. Then it kills the daemon
 * during the other one, and {@code layerfs rm} recovers.
 * <p>Heavy writes: {@link WriteCrashIT}; commits: {@link CommitCrashIT}.
 */
class CrashIT {
    static final long BIG = 128_000_000L;
    static final long TREE_BIG = 48_000_000L;

    @RegisterExtension
    static final TempStore store = new TempStore("layerfs-crash");
    /** data/big, and tree/ (small files in 10 directories, a big one, a symlink, an owner and a mode to keep). */
    static String layer;
    static Path layerDir;
    /** The merged view of the layer alone, taken before any mount could change it. */
    static Map<String, String> layerView;

    /** Kills a container's daemon in the middle of an operation. */
    interface Kill {
        void during(Container c) throws Exception;
    }

    @BeforeAll
    static void importTheLayer() {
        layer = store.importLayer("mkdir data tree; head -c " + BIG + " /dev/urandom > data/big"
                + "; for d in $(seq 10); do mkdir tree/d$d; for f in $(seq 20); do echo \"file $d $f\" > tree/d$d/f$f; done; done"
                + "; head -c " + TREE_BIG + " /dev/urandom > tree/d5/zbig"
                + "; chmod 640 tree/d3/f7; chown 1000:1000 tree/d2; ln -s ../d1/f1 tree/d4/link");
        layerDir = store.layerPath(layer);
        layerView = view(layerDir);
    }

    @BothBindings
    void killedDuringALargeCopyUp(String binding) throws Exception {
        Container c = killAndRemount("copyup-" + binding, binding, CrashIT::killDuringAppend);
        Path big = c.mnt().resolve("data/big");
        Sh.ok("echo appended >> '" + big + "'");
        assertThat(Files.size(big)).isEqualTo(BIG + 9);
        assertThat(Sh.run(null, "cmp -s -n " + BIG + " '" + big + "' '" + layerDir + "/data/big'").exit()).isZero();
        assertThat(Sh.ok("tail -c 9 '" + big + "'")).isEqualTo("appended\n");

        killDuringRename(c);
        c.rmAfterKill();
    }

    @BothBindings
    void killedDuringTheRenameOfALowerDirectory(String binding) throws Exception {
        Container c = killAndRemount("rename-" + binding, binding, CrashIT::killDuringRename);
        Sh.ok("mv '" + c.mnt() + "/tree' '" + c.mnt() + "/tree2'"); // over the half-copied tree in the upper
        assertThat(view(c.mnt())).isEqualTo(renamed(layerView, "tree", "tree2"));

        killDuringAppend(c);
        c.rmAfterKill();
    }

    /**
     * A new container whose daemon is killed as {@code kill} says, then unmounted and mounted again: the merged
     * view is the layer, whole, and nothing of the copy the kill interrupted is left.
     */
    private static Container killAndRemount(String name, String binding, Kill kill) throws Exception {
        Container c = store.mount(name, layer, binding);
        kill.during(c);
        // the copy is built in an unnamed (O_TMPFILE) file, which goes with the daemon
        assertThat(c.remountAfterKill()).as("what the interrupted copy-up left in the work directory").isEmpty();
        assertThat(view(c.mnt())).as("the layer, whole").isEqualTo(layerView);
        return c;
    }

    /** Appends to data/big and kills the daemon while its copy-up is half-way. */
    private static void killDuringAppend(Container c) throws Exception {
        TempStore.evictFromPageCache(layerDir.resolve("data/big"));
        Process append = store.start("echo appended >> '" + c.mnt() + "/data/big'");
        c.awaitPartialCopy(BIG, append);
        c.killDaemon();
        TempStore.assertFailsAfterTheKill(append);
        assertThat(c.upper().resolve("data/big")).as("an unfinished copy-up is not in the upper").doesNotExist();
    }

    /** mv tree tree2, killed while the rename copies tree's big file up. */
    private static void killDuringRename(Container c) throws Exception {
        TempStore.evictFromPageCache(layerDir.resolve("tree/d5/zbig"));
        Process mv = store.start("mv '" + c.mnt() + "/tree' '" + c.mnt() + "/tree2'");
        c.awaitPartialCopy(TREE_BIG, mv);
        c.killDaemon();
        TempStore.assertFailsAfterTheKill(mv);
        assertThat(c.upper().resolve("tree")).as("the copy of the tree had begun").isDirectory();
        assertThat(c.upper().resolve("tree2")).doesNotExist();
    }

    private static Map<String, String> view(Path dir) {
        return TreeSnapshot.of(dir, TreeSnapshot.Options.MERGED);
    }

    /** {@code view} with the directory {@code from} (and all below it) named {@code to}. */
    private static Map<String, String> renamed(Map<String, String> view, String from, String to) {
        Map<String, String> out = new TreeMap<>();
        view.forEach((path, entry) -> out.put(path.equals(from) || path.startsWith(from + "/")
                ? to + path.substring(from.length()) : path, entry));
        return out;
    }
}
