package io.layerfs.cli;

import io.layerfs.cli.TempStore.Container;
import io.layerfs.testing.Sh;
import io.layerfs.testing.TestImages;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A container's daemon through a long churn of every kind of operation (create, write, append, read, rename,
 * unlink, mkdir, rmdir, readdir, xattrs, handles held open, copy-ups of lower files), sampling its resident
 * memory and open descriptors: after a warm-up neither grows. The churn lasts {@code layerfs.churn.seconds}
 * (default 30; {@code make soak}: 600) on each binding of {@code layerfs.churn.bindings} (default both).
 * The samples go to cli/target/churn-BINDING.csv.
 * <p>Flat means: the descriptors never exceed their idle level by more than the churn holds open and a margin,
 * and are back to it soon after; the Java heap's live set after a full collection (jcmd) grows by less than
 * 4 MiB (a heap leak shows there long before -Xmx96m stops the daemon); the median RSS of the last third of the
 * samples is within 16 MiB of the first third's (medians ignore the GC's and the allocator's ups and downs, the
 * margin the JIT's code cache, which grows by a few MiB over minutes).
 */
class ChurnIT {
    static final long SECONDS = Long.getLong("layerfs.churn.seconds", 30);
    static final Duration WARM_UP = Duration.ofSeconds(Math.max(5, SECONDS / 10));
    /** A copy-up happens once per lower file, so the layer has a new one for every copy-up of the run. */
    static final int COPY_UPS_PER_SECOND = 10;
    static final int LOWER_DIRS = 50;
    static final int LOWER_FILES = (int) ((SECONDS + WARM_UP.toSeconds() + 10) * COPY_UPS_PER_SECOND);

    @RegisterExtension
    static final TempStore store = new TempStore("layerfs-churn");
    static String layer;

    @BeforeAll
    static void importTheLayer() {
        layer = store.importLayer("python3 -c 'import os\nfor d in range(" + LOWER_DIRS + "): os.mkdir(\"l%02d\" % d)\n"
                + "for i in range(" + LOWER_FILES + "): open(\"l%02d/f%05d\" % (i % " + LOWER_DIRS + ", i), \"wb\").write(os.urandom(4096))'");
    }

    static Stream<String> bindings() {
        return Arrays.stream(System.getProperty("layerfs.churn.bindings", "jnr-fuse,dev-fuse").split(","));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("bindings")
    void theDaemonsMemoryAndDescriptorsStayFlat(String binding) throws Exception {
        Container c = store.mount("churn-" + binding, layer, binding);
        long pid = c.daemonPid();
        Churn churn = new Churn(c.mnt());
        churn.runFor(WARM_UP);
        Heap heapBefore = Heap.of(pid);
        List<String> idleFds = fds(pid); // after jcmd's first visit: its attach socket stays open

        List<Sample> samples = sampleDuring(pid, () -> churn.runFor(Duration.ofSeconds(SECONDS)));
        List<String> endFds = awaitFds(pid, idleFds.size(), Duration.ofSeconds(10));
        Heap heapAfter = Heap.of(pid);
        writeCsv(binding, samples);

        int third = samples.size() / 3;
        long rssFirst = medianRss(samples.subList(0, third));
        long rssLast = medianRss(samples.subList(samples.size() - third, samples.size()));
        int maxFds = samples.stream().mapToInt(Sample::fds).max().orElseThrow();
        String report = String.format("%s: %d rounds, %d copy-ups in %d s; fds idle %d, max %d, after %d; "
                        + "RSS median first third %d KiB, last third %d KiB (min %d, max %d); heap live %s -> %s",
                binding, churn.round, churn.copyUps, SECONDS, idleFds.size(), maxFds, endFds.size(), rssFirst, rssLast,
                samples.stream().mapToLong(Sample::rssKb).min().orElseThrow(),
                samples.stream().mapToLong(Sample::rssKb).max().orElseThrow(), heapBefore, heapAfter);
        System.out.println("churn " + report);

        assertThat((long) churn.copyUps).as(report).isGreaterThan(SECONDS * COPY_UPS_PER_SECOND / 2);
        assertThat(maxFds).as("open descriptors during the churn: " + report).isLessThanOrEqualTo(idleFds.size() + Churn.HELD + 16);
        assertThat(endFds).as("open descriptors after the churn (idle: %s): %s", idleFds, report).hasSizeLessThanOrEqualTo(idleFds.size());
        assertThat(heapAfter.liveKb - heapBefore.liveKb).as("heap live set growth (KiB): " + report).isLessThan(4096);
        assertThat(rssLast - rssFirst).as("resident memory growth (KiB): " + report).isLessThan(16 * 1024);
    }

    /** The churn, round after round, in MNT/churn; only a bounded set of files and open handles lives at a time. */
    static final class Churn {
        static final int LIVE = 32;
        static final int HELD = 8;
        static final byte[] DATA = "0123456789abcdef".repeat(256).getBytes(StandardCharsets.US_ASCII);
        static final byte[] MORE = "appended\n".getBytes(StandardCharsets.US_ASCII);

        final Path mnt;
        final Path dir;
        final Deque<Path> live = new ArrayDeque<>();
        final Deque<FileChannel> held = new ArrayDeque<>();
        int round;
        int copyUps;
        long nextCopyUp;

        Churn(Path mnt) throws IOException {
            this.mnt = mnt;
            this.dir = Files.createDirectory(mnt.resolve("churn"));
        }

        void runFor(Duration d) throws IOException {
            long deadline = System.nanoTime() + d.toNanos();
            while (System.nanoTime() < deadline) {
                round();
            }
            while (!held.isEmpty()) {
                held.remove().close();
            }
        }

        void round() throws IOException {
            int i = ++round;
            Path file = dir.resolve("n" + i);
            Files.write(file, DATA);
            Files.write(file, MORE, StandardOpenOption.APPEND);
            assertThat(Files.size(file)).isEqualTo(DATA.length + MORE.length);
            assertThat(Arrays.copyOfRange(Files.readAllBytes(file), 0, 16)).isEqualTo(Arrays.copyOf(DATA, 16));
            Path renamed = dir.resolve("m" + i);
            Files.move(file, renamed);
            xattrs(renamed);
            hold(renamed);
            live.add(renamed);
            if (live.size() > LIVE) {
                Files.delete(live.remove());
            }
            Path sub = Files.createDirectory(dir.resolve("d" + i));
            Files.write(sub.resolve("f"), MORE);
            assertThat(list(sub)).isEqualTo(1);
            Files.delete(sub.resolve("f"));
            Files.delete(sub);
            assertThat(list(dir)).isLessThanOrEqualTo(LIVE + 1);
            Path lowerDir = mnt.resolve(String.format("l%02d", i % LOWER_DIRS));
            list(lowerDir);
            Files.exists(lowerDir.resolve(String.format("f%05d", (i * 7919) % LOWER_FILES))); // a lookup, of a lower file or a whiteout
            if (System.nanoTime() >= nextCopyUp && copyUps < LOWER_FILES) {
                copyUp(copyUps++);
                nextCopyUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(1) / COPY_UPS_PER_SECOND;
            }
        }

        /** Copies lower file n up four ways (append, chmod, setxattr, rename), then deletes it (a whiteout). */
        void copyUp(int n) throws IOException {
            Path f = mnt.resolve(String.format("l%02d/f%05d", n % LOWER_DIRS, n));
            switch (n % 4) {
                case 0 -> Files.write(f, MORE, StandardOpenOption.APPEND);
                case 1 -> Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
                case 2 -> xattrs(f);
                default -> f = Files.move(f, dir.resolve("lower" + n));
            }
            assertThat(Files.size(f)).isGreaterThanOrEqualTo(4096);
            Files.delete(f);
        }

        static void xattrs(Path f) throws IOException {
            UserDefinedFileAttributeView x = Files.getFileAttributeView(f, UserDefinedFileAttributeView.class);
            x.write("churn", ByteBuffer.wrap(MORE));
            ByteBuffer back = ByteBuffer.allocate(64);
            x.read("churn", back);
            assertThat(back.position()).isEqualTo(MORE.length);
            assertThat(x.list()).contains("churn");
            x.delete("churn");
        }

        /** Keeps a read handle open for a while: the last HELD files stay open across rounds. */
        void hold(Path f) throws IOException {
            held.add(FileChannel.open(f, StandardOpenOption.READ));
            if (held.size() > HELD) {
                held.remove().close();
            }
        }

        static int list(Path dir) throws IOException {
            try (Stream<Path> s = Files.list(dir)) {
                return (int) s.count();
            }
        }
    }

    interface Work {
        void run() throws IOException;
    }

    /** Samples the daemon while {@code work} runs: every second, or 120 times in all for a long run. */
    static List<Sample> sampleDuring(long pid, Work work) throws IOException, InterruptedException {
        List<Sample> samples = Collections.synchronizedList(new ArrayList<>());
        ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor();
        long t0 = System.nanoTime();
        sampler.scheduleAtFixedRate(() -> samples.add(Sample.of(pid, t0)), 0, Math.max(1000, SECONDS * 1000 / 120), TimeUnit.MILLISECONDS);
        try {
            work.run();
        } finally {
            sampler.shutdownNow();
            sampler.awaitTermination(10, TimeUnit.SECONDS);
        }
        return List.copyOf(samples);
    }

    record Sample(long millis, long rssKb, int fds) {
        static Sample of(long pid, long t0) {
            try {
                Matcher m = Pattern.compile("VmRSS:\\s+(\\d+) kB").matcher(Files.readString(Path.of("/proc/" + pid + "/status")));
                assertThat(m.find()).isTrue();
                return new Sample((System.nanoTime() - t0) / 1_000_000, Long.parseLong(m.group(1)), ChurnIT.fds(pid).size());
            } catch (IOException e) {
                throw new IllegalStateException("the daemon " + pid + " is gone", e);
            }
        }
    }

    /** The daemon's Java heap after a full collection: what it holds on to. From jcmd (the JDK's own tool). */
    record Heap(long liveKb, long committedKb, long metaspaceKb) {
        static Heap of(long pid) {
            String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
            Sh.ok("'" + jcmd + "' " + pid + " GC.run > /dev/null");
            String info = Sh.ok("'" + jcmd + "' " + pid + " GC.heap_info");
            long live = 0;
            long committed = 0;
            Matcher gen = Pattern.compile("generation\\s+total (\\d+)K, used (\\d+)K").matcher(info);
            while (gen.find()) {
                committed += Long.parseLong(gen.group(1));
                live += Long.parseLong(gen.group(2));
            }
            Matcher meta = Pattern.compile("Metaspace\\s+used (\\d+)K").matcher(info);
            assertThat(committed).as(info).isPositive();
            assertThat(meta.find()).as(info).isTrue();
            return new Heap(live, committed, Long.parseLong(meta.group(1)));
        }

        @Override
        public String toString() {
            return liveKb + " KiB (committed " + committedKb + " KiB, metaspace " + metaspaceKb + " KiB)";
        }
    }

    /** The daemon's open descriptors: what each one is. */
    static List<String> fds(long pid) {
        try (Stream<Path> s = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            List<String> out = new ArrayList<>();
            for (Path fd : s.toList()) {
                try {
                    out.add(fd.getFileName() + " -> " + Files.readSymbolicLink(fd));
                } catch (IOException e) {
                    // closed meanwhile
                }
            }
            return out;
        } catch (IOException e) {
            throw new IllegalStateException("the daemon " + pid + " is gone", e);
        }
    }

    /** The daemon's open descriptors once they are down to {@code idle} (the kernel releases handles a little late). */
    static List<String> awaitFds(long pid, int idle, Duration max) throws InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        List<String> fds = fds(pid);
        while (fds.size() > idle && System.nanoTime() < deadline) {
            Thread.sleep(100);
            fds = fds(pid);
        }
        return fds;
    }

    static long medianRss(List<Sample> samples) {
        long[] rss = samples.stream().mapToLong(Sample::rssKb).sorted().toArray();
        return rss[rss.length / 2];
    }

    static void writeCsv(String binding, List<Sample> samples) throws IOException {
        StringBuilder csv = new StringBuilder("seconds,rss_kib,fds\n");
        for (Sample s : samples) {
            csv.append(s.millis / 1000.0).append(',').append(s.rssKb).append(',').append(s.fds).append('\n');
        }
        Files.writeString(TestImages.repo().resolve("cli/target/churn-" + binding + ".csv"), csv);
    }
}
