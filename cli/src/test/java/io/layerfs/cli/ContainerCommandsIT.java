package io.layerfs.cli;

import io.layerfs.overlay.Mounts;
import io.layerfs.testing.Sh;
import io.layerfs.testing.TestImages;
import io.layerfs.testing.TreeSnapshot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The three jobs end to end through the packaged launcher: mount by digest or image, diff, commit, teardown. */
class ContainerCommandsIT {
    Path base;
    Path root;
    String baseLayer;
    String appLayer;

    @BeforeEach
    void setUp() throws IOException {
        base = Files.createTempDirectory("layerfs-containers");
        root = base.resolve("store");
        baseLayer = ok("layer import '" + TestImages.base() + "'").trim();
        appLayer = ok("layer import '" + TestImages.app() + "'").trim();
    }

    @AfterEach
    void tearDown() {
        // unmount whatever a failed test left, by exact path, then delete
        Sh.run(null, "grep -o ' " + base + "/[^ ]*' /proc/self/mounts | while read m; do umount -l \"$m\"; done; rm -rf '" + base + "'");
    }

    private Sh.Result layerfs(String args) {
        return Cli.run("--root '" + root + "' " + args);
    }

    private String ok(String args) {
        Sh.Result r = layerfs(args);
        assertThat(r.exit()).as("layerfs %s: %s", args, r.err()).isZero();
        return r.out();
    }

    private Path mnt(String name) {
        return base.resolve(name);
    }

    private String mountLayers(String name) {
        return ok("mount --name " + name + " --layer " + baseLayer + " --layer " + appLayer.substring(7, 21) + " '" + mnt(name) + "'").trim();
    }

    private static String chroot(Path mnt, String script) {
        return Sh.ok("chroot '" + mnt + "' /bin/sh -c '" + script + "'");
    }

    @Test
    void mountChangeDiffExportReapplyCommitRemount() throws Exception {
        assertThat(mountLayers("web")).isEqualTo("web");
        assertThat(Mounts.fsType(mnt("web"))).isEqualTo("fuse.layerfs");
        assertThat(ok("ps")).contains("web").contains(mnt("web").toString()).contains("mounted");
        assertThat(ok("layer ls")).contains("web");
        chroot(mnt("web"), "set -e; echo new > /root/new.txt; echo more >> /etc/motd; rm /app/data/big.txt;"
                + " rm -r /usr/share/doc; mkdir -p /srv/www; echo hi > /srv/www/index.html");
        assertThat(ok("diff web")).isEqualTo(String.join("\n",
                "C /app", "C /app/data", "D /app/data/big.txt", "C /etc", "C /etc/motd", "C /root", "A /root/new.txt",
                "A /srv", "A /srv/www", "A /srv/www/index.html", "C /usr", "C /usr/share", "D /usr/share/doc") + "\n");
        assertThat(ok("diff " + mnt("web") + " --json").replaceAll("\\s", "")).isEqualTo(
                "{\"added\":[\"/root/new.txt\",\"/srv\",\"/srv/www\",\"/srv/www/index.html\"],"
                        + "\"changed\":[\"/app\",\"/app/data\",\"/etc\",\"/etc/motd\",\"/root\",\"/usr\",\"/usr/share\"],"
                        + "\"deleted\":[\"/app/data/big.txt\",\"/usr/share/doc\"]}");
        Map<String, String> tree = TreeSnapshot.of(mnt("web"), TreeSnapshot.Options.MERGED);

        // the changeset tar, applied as a layer on the same lowers, reproduces the merged tree exactly
        Path changes = base.resolve("changes.tar");
        ok("diff web --output '" + changes + "'");
        assertThat(Sh.ok("tar -tf '" + changes + "' | sort")).contains("app/data/.wh.big.txt", "usr/share/.wh.doc", "root/new.txt");
        String changeLayer = ok("layer import '" + changes + "'").trim();
        ok("mount --name replay --layer " + baseLayer + " --layer " + appLayer + " --layer " + changeLayer + " '" + mnt("replay") + "'");
        assertThat(TreeSnapshot.of(mnt("replay"), TreeSnapshot.Options.MERGED)).isEqualTo(tree);

        // commit gives the same layer, and an image that mounts to the same tree
        assertThat(ok("commit web --image web-v2").trim()).isEqualTo(changeLayer);
        assertThat(ok("images")).contains("web-v2");
        assertThat(ok("mount --name fromimage --image web-v2 '" + mnt("fromimage") + "'").trim()).isEqualTo("fromimage");
        assertThat(TreeSnapshot.of(mnt("fromimage"), TreeSnapshot.Options.MERGED)).isEqualTo(tree);

        // umount keeps the upper; mount NAME brings it back
        ok("umount web");
        assertThat(Mounts.isMountpoint(mnt("web"))).isFalse();
        assertThat(ok("ps")).containsPattern("web\\s+2 layer\\(s\\).*unmounted");
        ok("mount web");
        assertThat(Files.readString(mnt("web").resolve("root/new.txt"))).isEqualTo("new\n");
        assertThat(ok("logs web")).contains("mounted " + mnt("web"));

        for (String name : new String[]{"web", "replay", "fromimage"}) {
            assertThat(ok("rm " + name).trim()).isEqualTo(name);
            assertThat(Mounts.isMountpoint(mnt(name))).isFalse();
        }
        assertThat(ok("ps")).hasLineCount(1);
        assertThat(ok("layer ls")).doesNotContain("web");
        assertThat(Sh.ok("ls -A '" + root.resolve("containers") + "'")).isEmpty();
    }

    @Test
    void rmRecoversAMountWhoseDaemonWasKilled() throws Exception {
        mountLayers("crash");
        chroot(mnt("crash"), "echo data > /root/file");
        long pid = Cli.daemonPid(mnt("crash")).orElseThrow();
        ProcessHandle daemon = ProcessHandle.of(pid).orElseThrow();
        daemon.destroyForcibly(); // kill -9
        daemon.onExit().get(10, TimeUnit.SECONDS);
        assertThat(Sh.run(null, "stat '" + mnt("crash") + "/etc'").err()).contains("Transport endpoint is not connected");
        assertThat(ok("ps")).contains("stale");
        assertThat(ok("rm crash").trim()).isEqualTo("crash");
        assertThat(Mounts.isMountpoint(mnt("crash"))).isFalse();
        assertThat(Files.exists(root.resolve("containers/crash"))).isFalse();
        assertThat(ok("layer ls")).doesNotContain("crash");
        assertThat(layerfs("rm crash").err()).isEqualTo("layerfs: no container named crash\n");
    }

    /**
     * A mountpoint named through a symlinked directory (as /home -> /var/home): the kernel mounts at the real
     * path, so the container records that one, and finds the container by either name of it. A `mount NAME`
     * mounts with the binding the container had (here not the default one).
     */
    @Test
    void aMountpointNamedThroughASymlinkIsRecordedByItsRealPath() throws Exception {
        Path real = Files.createDirectories(base.resolve("real")).toRealPath();
        Path alias = Files.createSymbolicLink(base.resolve("alias"), real).resolve("mnt");
        assertThat(ok("mount --name linked --binding jnr-fuse --layer " + baseLayer + " '" + alias + "'").trim())
                .isEqualTo("linked");
        assertThat(bindingServing("linked")).isEqualTo("jnr-fuse");
        assertThat(Mounts.isMountpoint(real.resolve("mnt"))).isTrue();
        assertThat(ok("ps")).containsPattern("linked\\s.*\\s" + real.resolve("mnt") + "\\s+mounted\\s");
        ok("umount '" + alias + "'");
        assertThat(Mounts.isMountpoint(real.resolve("mnt"))).isFalse();
        ok("mount linked");
        assertThat(bindingServing("linked")).isEqualTo("jnr-fuse");
        assertThat(Files.readString(alias.resolve("etc/hostname"))).isEqualTo("layerfs-demo\n");
        assertThat(ok("rm '" + alias + "'").trim()).isEqualTo("linked");
        assertThat(Mounts.isMountpoint(real.resolve("mnt"))).isFalse();
        assertThat(root.resolve("containers/linked")).doesNotExist();
    }

    /** The binding of a container's daemon (by the pid in its record): dev-fuse's workers are layerfs-fuse-N. */
    private String bindingServing(String container) throws IOException {
        java.util.regex.Matcher pid = java.util.regex.Pattern.compile("\"pid\" : (\\d+)")
                .matcher(Files.readString(root.resolve("containers/" + container + "/container.json")));
        assertThat(pid.find()).isTrue();
        return Sh.ok("cat /proc/" + pid.group(1) + "/task/*/comm").contains("layerfs-fuse-") ? "dev-fuse" : "jnr-fuse";
    }

    @Test
    void rmOfABusyMountIsRefusedNamingTheProcessThenForced() throws Exception {
        mountLayers("busy");
        // a process holding a file open (its cwd is elsewhere)
        Process holder = new ProcessBuilder("bash", "-c", "exec 3< '" + mnt("busy") + "/etc/motd'; exec sleep 60")
                .directory(base.toFile()).start();
        Thread.sleep(300);
        try {
            Sh.Result r = layerfs("rm busy");
            assertThat(r.exit()).isEqualTo(1);
            assertThat(r.err()).contains("is busy, used by " + holder.pid() + " (sleep)").contains("--force").hasLineCount(1);
            assertThat(Mounts.isMountpoint(mnt("busy"))).isTrue();
            assertThat(ok("ps")).contains("mounted");
            assertThat(ok("rm --force busy").trim()).isEqualTo("busy");
            assertThat(Mounts.isMountpoint(mnt("busy"))).isFalse();
            assertThat(Files.exists(root.resolve("containers/busy"))).isFalse();
        } finally {
            holder.destroy();
            holder.waitFor();
        }
    }

    @Test
    void interruptedTeardownFinishesOnTheNextRm() throws Exception {
        mountLayers("half");
        ok("umount half");
        // as if a previous rm died half-way: marked removing, work already deleted
        Path record = root.resolve("containers/half/container.json");
        Files.writeString(record, Files.readString(record).replace("\"removing\" : false", "\"removing\" : true"));
        Sh.ok("rm -rf '" + root.resolve("containers/half/work") + "'");
        assertThat(ok("ps")).contains("removing");
        assertThat(ok("rm half").trim()).isEqualTo("half");
        assertThat(Files.exists(root.resolve("containers/half"))).isFalse();
        assertThat(ok("layer ls")).doesNotContain("half");
    }

    @Test
    void clearErrorsForBadNamesDigestsImagesAndMountpoints() throws Exception {
        Sh.Result r = layerfs("mount --image nope '" + mnt("x") + "'");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("layerfs: no image nope in the store\n");
        r = layerfs("mount --layer sha256:" + "0".repeat(64) + " '" + mnt("x") + "'");
        assertThat(r.err()).isEqualTo("layerfs: no layer sha256:" + "0".repeat(64) + " in the store\n");
        r = layerfs("mount nosuch");
        assertThat(r.err()).isEqualTo("layerfs: no container named nosuch\n");
        r = layerfs("diff nosuch");
        assertThat(r.exit()).isEqualTo(1);
        mountLayers("one");
        r = layerfs("mount --name one --layer " + baseLayer + " '" + mnt("two") + "'");
        assertThat(r.err()).isEqualTo("layerfs: the name one is already in use by a container\n");
        r = layerfs("mount --name two --layer " + baseLayer + " '" + mnt("one") + "'");
        assertThat(r.err()).isEqualTo("layerfs: mountpoint " + mnt("one") + " is already a mount point\n");
        assertThat(ok("ps")).doesNotContain("two"); // a failed mount leaves no container behind
        assertThat(ok("layer ls")).doesNotContain("two");
        r = layerfs("mount one");
        assertThat(r.err()).isEqualTo("layerfs: container one is already mounted at " + mnt("one") + "\n");
        r = layerfs("layer rm " + baseLayer);
        assertThat(r.err()).contains("is in use by one");
        ok("umount one");
        // a layer that vanished from the store behind our back
        Sh.ok("mv '" + root.resolve("layers/sha256/" + appLayer.substring(7)) + "' '" + base + "/stolen'");
        r = layerfs("mount one");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("layerfs: layer " + appLayer + " of container one is missing from the store\n");
        ok("rm one");
    }
}
