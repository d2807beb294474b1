package io.layerfs.cli;

import io.layerfs.cli.TempStore.Container;
import io.layerfs.testing.Sh;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * kill -9 of a container's daemon during heavy writes (two writers creating 1 MiB files, one appending to a
 * lower file, dd streaming zeros), on both bindings. After {@code layerfs umount} and {@code layerfs mount
 * NAME} every file holds a prefix of what its writer wrote (never other bytes), the appended lower file is the
 * whole lower content followed by a prefix of the appended stream, and writing goes on; a second kill during
 * heavy writes is recovered by {@code layerfs rm}; the layer never changed.
 * <p>With the dev-fuse binding (FUSE passthrough) the kernel goes on writing the upper files that were open
 * once the daemon is gone, so a writer holding its file open does not fail: the test stops its writers itself.
 */
class WriteCrashIT {
    static final long LOG = 8L << 20;

    @RegisterExtension
    static final TempStore store = new TempStore("layerfs-writecrash");
    /** data/log, the lower file appended to. */
    static String layer;
    static Path layerDir;
    static String lowerLogSum;
    static Path writers;

    @BeforeAll
    static void importTheLayer() throws IOException {
        layer = store.importLayer("mkdir data; head -c " + LOG + " /dev/urandom > data/log");
        layerDir = store.layerPath(layer);
        lowerLogSum = lowerLogSum();
        writers = store.base.resolve("writers.py");
        Files.writeString(writers, WRITERS);
    }

    /**
     * "files DIR": 64 files of 1 MiB (each its own name, repeated) in 64 KiB writes; "append FILE": 64 MiB of
     * numbered lines in 64 KiB writes; "check MNT LOWER ROUND": that every file of ROUND is a prefix of what its
     * writer writes, the appended file the whole lower content and a prefix of the appended stream, and ROUND/zero
     * zeros; prints the counts.
     */
    static final String WRITERS = """
            import os, sys
            MIB = 1 << 20
            def content(name):
                unit = (name + "\\n").encode()
                return (unit * (MIB // len(unit) + 1))[:MIB]
            def stream(start, n):
                return b"".join(b"append-%010d\\n" % i for i in range(start, start + n))
            if sys.argv[1] == "files":
                os.makedirs(sys.argv[2])
                for i in range(64):
                    name = "f%05d" % i
                    data = content(name)
                    with open(os.path.join(sys.argv[2], name), "wb", buffering=0) as f:
                        for off in range(0, MIB, 65536):
                            f.write(data[off:off + 65536])
            elif sys.argv[1] == "append":
                with open(sys.argv[2], "ab", buffering=0) as f:
                    for i in range(0, 3641 * 1024, 3641):  # 64 MiB
                        f.write(stream(i, 3641))  # 65538 bytes
            elif sys.argv[1] == "check":
                mnt, lower, rnd = sys.argv[2:5]
                bad, files = [], 0
                for d in ("new1", "new2"):
                    for name in sorted(os.listdir(os.path.join(mnt, rnd, d))):
                        files += 1
                        if not content(name).startswith(open(os.path.join(mnt, rnd, d, name), "rb").read()):
                            bad.append(d + "/" + name)
                log = open(os.path.join(mnt, "data/log"), "rb").read()
                low = open(os.path.join(lower, "data/log"), "rb").read()
                extra = log[len(low):]
                if not log.startswith(low):
                    bad.append("data/log: not the whole lower content (%d of %d bytes)" % (len(log), len(low)))
                elif stream(0, len(extra) // 18 + 1)[:len(extra)] != extra:
                    bad.append("data/log: appended bytes are not the appended stream")
                if open(os.path.join(mnt, rnd, "zero"), "rb").read().strip(b"\\0"):
                    bad.append("zero: not all zero bytes")
                print("files=%d appended=%d bad=%s" % (files, len(extra), bad))
            """;

    @BothBindings
    void killedDuringHeavyWrites(String binding) throws Exception {
        Container c = store.mount("writes-" + binding, layer, binding);
        writeAndKill(c, "round1");
        c.remountAfterKill();
        assertThat(names(c.mnt())).as("nothing but what was written").containsExactlyInAnyOrder("data", "round1");
        assertThat(names(c.mnt().resolve("round1"))).containsExactlyInAnyOrder("new1", "new2", "zero");
        String report = Sh.ok("python3 '" + writers + "' check '" + c.mnt() + "' '" + layerDir + "' round1");
        Matcher counts = Pattern.compile("^files=(\\d+) appended=(\\d+) bad=\\[]$").matcher(report.trim());
        assertThat(counts.matches()).as(report).isTrue();
        assertThat(Long.parseLong(counts.group(1))).as("files written").isGreaterThan(10);
        assertThat(Long.parseLong(counts.group(2))).as("bytes appended").isGreaterThan(1 << 20);
        assertThat(Sh.run(c.mnt(), "find . > /dev/null").exit()).as("the whole tree reads").isZero();

        writeAndKill(c, "round2");
        c.rmAfterKill();
        assertThat(lowerLogSum()).as("the layer under it never changed").isEqualTo(lowerLogSum);
    }

    /**
     * Starts the writers in ROUND (and the append to data/log), lets each do real work, kills the daemon, and
     * stops the writers.
     */
    private static void writeAndKill(Container c, String round) throws Exception {
        Path upper = c.upper();
        long logBefore = Math.max(LOG, TempStore.sizeOrZero(upper.resolve("data/log")));
        String py = "python3 '" + writers + "' ";
        Process writing = store.start("cd '" + c.mnt() + "' && mkdir " + round + " && { " + py + "files " + round + "/new1 & "
                + py + "files " + round + "/new2 & " + py + "append data/log & dd if=/dev/zero of=" + round + "/zero bs=1M count=100"
                + " status=none & wait; }");
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!(countFiles(upper.resolve(round + "/new1")) > 5 && countFiles(upper.resolve(round + "/new2")) > 5
                    && TempStore.sizeOrZero(upper.resolve("data/log")) > logBefore + (1 << 20)
                    && TempStore.sizeOrZero(upper.resolve(round + "/zero")) > (20 << 20))) {
                assertThat(System.nanoTime()).as("the writers make progress").isLessThan(deadline);
                assertThat(writing.isAlive()).as("the writers still run").isTrue();
                Thread.sleep(20);
            }
            c.killDaemon();
        } finally {
            TempStore.stop(writing);
        }
    }

    private static long countFiles(Path dir) {
        try {
            return TempStore.list(dir).size();
        } catch (IOException e) {
            return 0;
        }
    }

    private static String lowerLogSum() {
        return Sh.ok("sha256sum < '" + layerDir + "/data/log'");
    }

    private static List<String> names(Path dir) throws IOException {
        return TempStore.list(dir).stream().map(p -> p.getFileName().toString()).toList();
    }
}
