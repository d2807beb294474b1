package io.layerfs.cli;

import io.layerfs.overlay.Mounts;
import io.layerfs.testing.Sh;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * A layer store in a temp directory, driven through the launcher, and the containers it mounts (with their
 * daemons, and helpers for the crash tests). A JUnit extension (register it as a static field): the store
 * lives as long as the test class; after each test every container is removed, and at the end whatever is
 * still mounted under the temp directory is unmounted by its exact path.
 */
final class TempStore implements BeforeAllCallback, AfterEachCallback, AfterAllCallback {
    private final String prefix;
    Path base;
    Path root;

    TempStore(String prefix) {
        this.prefix = prefix;
    }

    @Override
    public void beforeAll(ExtensionContext context) throws IOException {
        base = Files.createTempDirectory(prefix);
        root = base.resolve("store");
    }

    @Override
    public void afterEach(ExtensionContext context) throws IOException {
        removeContainers();
    }

    @Override
    public void afterAll(ExtensionContext context) throws IOException {
        try {
            removeContainers();
        } finally {
            Sh.run(null, "grep -o ' " + base + "/[^ ]*' /proc/self/mounts | sort -r | while read m; do umount -l \"$m\"; done;"
                    + " rm -rf '" + base + "'");
        }
    }

    private void removeContainers() throws IOException {
        Path containers = root.resolve("containers");
        if (Files.isDirectory(containers)) {
            for (Path c : list(containers)) {
                layerfs("rm --force " + c.getFileName());
            }
        }
    }

    Sh.Result layerfs(String args) {
        return Cli.run("--root '" + root + "' " + args);
    }

    String ok(String args) {
        Sh.Result r = layerfs(args);
        assertThat(r.exit()).as("layerfs %s: %s", args, r.err()).isZero();
        return r.out();
    }

    /** Runs {@code script} in a new directory, imports that directory as a layer, deletes it; returns the digest. */
    String importLayer(String script) {
        Path src = base.resolve("src");
        Sh.ok("set -e; mkdir '" + src + "'; cd '" + src + "'; " + script);
        String digest = ok("layer import '" + src + "'").trim();
        Sh.ok("rm -rf '" + src + "'");
        return digest;
    }

    Path layerPath(String digest) {
        return Path.of(ok("layer path " + digest).trim());
    }

    /** A new container over one layer, mounted with {@code binding} at base/mnt-NAME. */
    Container mount(String name, String layer, String binding) {
        Container c = new Container(name, layer, binding);
        assertThat(ok("mount --name " + name + " --binding " + binding + " --layer " + layer + " '" + c.mnt() + "'").trim())
                .isEqualTo(name);
        assertThat(Mounts.isMountpoint(c.mnt())).isTrue();
        return c;
    }

    /** Starts {@code bash -c script} in the base directory, its output discarded. */
    Process start(String script) throws IOException {
        return new ProcessBuilder("bash", "-c", script).directory(base.toFile())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    }

    /** Ends a process this test started, and its children, by their handles (SIGKILL). */
    static void stop(Process p) throws InterruptedException {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
    }

    /** Waits for an operation on a mount whose daemon was killed: it must end, with an error. */
    static void assertFailsAfterTheKill(Process op) throws InterruptedException {
        if (!op.waitFor(30, TimeUnit.SECONDS)) {
            stop(op);
            fail("an operation on the mount did not end after its daemon was killed");
        }
        assertThat(op.exitValue()).as("the operation fails with its daemon gone").isNotZero();
    }

    /**
     * Drops {@code file}'s pages from the page cache (it must be clean), so that copying it reads the disk: a
     * copy-up slow enough for a kill to land half-way even when the machine is busy.
     */
    static void evictFromPageCache(Path file) {
        Sh.ok("dd if='" + file + "' iflag=nocache count=0 status=none");
    }

    static List<Path> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.toList();
        }
    }

    /** A container of this store, mounted at base/mnt-NAME over one layer, with the binding of its daemon. */
    final class Container {
        final String name;
        final String layer;
        final String binding;

        private Container(String name, String layer, String binding) {
            this.name = name;
            this.layer = layer;
            this.binding = binding;
        }

        Path mnt() {
            return base.resolve("mnt-" + name);
        }

        Path upper() {
            return root.resolve("containers/" + name + "/upper");
        }

        /** Where copy-ups are built before they go into the upper: WORK/work. */
        Path scratch() {
            return root.resolve("containers/" + name + "/work/work");
        }

        /** The daemon serving the container (started by this test through the launcher), by the pid in its record. */
        long daemonPid() throws IOException {
            String record = Files.readString(root.resolve("containers/" + name + "/container.json"));
            Matcher pid = Pattern.compile("\"pid\" : (\\d+)").matcher(record);
            assertThat(pid.find()).isTrue();
            assertThat(Files.readString(Path.of("/proc/" + pid.group(1) + "/cmdline")).replace('\0', ' '))
                    .as("the daemon serving this container, with its binding")
                    .contains("io.layerfs.cli.Layerfs ").contains(" mount ").contains(" --binding " + binding + " ");
            return Long.parseLong(pid.group(1));
        }

        /** kill -9 of the container's daemon; waits until it is gone. */
        void killDaemon() throws Exception {
            ProcessHandle daemon = ProcessHandle.of(daemonPid()).orElseThrow();
            daemon.destroyForcibly();
            daemon.onExit().get(20, TimeUnit.SECONDS);
        }

        /**
         * Waits for a copy-up in progress: a file the daemon has open in the scratch directory (an unnamed
         * O_TMPFILE file, or a staged one) bigger than 1 MiB and smaller than {@code full}; fails if {@code op}
         * ends first.
         */
        void awaitPartialCopy(long full, Process op) throws Exception {
            Path fds = Path.of("/proc/" + daemonPid() + "/fd");
            String staged = scratch() + "/";
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < deadline) {
                for (Path fd : listIfThere(fds)) {
                    long size = sizeOrZero(fd);
                    if (size > (1 << 20) && size < full && linkTarget(fd).startsWith(staged)) {
                        return;
                    }
                }
                if (!op.isAlive()) {
                    fail("the operation ended (exit " + op.exitValue() + ") before a partial copy-up was seen");
                }
                Thread.sleep(1);
            }
            throw new AssertionError("no copy-up seen in " + scratch());
        }

        /**
         * Recovers a container whose daemon was killed with {@code layerfs umount} (ps says stale until then)
         * and {@code layerfs mount NAME} over its kept upper; the work directory's leftovers are gone once
         * it is mounted. Returns the leftovers there were.
         */
        List<Path> remountAfterKill() throws IOException {
            assertThat(ok("ps")).containsPattern(name + "\\s.*\\sstale\\s");
            ok("umount " + name);
            assertThat(Mounts.isMountpoint(mnt())).isFalse();
            List<Path> leftovers = list(scratch());
            assertThat(ok("mount " + name + " --binding " + binding).trim()).isEqualTo(name);
            assertThat(Mounts.isMountpoint(mnt())).isTrue();
            assertThat(list(scratch())).as("the work directory's leftovers are removed at mount").isEmpty();
            return leftovers;
        }

        /** {@code layerfs rm} of a container whose daemon was killed: nothing mounted, nothing left, the layer released. */
        void rmAfterKill() {
            assertThat(ok("rm " + name).trim()).isEqualTo(name);
            assertThat(Mounts.isMountpoint(mnt())).isFalse();
            assertThat(root.resolve("containers/" + name)).doesNotExist();
            assertThat(root.resolve("holds/" + layer.substring("sha256:".length()) + "/" + name))
                    .as("the layer is released").doesNotExist();
        }
    }

    private static List<Path> listIfThere(Path dir) {
        try {
            return list(dir);
        } catch (IOException e) {
            return List.of();
        }
    }

    /** Where a symlink (such as /proc/PID/fd/N) points, or "" if it is gone. */
    private static String linkTarget(Path link) {
        try {
            return Files.readSymbolicLink(link).toString();
        } catch (IOException e) {
            return "";
        }
    }

    /** The size of a file, 0 if it is not there (or no longer: staged files are renamed away). */
    static long sizeOrZero(Path file) {
        try {
            return Files.isRegularFile(file) ? Files.size(file) : 0;
        } catch (IOException e) {
            return 0;
        }
    }
}
