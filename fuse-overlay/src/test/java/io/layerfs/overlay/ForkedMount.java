package io.layerfs.overlay;

import io.layerfs.testing.Sh;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A layerfs mount served by a child JVM (the test's own classpath), under a fresh temp directory, like
 * {@link MountFixture}. Needed where the test process page-faults on the mount (mmap): with the FUSE server in the
 * same process, a fault holds the process's mmap lock while it waits for FUSE, and a FUSE worker that needs that
 * lock (any allocation that maps memory) deadlocks with it. The child mounts, prints "ready", and then obeys
 * "remount" and "exit" lines on stdin; end of stdin (the test JVM died) unmounts too.
 */
public final class ForkedMount implements AutoCloseable {
    private final Path base;
    private final List<Path> lowers;
    private final double attrTimeout;
    private Process child;
    private BufferedReader out;
    private OutputStream in;

    public ForkedMount(List<Path> lowers) {
        this(lowers, 1);
    }

    public ForkedMount(List<Path> lowers, double attrTimeout) {
        this.lowers = lowers;
        this.attrTimeout = attrTimeout;
        try {
            base = Files.createTempDirectory("layerfs-forked");
            Files.createDirectories(upper());
            Files.createDirectories(work());
            Files.createDirectories(mnt());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        mount();
    }

    public Path mnt() {
        return base.resolve("mnt");
    }

    public Path upper() {
        return base.resolve("upper");
    }

    public Path work() {
        return base.resolve("work");
    }

    public long pid() {
        return child.pid();
    }

    public boolean isMounted() {
        return child != null;
    }

    public void mount() {
        if (child != null) {
            return;
        }
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dfile.encoding=ISO-8859-1", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", cp));
        String binding = System.getProperty("layerfs.binding");
        if (binding != null) {
            cmd.add("-Dlayerfs.binding=" + binding);
        }
        cmd.add(ForkedMount.class.getName());
        cmd.add(Double.toString(attrTimeout));
        cmd.add(mnt().toString());
        cmd.add(upper().toString());
        cmd.add(work().toString());
        lowers.forEach(l -> cmd.add(l.toString()));
        try {
            child = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
        in = child.getOutputStream();
        awaitReady();
    }

    private void awaitReady() {
        CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> {
            try {
                return out.readLine();
            } catch (IOException e) {
                return null;
            }
        });
        String got;
        try {
            got = line.get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            got = null;
        }
        if (!"ready".equals(got)) {
            kill();
            throw new IllegalStateException("forked layerfs mount at " + mnt() + " did not come up: " + got);
        }
    }

    /** Unmounts and mounts again over the same upper, in the same child. */
    public void remount() {
        command("remount");
        awaitReady();
    }

    public void unmount() {
        if (child == null) {
            return;
        }
        try {
            command("exit");
            in.close();
            if (!child.waitFor(60, TimeUnit.SECONDS)) {
                kill();
                throw new IllegalStateException("forked layerfs mount at " + mnt() + " did not exit within 60 s");
            }
        } catch (IOException e) {
            kill();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            kill();
        } finally {
            child = null;
        }
    }

    private void command(String line) {
        try {
            in.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            in.flush();
        } catch (IOException e) {
            throw new IllegalStateException("forked mount gone: " + e.getMessage(), e);
        }
    }

    /** Last resort: kill the child by its pid and detach the mount. */
    private void kill() {
        if (child != null) {
            child.destroyForcibly();
            try {
                child.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (Mounts.isMountpoint(mnt())) {
            Sh.run(null, "umount '" + mnt() + "' 2>/dev/null || umount -l '" + mnt() + "'");
        }
    }

    @Override
    public void close() {
        try {
            unmount();
        } finally {
            if (Mounts.isMountpoint(mnt())) {
                Sh.run(null, "umount -l '" + mnt() + "'");
            }
            if (!Mounts.isMountpoint(mnt())) {
                Sh.run(null, "rm -rf '" + base + "'");
            }
        }
    }

    /** The child: args attr-timeout mnt upper work lower...; commands on stdin. */
    public static void main(String[] args) throws IOException {
        double attr = Double.parseDouble(args[0]);
        Path mnt = Path.of(args[1]);
        List<Path> lowers = new ArrayList<>();
        for (int i = 4; i < args.length; i++) {
            lowers.add(Path.of(args[i]));
        }
        OverlayConfig config = new OverlayConfig(lowers, Path.of(args[2]), Path.of(args[3]),
                OverlayConfig.Options.defaults().withAttrTimeout(attr));
        OverlayMount m = OverlayFs.mount(config, mnt);
        System.out.println("ready");
        System.out.flush();
        BufferedReader r = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = r.readLine()) != null && !line.equals("exit")) {
            if (line.equals("remount")) {
                m.close();
                m = OverlayFs.mount(config, mnt);
                System.out.println("ready");
                System.out.flush();
            }
        }
        m.close();
        System.exit(0);
    }
}
