package io.layerfs.store;

import io.layerfs.layer.ChangeScanner;
import io.layerfs.layer.LayerTarWriter;
import io.layerfs.posix.ByteString;
import io.layerfs.posix.Posix;
import io.layerfs.posix.Stat;
import io.layerfs.testing.Sh;
import io.layerfs.testing.TreeSnapshot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Layers holding paths longer than PATH_MAX (5000 bytes and more below the layer root): tars with such names
 * import, export and round-trip with their digests; a directory with such a tree imports canonically; the
 * change scanner and the changeset tar (what {@code layerfs diff} prints and writes) see changes that deep.
 */
class DeepLayerTest {
    static final String SEG = "e".repeat(200);
    static final int LEVELS = 25;
    /** The relative path of the deep directory: 25 names of 200 bytes, 5024 bytes. */
    static final String DEEP = String.join("/", java.util.Collections.nCopies(LEVELS, SEG));

    Path base;
    LayerStore store;

    @BeforeEach
    void setUp() throws IOException {
        base = Files.createTempDirectory("layerfs-deep");
        store = LayerStore.open(base.resolve("root"));
    }

    @AfterEach
    void tearDown() {
        Sh.run(null, "rm -rf '" + base + "'");
    }

    private Digest importFile(Path tar) throws IOException {
        try (InputStream in = Files.newInputStream(tar)) {
            return store.importTar(in, tar.toString(), null);
        }
    }

    private Path export(Digest d, String name) throws IOException {
        Path out = base.resolve(name);
        try (OutputStream o = Files.newOutputStream(out)) {
            store.export(d, o);
        }
        return out;
    }

    /** "type name -> link" per entry of a tar, as Python's tarfile (not commons-compress) reads it. */
    private static String listing(Path tar) {
        return Sh.ok("python3 - <<'PY'\nimport tarfile\n"
                + "for m in tarfile.open('" + tar + "'):\n"
                + "    x = ''.join(k[13:] + '=' + v + ' ' for k, v in sorted(m.pax_headers.items()) if k.startswith('SCHILY.xattr.'))\n"
                + "    print(m.type.decode(), m.name.replace('" + SEG + "', 'E'), oct(m.mode), m.size, x + (m.linkname.replace('"
                + SEG + "', 'E') if m.linkname else ''))\nPY");
    }

    private static String sha256sum(Path file) {
        return "sha256:" + Sh.ok("sha256sum '" + file + "' | cut -d' ' -f1").trim();
    }

    private static String read(String path) {
        int fd = Posix.open(path, Posix.O_RDONLY, 0);
        try {
            jnr.ffi.Pointer buf = jnr.ffi.Memory.allocateDirect(Posix.runtime(), 100);
            byte[] b = new byte[(int) Posix.pread(fd, buf, 100, 0)];
            buf.get(0, b, 0, b.length);
            return new String(b, java.nio.charset.StandardCharsets.ISO_8859_1);
        } finally {
            Posix.close(fd);
        }
    }

    @Test
    void aTarWithPathsLongerThanPathMaxImportsExportsAndRoundTrips() throws IOException {
        // written by Python's tarfile (PAX names and link names); only the first levels have directory entries
        Path tar = base.resolve("deep.tar");
        Sh.ok("python3 - <<'PY'\nimport tarfile, io\n"
                + "seg = 'e' * 200; deep = '/'.join([seg] * " + LEVELS + ")\n"
                + "t = tarfile.open('" + tar + "', 'w', format=tarfile.PAX_FORMAT)\n"
                + "def add(name, type=tarfile.REGTYPE, data=b'', mode=0o644, link='', pax=None):\n"
                + "    i = tarfile.TarInfo(name); i.type = type; i.size = len(data); i.mode = mode; i.mtime = 1500000000\n"
                + "    i.linkname = link\n"
                + "    if pax: i.pax_headers = pax\n"
                + "    t.addfile(i, io.BytesIO(data) if data else None)\n"
                + "add('top', data=b'top\\n')\n"
                + "for n in range(1, 4): add('/'.join([seg] * n), tarfile.DIRTYPE, mode=0o755)\n"
                + "add(deep + '/file', data=b'bottom\\n', mode=0o600)\n"
                + "add(deep + '/link', tarfile.SYMTYPE, mode=0o777, link='file')\n"
                + "add(deep + '/hard-to-top', tarfile.LNKTYPE, link='top')\n"
                + "add('hard-to-deep', tarfile.LNKTYPE, link=deep + '/file')\n"
                + "add(deep + '/.wh.hidden')\n"
                + "add(deep + '/opaque', tarfile.DIRTYPE, mode=0o700)\n"
                + "add(deep + '/opaque/.wh..wh..opq')\n"
                + "add(deep + '/xattr', data=b'x', pax={'SCHILY.xattr.user.deep': 'yes'})\n"
                + "add(deep + '/fifo', tarfile.FIFOTYPE)\n"
                + "t.close()\nPY");
        Digest d = importFile(tar);
        assertThat(d.toString()).isEqualTo(sha256sum(tar));

        // the stored layer, in the overlay format, 5000 bytes down
        String bottom = ByteString.of(store.path(d)) + "/" + DEEP;
        assertThat(bottom.length()).isGreaterThan(5024);
        assertThat(read(bottom + "/file")).isEqualTo("bottom\n");
        assertThat(Posix.lstat(bottom + "/file").permissions()).isEqualTo(0600);
        assertThat(Posix.lstat(bottom + "/file").nlink()).isEqualTo(2);
        assertThat(Posix.lstat(bottom + "/file").mtimeSec()).isEqualTo(1500000000L);
        // directory times are set once their children exist, the listed ones as the tar says
        assertThat(Posix.lstat(ByteString.of(store.path(d)) + "/" + SEG + "/" + SEG + "/" + SEG).mtimeSec()).isEqualTo(1500000000L);
        assertThat(Posix.readlink(bottom + "/link")).isEqualTo("file");
        assertThat(Posix.lstat(bottom + "/hard-to-top").ino()).isEqualTo(Posix.lstat(store.path(d) + "/top").ino());
        Stat whiteout = Posix.lstat(bottom + "/hidden");
        assertThat(whiteout.isCharDevice() && whiteout.rdev() == 0).isTrue();
        assertThat(Posix.lgetxattr(bottom + "/opaque", "trusted.overlay.opaque")).asString().isEqualTo("y");
        assertThat(Posix.lgetxattr(bottom + "/xattr", "user.deep")).asString().isEqualTo("yes");
        assertThat(Posix.lstat(bottom + "/fifo").type()).isEqualTo(Stat.S_IFIFO);

        // export: the canonical tar, every level listed, OCI markers back; it imports to the same layer
        Path exported = export(d, "exported.tar");
        String e = "E/".repeat(LEVELS);
        String listed = listing(exported);
        // (hard links: the first name in the tar's order holds the data, the others link to it, long names both ways)
        assertThat(listed).contains("5 E/E/E/E/E/E/E/E/E/E/E/E/E/E/E/E/E/E/E/E/E/E/E/E/E 0o755 0 \n",
                "0 " + e + "file 0o600 7 \n", "2 " + e + "link 0o777 0 file\n", "0 " + e + "hard-to-top 0o644 4 \n",
                "0 " + e + ".wh.hidden 0o0 0 \n", "5 " + e + "opaque 0o700 0 \n", "0 " + e + "opaque/.wh..wh..opq 0o0 0 \n",
                "0 " + e + "xattr 0o644 1 user.deep=yes \n", "6 " + e + "fifo 0o644 0 \n",
                "1 hard-to-deep 0o600 0 " + e + "file\n", "1 top 0o644 0 " + e + "hard-to-top\n");
        assertThat(listed.lines().count()).isEqualTo(1 + LEVELS + 9);
        Digest canonical = importFile(exported);
        assertThat(canonical.toString()).isEqualTo(store.record(d).contentDigest()).isEqualTo(sha256sum(exported));
        assertThat(TreeSnapshot.of(store.path(canonical), TreeSnapshot.Options.UPPER))
                .isEqualTo(TreeSnapshot.of(store.path(d), TreeSnapshot.Options.UPPER));
        // and again: the export of the canonical layer is byte for byte the same tar
        assertThat(sha256sum(export(canonical, "again.tar"))).isEqualTo(canonical.toString());
        assertThat(store.verify(store.digests())).allMatch(LayerStore.Verification::ok);
        store.remove(d);
        store.remove(canonical);
        assertThat(store.digests()).isEmpty();
    }

    /** A directory with a deep tree, made by the shell (cd level by level: no single path is too long for it). */
    private Path deepDirectory(String name, String atBottom) {
        Path dir = base.resolve(name);
        Sh.ok(null, "mkdir '" + dir + "' && cd '" + dir + "' && for i in $(seq " + LEVELS + "); do mkdir " + SEG
                + " && cd " + SEG + "; done; set -e; " + atBottom);
        return dir;
    }

    @Test
    void aDirectoryDeeperThanPathMaxImportsCanonically() throws IOException {
        Path dir = deepDirectory("layer", "echo data > file; ln file hard; ln -s file link; mkfifo fifo; mkdir -m 700 sub"
                + "; echo x > sub/x; setfattr -n user.k -v v sub/x; mknod -m 0 gone c 0 0; mkdir opq"
                + "; setfattr -n trusted.overlay.opaque -v y opq; touch -d @1234567890 file sub");
        Digest d = store.importDirectory(dir, null);
        assertThat(sha256sum(export(d, "x.tar"))).isEqualTo(d.toString());
        assertThat(TreeSnapshot.of(store.path(d), TreeSnapshot.Options.UPPER))
                .isEqualTo(TreeSnapshot.of(dir, TreeSnapshot.Options.UPPER)).hasSize(1 + LEVELS + 8);
        assertThat(importFile(base.resolve("x.tar"))).isEqualTo(d);
    }

    @Test
    void changesDeeperThanPathMaxAreScannedAndWrittenAsAChangeset() throws IOException {
        Path lower = deepDirectory("lower", "echo a > kept; echo b > removed; mkdir sub; echo c > sub/hidden; echo d > changed");
        // an upper as a mount leaves it: the path copied up, a whiteout, an opaque directory, a new and a changed file
        Path upper = deepDirectory("upper", "mknod -m 0 removed c 0 0; mkdir sub; setfattr -n trusted.overlay.opaque -v y sub"
                + "; echo new > sub/new; echo added > added; echo changed > changed");
        List<ChangeScanner.Change> changes = ChangeScanner.scan(ByteString.of(upper), List.of(ByteString.of(lower)));
        List<String> lines = new ArrayList<>();
        for (ChangeScanner.Change c : changes) {
            lines.add(c.kind().name().charAt(0) + " " + c.path().replace(SEG, "E"));
        }
        List<String> expected = new ArrayList<>();
        for (int i = 1; i <= LEVELS; i++) {
            expected.add("C " + "/E".repeat(i));
        }
        String e = "/E".repeat(LEVELS);
        expected.addAll(List.of("A " + e + "/added", "C " + e + "/changed", "D " + e + "/removed", "C " + e + "/sub",
                "D " + e + "/sub/hidden", "A " + e + "/sub/new"));
        assertThat(lines).isEqualTo(expected);

        // the changeset tar (layerfs diff --output): OCI markers that deep; applied on the lower, the merged tree
        Path changeset = base.resolve("changes.tar");
        try (OutputStream out = Files.newOutputStream(changeset)) {
            LayerTarWriter.write(ByteString.of(upper), out);
        }
        String listed = listing(changeset).replace("E/".repeat(LEVELS), "…/");
        assertThat(listed).contains("0 …/.wh.removed 0o0 0 \n", "0 …/sub/.wh..wh..opq 0o0 0 \n", "0 …/added 0o644 6 \n",
                "0 …/sub/new 0o644 4 \n");
        Digest d = importFile(changeset);
        Map<String, String> stored = TreeSnapshot.of(store.path(d), TreeSnapshot.Options.UPPER);
        Map<String, String> original = TreeSnapshot.of(upper, TreeSnapshot.Options.UPPER);
        assertThat(stored).isEqualTo(original);
    }

    /** Runs {@code body} on a thread with a small stack, rethrowing what it threw. */
    private static void onSmallStack(Callable<Void> body) throws Exception {
        AtomicReference<Exception> failure = new AtomicReference<>();
        AtomicReference<Error> error = new AtomicReference<>();
        Thread t = new Thread(null, () -> {
            try {
                body.call();
            } catch (Exception e) {
                failure.set(e);
            } catch (Error e) {
                error.set(e);
            }
        }, "small-stack", 160 * 1024);
        t.start();
        t.join();
        if (error.get() != null) {
            throw error.get();
        }
        if (failure.get() != null) {
            throw failure.get();
        }
    }

    /**
     * A thousand directories deep, on a thread with a small stack: the tar writer, the change scanner and the tree
     * walks loop over a stack of directories instead of recursing, so such a layer imports, exports, diffs and is
     * removed without a stack overflow (and the tar reader checks each directory once, not once per entry below it).
     */
    @Test
    void aLayerAThousandDirectoriesDeepNeedsNoDeepStack() throws Exception {
        int levels = 1000;
        String dir = ByteString.of(base) + "/thousand";
        String p = dir;
        Posix.mkdir(p, 0755);
        for (int i = 0; i < levels; i++) {
            p += "/d";
            Posix.mkdir(p, 0755);
        }
        int fd = Posix.open(p + "/f", Posix.O_WRONLY | Posix.O_CREAT, 0644);
        Posix.close(fd);
        onSmallStack(() -> {
            Digest d = store.importDirectory(Path.of(dir), null);
            Path exported = export(d, "thousand.tar");
            assertThat(sha256sum(exported)).isEqualTo(d.toString());
            assertThat(importFile(exported)).isEqualTo(d);
            String stored = ByteString.of(store.path(d));
            assertThat(Posix.lstat(stored + "/d".repeat(levels) + "/f").isRegular()).isTrue();
            List<ChangeScanner.Change> changes = ChangeScanner.scan(stored, List.of());
            assertThat(changes).hasSize(levels + 1).allMatch(c -> c.kind() == ChangeScanner.Kind.ADDED);
            assertThat(changes.get(levels).path()).isEqualTo("/d".repeat(levels) + "/f");
            assertThat(io.layerfs.posix.Trees.diskUsage(stored)).isPositive();
            store.remove(d);
            assertThat(store.digests()).isEmpty();
            io.layerfs.posix.Trees.remove(dir);
            assertThat(Posix.exists(dir)).isFalse();
            return null;
        });
    }
}
