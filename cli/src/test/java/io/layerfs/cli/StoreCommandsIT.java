package io.layerfs.cli;

import io.layerfs.store.Digest;
import io.layerfs.store.LayerStore;
import io.layerfs.testing.Sh;
import io.layerfs.testing.TestImages;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code layerfs layer ...} and {@code layerfs image ...} through the packaged launcher, as users run them. */
class StoreCommandsIT {
    Path base;
    Path root;

    @BeforeEach
    void setUp() throws IOException {
        base = Files.createTempDirectory("layerfs-store-cli");
        root = base.resolve("store");
    }

    @AfterEach
    void tearDown() {
        Sh.run(null, "rm -rf '" + base + "'");
    }

    private Sh.Result layerfs(String args) {
        return Cli.run("--root '" + root + "' " + args);
    }

    private String ok(String args) {
        Sh.Result r = layerfs(args);
        assertThat(r.exit()).as("layerfs %s: %s", args, r.err()).isZero();
        return r.out();
    }

    private static String sha256sum(Path file) {
        return "sha256:" + Sh.ok("sha256sum '" + file + "' | cut -d' ' -f1").trim();
    }

    @Test
    void importExportRoundTripAndListings() throws Exception {
        String digest = ok("layer import '" + TestImages.app() + "'").trim();
        assertThat(digest).matches("sha256:[0-9a-f]{64}");
        Path tar = base.resolve("app.tar");
        ok("layer export " + digest.substring(7, 19) + " -o '" + tar + "'");
        assertThat(sha256sum(tar)).isEqualTo(digest);
        assertThat(ok("layer import '" + tar + "'").trim()).isEqualTo(digest);
        Sh.ok("gzip -c '" + tar + "' > '" + tar + ".gz' && cp '" + tar + ".gz' '" + base + "/app.tgz'");
        assertThat(ok("layer import '" + tar + ".gz'").trim()).isEqualTo(digest);
        assertThat(ok("layer import '" + base + "/app.tgz'").trim()).isEqualTo(digest);
        assertThat(Sh.ok("'" + Cli.launcher() + "' --root '" + root + "' layer import - < '" + tar + "'").trim()).isEqualTo(digest);
        assertThat(Sh.ok("'" + Cli.launcher() + "' --root '" + root + "' layer export " + digest + " -o - | sha256sum | cut -d' ' -f1")
                .trim()).isEqualTo(digest.substring(7));
        assertThat(ok("layer ls")).contains(digest.substring(0, 19)).startsWith("DIGEST");
        assertThat(ok("layer ls --json")).contains("\"digest\" : \"" + digest + "\"");
        assertThat(ok("layer inspect " + digest)).contains("\"path\" : \"" + root);
        Path dir = Path.of(ok("layer path " + digest).trim());
        assertThat(Files.readString(dir.resolve("etc/motd"))).contains("busybox-app");
        assertThat(layerfs("layer ls").err()).isEmpty(); // no progress bar when not on a terminal
    }

    @Test
    void badInputIsOneLineAndNonZero() throws Exception {
        Sh.Result r = layerfs("layer import /nonexistent");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("layerfs: /nonexistent does not exist\n");
        Path evil = base.resolve("evil.tar");
        Sh.ok("python3 -c \"import tarfile,io; t=tarfile.open('" + evil + "','w'); i=tarfile.TarInfo('../escape');"
                + " i.size=1; t.addfile(i, io.BytesIO(b'x')); t.close()\"");
        r = layerfs("layer import '" + evil + "'");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).startsWith("layerfs: ").contains("leaves the layer").hasLineCount(1);
        assertThat(Files.exists(base.resolve("escape"))).isFalse();
        assertThat(ok("layer ls")).hasLineCount(1);
        r = layerfs("layer inspect sha256:nothex");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).hasLineCount(1);
        r = layerfs("layer path 0123456789abcdef");
        assertThat(r.err()).isEqualTo("layerfs: no layer 0123456789abcdef in the store\n");
        r = layerfs("image import '" + base + "'");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("is not an OCI image layout");
    }

    @Test
    void deviceNodesAreRefusedWhenNotRoot() throws Exception {
        Sh.ok("chmod 755 '" + base + "' && mkdir -m 777 '" + base + "/nobody' && python3 -c \"import tarfile;"
                + " t=tarfile.open('" + base + "/nobody/dev.tar','w'); i=tarfile.TarInfo('null'); i.type=tarfile.CHRTYPE;"
                + " i.devmajor=1; i.devminor=3; t.addfile(i); t.close()\"");
        Sh.Result r = Sh.run(null, "runuser -u nobody -- '" + Cli.launcher() + "' --root '" + base
                + "/nobody/store' layer import '" + base + "/nobody/dev.tar'");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("layerfs: device node null: only root can import device nodes\n");
        assertThat(ok("layer import '" + base + "/nobody/dev.tar'")).startsWith("sha256:"); // root may
    }

    @Test
    void eightConcurrentImportsOfOneTarEndWithOneLayer() throws Exception {
        Path tar = base.resolve("base.tar");
        Sh.ok("tar -C '" + TestImages.base() + "' -cf '" + tar + "' .");
        List<Process> procs = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            procs.add(new ProcessBuilder("bash", "-c", "exec '" + Cli.launcher() + "' --root '" + root
                    + "' layer import '" + tar + "'").redirectError(ProcessBuilder.Redirect.DISCARD).start());
        }
        Set<String> printed = new HashSet<>();
        for (Process p : procs) {
            String out = new String(p.getInputStream().readAllBytes()).trim();
            assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).isZero();
            printed.add(out);
        }
        assertThat(printed).containsExactly(sha256sum(tar));
        assertThat(ok("layer ls --json")).containsOnlyOnce("\"digest\"");
        assertThat(Sh.ok("ls -A '" + root.resolve("ingest") + "'")).isEmpty();
    }

    @Test
    void killDuringImportLeavesNoVisibleLayer() throws Exception {
        Path tar = base.resolve("big.tar");
        Sh.ok("mkdir '" + base + "/big' && head -c 300000000 /dev/urandom > '" + base + "/big/blob' && tar -C '"
                + base + "/big' -cf '" + tar + "' .");
        for (long delayMs : new long[]{300, 900, 1500}) {
            Process p = new ProcessBuilder("bash", "-c", "exec '" + Cli.launcher() + "' --root '" + root
                    + "' layer import '" + tar + "'").redirectErrorStream(true).start();
            Thread.sleep(delayMs);
            p.destroyForcibly(); // SIGKILL
            p.waitFor();
            assertThat(ok("layer ls --json").trim()).isEqualTo("[ ]");
        }
        ok("layer gc");
        assertThat(Sh.ok("ls -A '" + root.resolve("ingest") + "'")).isEmpty();
        // on a terminal (script(1) gives it one) a large import shows a progress bar on stderr
        String onTty = Sh.ok("script -qec \"'" + Cli.launcher() + "' --root '" + root + "' layer import '" + tar
                + "'\" /dev/null");
        assertThat(onTty).contains("ETA").contains("/s").contains(sha256sum(tar));
        assertThat(ok("layer verify")).startsWith("ok ");
    }

    @Test
    void ociLayoutFromUmociImportsWithMatchingDiffIds() throws Exception {
        Path layout = base.resolve("oci");
        Path bundle = base.resolve("bundle");
        Sh.ok("umoci init --layout '" + layout + "' && umoci new --image '" + layout + ":v1'"
                + " && umoci unpack --image '" + layout + ":v1' '" + bundle + "' >/dev/null"
                + " && cp -a '" + TestImages.base() + "/.' '" + bundle + "/rootfs/'"
                + " && umoci repack --image '" + layout + ":v1' '" + bundle + "' && rm -rf '" + bundle + "'"
                + " && umoci unpack --image '" + layout + ":v1' '" + bundle + "' >/dev/null"
                + " && echo changed > '" + bundle + "/rootfs/etc/motd' && rm '" + bundle + "/rootfs/etc/hostname'"
                + " && umoci repack --image '" + layout + ":v1' '" + bundle + "'");
        assertThat(ok("image import '" + layout + ":v1' --name demo").trim()).isEqualTo("demo");
        String config = Sh.ok("python3 -c \"import json; l='" + layout + "'; ix=json.load(open(l+'/index.json'));"
                + " m=json.load(open(l+'/blobs/sha256/'+ix['manifests'][0]['digest'][7:]));"
                + " c=json.load(open(l+'/blobs/sha256/'+m['config']['digest'][7:])); print(' '.join(c['rootfs']['diff_ids']))\"");
        String images = ok("images --json");
        for (String diffId : config.trim().split(" ")) {
            assertThat(images).contains(diffId);
            assertThat(ok("layer ls --json")).contains(diffId);
        }
        assertThat(ok("images")).contains("demo").contains(" 2 ");
        String top = config.trim().split(" ")[1];
        Path dir = Path.of(ok("layer path " + top).trim());
        assertThat(Sh.ok("stat -c '%F %t:%T' '" + dir + "/etc/hostname'")).isEqualTo("character special file 0:0\n");
        // a layer an image uses is kept by gc and refused by rm, until the image goes
        ok("layer gc");
        assertThat(ok("layer ls --json")).contains(top);
        assertThat(layerfs("layer rm " + top).err()).contains("used by image demo");
        ok("image rm demo");
        ok("layer gc");
        assertThat(ok("layer ls --json").trim()).isEqualTo("[ ]");
    }

    @Test
    void rmIsRefusedWhileHeldAndVerifyNamesCorruptLayers() throws Exception {
        String a = ok("layer import '" + TestImages.base() + "'").trim();
        String b = ok("layer import '" + TestImages.app() + "'").trim();
        LayerStore store = LayerStore.open(root);
        store.hold(Digest.parse(a), "web");
        Sh.Result r = layerfs("layer rm " + a);
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("layerfs: layer " + a.substring(7, 19) + " is in use by web\n");
        assertThat(ok("layer ls")).contains("web");
        Files.writeString(Path.of(ok("layer path " + b).trim()).resolve("etc/motd"), "tampered");
        r = layerfs("layer verify");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.out()).contains("ok       " + a).contains("CORRUPT  " + b);
        assertThat(layerfs("layer verify " + a).exit()).isZero();
        store.release(Digest.parse(a), "web");
        assertThat(ok("layer rm " + a).trim()).isEqualTo(a);
    }
}
