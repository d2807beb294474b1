package io.layerfs.overlay;

import io.layerfs.testing.TestImages;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * An fsx-style data integrity tester on files that start in a lower layer: random reads, writes, truncates
 * (growing and shrinking), mmap reads and mmap writes (MappedByteBuffer, with and without msync), fsyncs,
 * reopens and path truncates, each checked against an in-memory model of the file's bytes. Three phases with a
 * remount in between; after each remount, and after the final unmount in the upper on disk, the file must equal
 * the model. The file's other lower hard link must keep the lower data (copy-up breaks hard links, as in
 * overlayfs without index).
 * <p>The mount is served by a child JVM ({@link ForkedMount}): a page fault on a FUSE file from the process that
 * serves it can deadlock (the fault holds the mmap lock; a FUSE worker allocating memory waits for it).
 * <p>On a mismatch the failure names the seed, the op number and the last ops (the log of every op is printed).
 */
class DataIntegrityTest {
    /** A lower file, how many ops per phase, and how often the whole file is compared (1 = after every op). */
    record Target(String path, int opsPerPhase, int fullCheckEvery, int maxLen) {
        @Override
        public String toString() {
            return path;
        }
    }

    static final Target BIG = new Target("app/data/big.txt", 250, 1, 40_000);
    static final Target SMALL = new Target("etc/motd", 250, 1, 9_000);
    static final Target HARD = new Target("features/hard-a", 150, 1, 9_000);
    static final Target SPARSE = new Target("features/sparse", 60, 15, 300_000);

    static Stream<Arguments> cases() {
        return Stream.of(Arguments.of(BIG, 1L), Arguments.of(BIG, 2L), Arguments.of(SMALL, 3L),
                Arguments.of(HARD, 4L), Arguments.of(SPARSE, 5L));
    }

    ForkedMount fx;

    @AfterEach
    void unmount() {
        if (fx != null) {
            fx.close();
        }
    }

    @ParameterizedTest(name = "{0} seed {1}")
    @MethodSource("cases")
    void fileMatchesModel(Target target, long seed) throws Exception {
        fx = new ForkedMount(TestImages.all());
        Path lower = lowerOf(target.path);
        Model model = new Model(Files.readAllBytes(lower));
        byte[] lowerBefore = Files.readAllBytes(lower);
        Fsx fsx = new Fsx(target, seed, model);
        for (int phase = 0; phase < 3; phase++) {
            try {
                fsx.phase(phase);
                fx.remount();
                fsx.checkWhole("after remount " + (phase + 1));
            } catch (IOException | RuntimeException e) {
                throw new AssertionError(fsx.report("failed: " + e), e); // with the op log
            }
        }
        fx.unmount();
        byte[] onDisk = Files.readAllBytes(fx.upper().resolve(target.path));
        if (!Arrays.equals(onDisk, model.bytes())) {
            fail("upper file " + target.path + " differs from the model after unmount (seed " + seed + "): "
                    + Model.firstDifference(onDisk, model.bytes()));
        }
        assertThat(Files.readAllBytes(lower)).as("the lower layer's file is never written").isEqualTo(lowerBefore);
        if (target == HARD) {
            fx.mount();
            assertThat(Files.readAllBytes(fx.mnt().resolve("features/hard-b"))).as("the other hard link keeps the lower data")
                    .isEqualTo(lowerBefore);
        }
    }

    static Path lowerOf(String rel) {
        for (Path l : TestImages.all()) {
            if (Files.exists(l.resolve(rel))) {
                return l.resolve(rel);
            }
        }
        throw new IllegalStateException("no lower has " + rel);
    }

    /** The expected bytes of the file. */
    static final class Model {
        byte[] data;
        int size;

        Model(byte[] initial) {
            data = initial.clone();
            size = initial.length;
        }

        void write(long off, byte[] b) {
            int end = (int) off + b.length;
            ensure(end);
            if (off > size) {
                Arrays.fill(data, size, (int) off, (byte) 0);
            }
            System.arraycopy(b, 0, data, (int) off, b.length);
            size = Math.max(size, end);
        }

        void truncate(long newSize) {
            int n = (int) newSize;
            ensure(n);
            if (n > size) {
                Arrays.fill(data, size, n, (byte) 0);
            }
            size = n;
        }

        private void ensure(int n) {
            if (n > data.length) {
                data = Arrays.copyOf(data, Math.max(n, data.length * 2));
            }
        }

        byte[] slice(long off, int len) {
            if (off >= size) {
                return new byte[0];
            }
            return Arrays.copyOfRange(data, (int) off, (int) Math.min(size, off + len));
        }

        byte[] bytes() {
            return Arrays.copyOf(data, size);
        }

        static String firstDifference(byte[] actual, byte[] expected) {
            int n = Math.min(actual.length, expected.length);
            for (int i = 0; i < n; i++) {
                if (actual[i] != expected[i]) {
                    return "first differing byte at offset " + i + " (actual " + actual[i] + ", expected " + expected[i]
                            + "); sizes " + actual.length + " / " + expected.length;
                }
            }
            return "sizes differ: actual " + actual.length + ", expected " + expected.length;
        }
    }

    /** The random operation sequence on one file of the mount. */
    final class Fsx {
        final Target t;
        final long seed;
        final Model model;
        final Random rnd;
        final List<String> log = new ArrayList<>();
        RandomAccessFile raf;
        FileChannel ch;
        FileChannel early;
        MappedByteBuffer earlyMap;
        int opNo;

        Fsx(Target t, long seed, Model model) {
            this.t = t;
            this.seed = seed;
            this.model = model;
            this.rnd = new Random(seed);
        }

        Path path() {
            return fx.mnt().resolve(t.path);
        }

        void open() throws IOException {
            raf = new RandomAccessFile(path().toFile(), "rw");
            ch = raf.getChannel();
        }

        void close() throws IOException {
            if (raf != null) {
                raf.close();
                raf = null;
                ch = null;
            }
        }

        void phase(int phase) throws IOException {
            log.add("--- phase " + (phase + 1));
            // the first phase starts read-only: the data comes from the lower file until something writes; that
            // fd and a read-only mapping made then stay open through the phase and must see every later change
            if (phase == 0) {
                early = FileChannel.open(path());
                earlyMap = early.map(FileChannel.MapMode.READ_ONLY, 0, Math.min(model.size, 65536));
                FileChannel ro = early;
                {
                    for (int i = 0; i < 20; i++) {
                        long off = rnd.nextInt(model.size + 1);
                        int len = 1 + rnd.nextInt(t.maxLen);
                        opNo++;
                        log.add(opNo + " read (read-only fd, lower file) " + off + "+" + len);
                        check("read-only read", readAt(ro, off, len), model.slice(off, len));
                        MappedByteBuffer m = ro.map(FileChannel.MapMode.READ_ONLY, 0, model.size);
                        byte[] got = new byte[Math.min(len, model.size - (int) Math.min(off, model.size))];
                        m.get((int) Math.min(off, model.size), got);
                        unmap(m);
                        check("read-only mmap read", got, model.slice(off, len));
                    }
                }
            }
            open();
            try {
                for (int i = 0; i < t.opsPerPhase; i++) {
                    step();
                    if (opNo % t.fullCheckEvery == 0) {
                        checkWhole("after op " + opNo);
                    }
                }
            } finally {
                close();
                if (early != null) {
                    unmap(earlyMap);
                    early.close();
                    early = null;
                }
            }
            checkWhole("end of phase " + (phase + 1));
        }

        void step() throws IOException {
            opNo++;
            int w = rnd.nextInt(100);
            int size = model.size;
            if (w < 20) {
                long off = rnd.nextInt(size + 2000);
                int len = 1 + rnd.nextInt(t.maxLen);
                log.add(opNo + " read " + off + "+" + len);
                check("read", readAt(ch, off, len), model.slice(off, len));
            } else if (w < 40) {
                long off = rnd.nextInt(4) == 0 ? size + rnd.nextInt(20_000) : rnd.nextInt(size + 1);
                byte[] b = data(1 + rnd.nextInt(t.maxLen));
                log.add(opNo + " write " + off + "+" + b.length);
                ByteBuffer buf = ByteBuffer.wrap(b);
                long pos = off;
                while (buf.hasRemaining()) {
                    pos += ch.write(buf, pos);
                }
                model.write(off, b);
            } else if (w < 50) {
                long n = switch (rnd.nextInt(4)) {
                    case 0 -> rnd.nextInt(size + 1);
                    case 1 -> size + rnd.nextInt(30_000);
                    case 2 -> rnd.nextInt(100);
                    default -> Math.max(0, size - rnd.nextInt(5000));
                };
                log.add(opNo + " ftruncate " + n);
                raf.setLength(n);
                model.truncate(n);
            } else if (w < 64) {
                if (size == 0) {
                    log.add(opNo + " mmap read (skipped: empty file)");
                    return;
                }
                long off = rnd.nextInt(size);
                int len = 1 + rnd.nextInt((int) Math.min(t.maxLen, size - off));
                log.add(opNo + " mmap read " + off + "+" + len);
                MappedByteBuffer m = ch.map(FileChannel.MapMode.READ_ONLY, off, len);
                byte[] got = new byte[len];
                m.get(got);
                unmap(m);
                check("mmap read", got, model.slice(off, len));
            } else if (w < 80) {
                long off = rnd.nextInt(5) == 0 ? rnd.nextInt(size + 5000) : rnd.nextInt(size + 1);
                byte[] b = data(1 + rnd.nextInt(t.maxLen));
                boolean sync = rnd.nextBoolean();
                log.add(opNo + " mmap write " + off + "+" + b.length + (off + b.length > size ? " (extends)" : "")
                        + (sync ? " + msync" : ""));
                MappedByteBuffer m = ch.map(FileChannel.MapMode.READ_WRITE, off, b.length); // extends the file if needed
                m.put(b);
                if (sync) {
                    m.force();
                }
                unmap(m);
                model.write(off, b);
            } else if (w < 86) {
                log.add(opNo + " fsync");
                ch.force(rnd.nextBoolean());
            } else if (w < 91) {
                log.add(opNo + " reopen");
                close();
                open();
            } else if (w < 95) {
                long n = rnd.nextInt(size + 10_000);
                log.add(opNo + " truncate(path) " + n + " while the fd is open");
                io.layerfs.posix.Posix.truncate(io.layerfs.posix.ByteString.of(path()), n);
                model.truncate(n);
            } else if (w < 97 || early == null) {
                log.add(opNo + " read whole file through a new fd");
                check("new-fd read", Files.readAllBytes(path()), model.bytes());
            } else {
                long off = rnd.nextInt(size + 1);
                int len = 1 + rnd.nextInt(t.maxLen);
                log.add(opNo + " read " + off + "+" + len + " through the read-only fd opened before the copy-up");
                check("read through the early fd", readAt(early, off, len), model.slice(off, len));
                int n = Math.min(earlyMap.capacity(), size); // never touch a mapped page beyond EOF (SIGBUS)
                byte[] got = new byte[n];
                earlyMap.get(0, got);
                check("the mapping made before the copy-up (first " + n + " bytes)", got, model.slice(0, n));
            }
            long seen = ch.size();
            if (seen != model.size) {
                fail(report("size through the fd is " + seen + ", model " + model.size));
            }
            long statSize = Files.size(path());
            if (statSize != model.size) {
                fail(report("size through stat is " + statSize + ", model " + model.size));
            }
        }

        byte[] data(int n) {
            byte[] b = new byte[n];
            rnd.nextBytes(b);
            return b;
        }

        void checkWhole(String when) throws IOException {
            byte[] got;
            try (FileChannel c = FileChannel.open(path())) {
                got = readAt(c, 0, Math.max(model.size, 1) + 4096);
            }
            if (!Arrays.equals(got, model.bytes())) {
                fail(report("whole file " + when + ": " + Model.firstDifference(got, model.bytes())));
            }
        }

        void check(String what, byte[] got, byte[] expected) {
            if (!Arrays.equals(got, expected)) {
                fail(report(what + ": " + Model.firstDifference(got, expected)));
            }
        }

        String report(String problem) {
            String msg = t.path + " seed " + seed + ", op " + opNo + ": " + problem + "\nlast ops:\n  "
                    + String.join("\n  ", log.subList(Math.max(0, log.size() - 25), log.size()));
            System.out.println(msg + "\nall ops:\n  " + String.join("\n  ", log));
            return msg;
        }
    }

    static byte[] readAt(FileChannel c, long off, int len) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(len);
        long pos = off;
        while (buf.hasRemaining()) {
            int n = c.read(buf, pos);
            if (n <= 0) {
                break;
            }
            pos += n;
        }
        return Arrays.copyOf(buf.array(), buf.position());
    }

    /** Unmaps now (not at some later GC), so the mount can be unmounted and remounted between phases. */
    static void unmap(MappedByteBuffer m) {
        try {
            Field f = Class.forName("sun.misc.Unsafe").getDeclaredField("theUnsafe");
            f.setAccessible(true);
            Object unsafe = f.get(null);
            unsafe.getClass().getMethod("invokeCleaner", ByteBuffer.class).invoke(unsafe, m);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot unmap", e);
        }
    }
}
