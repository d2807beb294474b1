package io.layerfs.store;

import io.layerfs.posix.ByteString;
import io.layerfs.testing.Sh;
import io.layerfs.testing.TestImages;
import io.layerfs.testing.TreeSnapshot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The store through its API, on real layers: digests, round trips, format conversion, rm, gc, verify. */
class LayerStoreTest {
    Path base;
    LayerStore store;

    @BeforeEach
    void setUp() throws IOException {
        base = Files.createTempDirectory("layerfs-store");
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

    private static String sha256sum(Path file) {
        return "sha256:" + Sh.ok("sha256sum '" + file + "' | cut -d' ' -f1").trim();
    }

    @Test
    void directoryRoundTripKeepsDigestAndEveryDetail() throws Exception {
        for (Path layer : TestImages.all()) {
            Digest d = store.importDirectory(layer, null);
            Path exported = base.resolve(d.hex() + ".tar");
            try (var out = Files.newOutputStream(exported)) {
                store.export(d, out);
            }
            assertThat(sha256sum(exported)).isEqualTo(d.toString());
            assertThat(store.record(d).contentDigest()).isEqualTo(d.toString());
            // the stored directory is the same layer: names, types, modes, owners, data, links, xattrs, whiteouts
            Map<String, String> original = TreeSnapshot.of(layer, TreeSnapshot.Options.UPPER);
            Map<String, String> stored = TreeSnapshot.of(store.path(d), TreeSnapshot.Options.UPPER);
            original.remove(".");
            stored.remove(".");
            if (layer.equals(TestImages.features())) {
                // names that are not UTF-8 cannot cross a tar exactly; everything else must
                original.keySet().removeIf(k -> k.contains("\uFFFD"));
                original.replaceAll((k, v) -> v.replace(" xattr:user.empty=", "")); // PAX cannot carry an empty value
                stored.keySet().removeIf(k -> k.contains("name") && !k.contains("-"));
                // OCI markers in the source directory are stored in the kernel's form
                assertThat(stored.get("app/data/config.txt")).startsWith("whiteout");
                assertThat(stored.get("app/cache")).contains("trusted.overlay.opaque=y");
                assertThat(stored.get("home/app")).contains("trusted.overlay.opaque=y");
            } else {
                assertThat(stored).isEqualTo(original);
            }
            assertThat(importFile(exported)).isEqualTo(d);
        }
    }

    @Test
    void tarDigestIsTheSha256OfTheUncompressedTar() throws Exception {
        Path tar = base.resolve("app.tar");
        Sh.ok("tar -C '" + TestImages.app() + "' --xattrs --xattrs-include='*' -cf '" + tar + "' .");
        Digest d = importFile(tar);
        assertThat(d.toString()).isEqualTo(sha256sum(tar));
        Sh.ok("gzip -k '" + tar + "'");
        assertThat(importFile(Path.of(tar + ".gz"))).isEqualTo(d);
        assertThat(store.digests()).containsExactly(d);
        assertThat(store.record(d).size()).isEqualTo(Files.size(tar));
        assertThat(Sh.ok("stat -c '%F %t:%T' '" + store.path(d) + "/usr/share/doc/base/README'"))
                .isEqualTo("character special file 0:0\n");
        assertThat(Sh.ok("getfattr -n trusted.overlay.opaque --only-values '" + store.path(d) + "/var/log'")).isEqualTo("y");
    }

    @Test
    void ociWhiteoutsBecomeTheOverlayFormat() throws Exception {
        Path tar = pyTar("t.add(d('a')); t.add(f('a/.wh.gone')); t.add(d('o')); t.add(f('o/.wh..wh..opq')); t.add(f('o/kept', b'x'))");
        Digest d = importFile(tar);
        String dir = store.path(d).toString();
        assertThat(Sh.ok("stat -c '%F %t:%T' " + dir + "/a/gone")).isEqualTo("character special file 0:0\n");
        assertThat(Sh.ok("getfattr -n trusted.overlay.opaque --only-values " + dir + "/o")).isEqualTo("y");
        assertThat(Sh.ok("ls -A " + dir + "/o")).isEqualTo("kept\n");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        store.export(d, out);
        Path back = base.resolve("back.tar");
        Files.write(back, out.toByteArray());
        assertThat(Sh.ok("tar -tf '" + back + "'")).isEqualTo("a/\na/.wh.gone\no/\no/.wh..wh..opq\no/kept\n");
    }

    /** Builds a tar with Python's tarfile; helpers d(name), f(name, data), l(name, target), h(name, target). */
    private Path pyTar(String body) {
        Path tar = base.resolve("t" + System.nanoTime() + ".tar");
        Sh.ok("python3 - <<'PY'\nimport tarfile, io\n"
                + "def d(n):\n  i=tarfile.TarInfo(n); i.type=tarfile.DIRTYPE; i.mode=0o755; return i\n"
                + "class F:\n  pass\n"
                + "t=tarfile.open('" + tar + "','w', format=tarfile.PAX_FORMAT)\n"
                + "def f(n, data=b''):\n  i=tarfile.TarInfo(n); i.size=len(data); i.mode=0o644; t.addfile(i, io.BytesIO(data)); return None\n"
                + "def l(n, target):\n  i=tarfile.TarInfo(n); i.type=tarfile.SYMTYPE; i.linkname=target; t.addfile(i); return None\n"
                + "def h(n, target):\n  i=tarfile.TarInfo(n); i.type=tarfile.LNKTYPE; i.linkname=target; t.addfile(i); return None\n"
                + "_add=t.addfile\n"
                + "t.add=lambda i: i is not None and _add(i)\n"
                + body.replace("; ", "\n") + "\n"
                + "t.close()\nPY");
        return tar;
    }

    private void refused(String body, String message) {
        Path tar = pyTar(body);
        assertThatThrownBy(() -> importFile(tar)).hasMessageContaining(message);
        assertThat(store.digests()).isEmpty();
        assertThat(Sh.ok("ls -A '" + store.layout().ingest() + "'")).isEmpty();
    }

    @Test
    void hostileTarsAreRefusedAndLeaveNothing() throws Exception {
        Path victim = base.resolve("victim");
        refused("t.add(f('../victim', b'x'))", "leaves the layer");
        refused("t.add(f('/abs', b'x'))", "absolute path");
        refused("l('a', '" + base + "'); t.add(f('a/victim', b'x'))", "goes through the symlink");
        refused("h('x', '../../etc/passwd')", "leaves the layer");
        refused("h('x', 'nope')", "not an earlier file");
        refused("t.add(f('dup', b'1')); t.add(f('dup', b'2'))", "duplicate entry");
        assertThat(Files.exists(victim)).isFalse();
        Path truncated = base.resolve("trunc.tar");
        Sh.ok("tar -C '" + TestImages.app() + "' -cf - . | head -c 70000 > '" + truncated + "'");
        assertThatThrownBy(() -> importFile(truncated)).hasMessageContaining("truncated");
        Path corrupt = base.resolve("corrupt.tar");
        Sh.ok("tar -C '" + TestImages.app() + "' -cf '" + corrupt + "' . && printf 'garbage!' | dd of='" + corrupt
                + "' bs=1 seek=148 conv=notrunc status=none");
        assertThatThrownBy(() -> importFile(corrupt)).isInstanceOf(RuntimeException.class);
        assertThat(store.digests()).isEmpty();
        assertThat(Sh.ok("ls -A '" + store.layout().ingest() + "'")).isEmpty();
    }

    @Test
    void prefixesResolveWhenUniqueAndLongEnough() {
        Digest d = store.importDirectory(TestImages.base(), null);
        assertThat(store.resolve(d.toString())).isEqualTo(d);
        assertThat(store.resolve(d.hex().substring(0, 12))).isEqualTo(d);
        assertThat(store.resolve("sha256:" + d.hex().substring(0, 20))).isEqualTo(d);
        assertThatThrownBy(() -> store.resolve(d.hex().substring(0, 8))).hasMessageContaining("too short");
        assertThatThrownBy(() -> store.resolve("0123456789abcdef")).hasMessageContaining("no layer");
    }

    @Test
    void removeRefusedWhileHeldOrUsedAndGcKeepsThose() {
        Digest a = store.importDirectory(TestImages.base(), null);
        Digest b = store.importDirectory(TestImages.app(), null);
        Digest c = store.importDirectory(TestImages.features(), null);
        store.hold(a, "web");
        assertThatThrownBy(() -> store.remove(a)).hasMessageContaining("in use by web");
        store.putImage(new ImageRecord("img", List.of(b.toString()), null, "now", "test"));
        assertThatThrownBy(() -> store.remove(b)).hasMessageContaining("used by image img");
        LayerStore.GcResult gc = store.gc();
        assertThat(gc.layers()).containsExactly(c);
        assertThat(store.digests()).containsExactlyInAnyOrder(a, b);
        store.release(a, "web");
        store.remove(a);
        assertThat(store.digests()).containsExactly(b);
        assertThatThrownBy(() -> store.path(a)).hasMessageContaining("no layer");
    }

    @Test
    void verifyNamesALayerChangedBehindTheStoresBack() throws Exception {
        Digest a = store.importDirectory(TestImages.base(), null);
        Digest b = store.importDirectory(TestImages.app(), null);
        assertThat(store.verify(store.digests())).allMatch(LayerStore.Verification::ok);
        Files.writeString(store.path(b).resolve("etc/motd"), "tampered");
        List<LayerStore.Verification> v = store.verify(store.digests());
        assertThat(v).filteredOn(x -> !x.ok()).extracting(LayerStore.Verification::digest).containsExactly(b);
        assertThat(v).filteredOn(LayerStore.Verification::ok).extracting(LayerStore.Verification::digest).containsExactly(a);
    }

    @Test
    void gcRemovesLeftoversOfInterruptedImports() throws Exception {
        Files.createDirectories(store.layout().ingest().resolve("dead-import/diff"));
        assertThat(store.gc().abandonedImports()).isEqualTo(1);
        assertThat(Sh.ok("ls -A '" + store.layout().ingest() + "'")).isEmpty();
    }

    @Test
    void importingTheSameLayerTwiceKeepsOneCopy() {
        Digest a = store.importDirectory(TestImages.base(), null);
        assertThat(store.importDirectory(TestImages.base(), null)).isEqualTo(a);
        assertThat(store.digests()).containsExactly(a);
        assertThat(ByteString.of(store.path(a))).endsWith("/diff");
    }
}
