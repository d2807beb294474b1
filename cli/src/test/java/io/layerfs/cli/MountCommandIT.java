package io.layerfs.cli;

import io.layerfs.overlay.Mounts;
import io.layerfs.testing.Sh;
import io.layerfs.testing.TestImages;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code layerfs mount} / {@code umount} through the packaged launcher and a real daemon. */
class MountCommandIT {
    Path base;
    Path mnt;
    String layers;

    @BeforeEach
    void setUp() throws IOException {
        base = Files.createTempDirectory("layerfs-cli");
        for (String d : new String[]{"upper", "work", "mnt"}) {
            Files.createDirectories(base.resolve(d));
        }
        mnt = base.resolve("mnt");
        layers = TestImages.features() + ":" + TestImages.app() + ":" + TestImages.base();
    }

    @AfterEach
    void tearDown() {
        if (Mounts.isMountpoint(mnt)) {
            Sh.run(null, "umount -l '" + mnt + "'");
        }
        Sh.run(null, "rm -rf '" + base + "'");
    }

    private Sh.Result mount(String extra) {
        return Cli.run("mount --lower '" + layers + "' --upper '" + base.resolve("upper") + "' --work '"
                + base.resolve("work") + "' " + extra + " '" + mnt + "'");
    }

    @Test
    void mountReturnsWithTheDaemonServingAndUmountStopsIt() throws Exception {
        Sh.Result r = mount("");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(Mounts.fsType(mnt)).isEqualTo("fuse.layerfs");
        Sh.ok("chroot '" + mnt + "' /bin/sh -c 'echo hi > /root/hi'");
        Optional<Long> pid = Cli.daemonPid(mnt);
        assertThat(pid).isPresent();
        assertThat(Cli.run("umount '" + mnt + "'").exit()).isZero();
        assertThat(Mounts.isMountpoint(mnt)).isFalse();
        ProcessHandle daemon = ProcessHandle.of(pid.get()).orElse(null);
        if (daemon != null) {
            daemon.onExit().get(10, TimeUnit.SECONDS);
        }
        assertThat(Files.readString(base.resolve("upper/root/hi"))).isEqualTo("hi\n");
        assertThat(Files.readString(base.resolve("work/layerfs.log"))).contains("mounted " + mnt);
    }

    @Test
    void theDaemonIsDetachedFromTheCaller() throws Exception {
        assertThat(mount("").exit()).isZero();
        long pid = Cli.daemonPid(mnt).orElseThrow();
        assertDetached(pid);
        assertThat(Files.readSymbolicLink(Path.of("/proc/" + pid + "/fd/1"))).isEqualTo(base.resolve("work/layerfs.log"));
        // one JVM: the launcher's own, with the daemon's options (full JIT)
        String cmdline = Files.readString(Path.of("/proc/" + pid + "/cmdline")).replace('\0', ' ');
        assertThat(cmdline).contains(" -Xmx96m ").doesNotContain("TieredStopAtLevel").doesNotContain("--foreground");
        assertThat(Cli.run("umount '" + mnt + "'").exit()).isZero();
    }

    @Test
    void withoutTheLauncherTheCommandStartsADaemonJvm() throws Exception {
        Path jar = TestImages.repo().resolve("cli/target/layerfs.jar");
        Sh.Result r = Sh.run(null, "java -Dfile.encoding=ISO-8859-1 -cp '" + jar + "' io.layerfs.cli.Layerfs mount --lower '"
                + layers + "' --upper '" + base.resolve("upper") + "' --work '" + base.resolve("work") + "' '" + mnt + "'");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(Files.readString(mnt.resolve("etc/hostname"))).isEqualTo("layerfs-demo\n");
        long pid = Cli.daemonPid(mnt).orElseThrow();
        assertThat(Files.readString(Path.of("/proc/" + pid + "/cmdline")).replace('\0', ' ')).contains(" mount --foreground --notify-stdout ");
        assertDetached(pid);
        assertThat(Cli.run("umount '" + mnt + "'").exit()).isZero();
        ProcessHandle.of(pid).ifPresent(d -> d.onExit().join());
    }

    /** A session of its own without a terminal, stdin from /dev/null, stdout and stderr to the log. */
    private void assertDetached(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" "); // state ppid pgrp session tty_nr
        assertThat(Long.parseLong(f[3])).as("session").isEqualTo(pid);
        assertThat(f[4]).as("tty").isEqualTo("0");
        Path fd = Path.of("/proc/" + pid + "/fd");
        assertThat(Files.readSymbolicLink(fd.resolve("0"))).isEqualTo(Path.of("/dev/null"));
        assertThat(Files.readSymbolicLink(fd.resolve("2"))).isEqualTo(base.resolve("work/layerfs.log"));
    }

    @Test
    void badInputIsOneLineAndNonZero() {
        Sh.Result r = Cli.run("mount --lower /nonexistent --upper '" + base.resolve("upper") + "' --work '"
                + base.resolve("work") + "' '" + mnt + "'");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("layerfs: lower directory /nonexistent does not exist\n");
        assertThat(Mounts.isMountpoint(mnt)).isFalse();

        r = Cli.run("mount --upper x --work y '" + mnt + "'");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).startsWith("--upper and --work go with --lower\n");

        r = Cli.run("umount '" + base + "'");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("layerfs: " + base + " is neither a container nor a mount point\n");

        r = Cli.run("umount /proc");
        assertThat(r.err()).isEqualTo("layerfs: /proc is not a layerfs mount (it is proc)\n");
    }

    @Test
    void secondMountOnTheSameMountpointIsRefused() {
        assertThat(mount("").exit()).isZero();
        Sh.Result r = mount("");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).isEqualTo("layerfs: mountpoint " + mnt + " is already a mount point\n");
        assertThat(Cli.run("umount '" + mnt + "'").exit()).isZero();
    }

    @Test
    void busyMountIsRefusedUnlessLazy() throws Exception {
        assertThat(mount("").exit()).isZero();
        Process holder = new ProcessBuilder("sleep", "30").directory(mnt.toFile()).start();
        try {
            Sh.Result r = Cli.run("umount '" + mnt + "'");
            assertThat(r.exit()).isEqualTo(1);
            assertThat(r.err()).contains("is busy");
            assertThat(Mounts.isMountpoint(mnt)).isTrue();
            assertThat(Cli.run("umount --lazy '" + mnt + "'").exit()).isZero();
            assertThat(Mounts.isMountpoint(mnt)).isFalse();
        } finally {
            holder.destroy();
            holder.waitFor();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"--foreground", "-f", "-vf"})
    void foregroundServesUntilUnmounted(String option) throws Exception {
        Process fg = new ProcessBuilder("bash", "-c", "exec '" + Cli.launcher() + "' mount " + option + " --lower '"
                + layers + "' --upper '" + base.resolve("upper") + "' --work '" + base.resolve("work") + "' '" + mnt + "'")
                .redirectErrorStream(true).start();
        try {
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (!Mounts.isMountpoint(mnt) && System.nanoTime() < deadline && fg.isAlive()) {
                Thread.sleep(50);
            }
            assertThat(Mounts.isMountpoint(mnt)).isTrue();
            // the launcher's own process serves, as the JVM it became (Ctrl-C reaches it), not a detached daemon
            assertThat(Files.readString(Path.of("/proc/" + fg.pid() + "/comm")).trim()).isEqualTo("java");
            assertThat(Cli.daemonPid(mnt)).isEmpty();
            assertThat(Files.readString(mnt.resolve("etc/hostname"))).isEqualTo("layerfs-demo\n");
            assertThat(Cli.run("umount '" + mnt + "'").exit()).isZero();
            assertThat(fg.waitFor(10, TimeUnit.SECONDS)).isTrue();
            assertThat(fg.exitValue()).isZero();
        } finally {
            fg.destroyForcibly();
        }
    }

    @Test
    void sigtermUnmountsCleanly() throws Exception {
        assertThat(mount("").exit()).isZero();
        long pid = Cli.daemonPid(mnt).orElseThrow();
        ProcessHandle daemon = ProcessHandle.of(pid).orElseThrow();
        daemon.destroy(); // SIGTERM
        daemon.onExit().get(15, TimeUnit.SECONDS);
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (Mounts.isMountpoint(mnt) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertThat(Mounts.isMountpoint(mnt)).isFalse();
    }

    /**
     * {@code --volatile}: a clean umount (right away remounted) and a SIGTERM leave an upper that mounts again; a
     * killed daemon's leaves its mark, and the next mount is refused with one line, until the user removes it.
     */
    @Test
    void aVolatileUpperLeftByAKilledDaemonIsNotMountedAgainUnasked() throws Exception {
        Path mark = base.resolve("work/work/incompat/volatile");
        assertThat(mount("--volatile").exit()).isZero();
        Sh.ok("echo one > '" + mnt + "/one'");
        assertThat(Cli.run("umount '" + mnt + "'").exit()).isZero();
        Sh.Result r = mount("");
        assertThat(r.exit()).as(r.err()).isZero(); // no race with the old daemon's last step
        assertThat(Cli.run("umount '" + mnt + "'").exit()).isZero();

        for (String binding : new String[]{"dev-fuse", "jnr-fuse"}) {
            assertThat(mount("--volatile --binding " + binding).exit()).isZero();
            ProcessHandle daemon = ProcessHandle.of(Cli.daemonPid(mnt).orElseThrow()).orElseThrow();
            daemon.destroy(); // SIGTERM: unmounts, syncs, drops the mark
            daemon.onExit().get(15, TimeUnit.SECONDS);
            assertThat(mark).as(binding).doesNotExist();
        }

        assertThat(mount("--volatile").exit()).isZero();
        Sh.ok("echo two > '" + mnt + "/two'");
        ProcessHandle daemon = ProcessHandle.of(Cli.daemonPid(mnt).orElseThrow()).orElseThrow();
        daemon.destroyForcibly();
        daemon.onExit().get(15, TimeUnit.SECONDS);
        assertThat(Cli.run("umount '" + mnt + "'").exit()).as("umount clears the dead mount").isZero();
        r = mount("");
        assertThat(r.exit()).isNotZero();
        assertThat(r.err().strip()).doesNotContain("\n").contains("mounted volatile and not unmounted cleanly")
                .contains(mark.toString());
        assertThat(Mounts.isMountpoint(mnt)).isFalse();
        Sh.ok("rm -r '" + mark + "'");
        r = mount("");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(Files.readString(mnt.resolve("one"))).isEqualTo("one\n");
    }
}
