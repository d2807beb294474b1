package io.layerfs.cli;

import io.layerfs.overlay.OverlayConfig;
import io.layerfs.overlay.OverlayFs;
import io.layerfs.overlay.OverlayMount;
import io.layerfs.posix.ByteString;
import io.layerfs.posix.Posix;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The daemon that serves a mount made without {@code --foreground}: a process in a session of its own, stdin
 * from /dev/null, stdout and stderr to a log file, serving until the mount is unmounted. Two ways to get one:
 * <ul>
 * <li>{@link #start}: starts a second JVM running {@code mount --foreground --notify-stdout} and waits for it
 *     to report on its stdout that the mount is live, or why it failed;</li>
 * <li>in process: bin/layerfs starts the JVM of such a mount as the daemon already (with these JVM options,
 *     in a new session, stdin from /dev/null) and sets {@value #STATUS_FD_PROPERTY} to a pipe it reads; the
 *     command then mounts in this process ({@link #mount}), says what it has to say on the caller's stdout,
 *     and {@link #detachAndServe() detaches}: stdout and stderr go to the log and "ready" down the pipe, and
 *     the launcher exits 0 while this process serves. A failure before that is the command's exit status,
 *     which the launcher passes on. One JVM start instead of two.</li>
 * </ul>
 */
final class Daemon {
    static final String READY = "ready";
    static final String ERROR_PREFIX = "error: ";
    /** The daemon's JVM options and environment, shared with bin/layerfs (see the file). */
    static final String OPTIONS_RESOURCE = "daemon.options";
    /** Set by bin/layerfs: this process is the daemon; the file descriptor to report "ready" on. */
    static final String STATUS_FD_PROPERTY = "layerfs.status.fd";

    /** The in-process daemon's mount and its open log file, once {@link #mount} succeeded. */
    private static OverlayMount mounted;
    private static int logFd = -1;

    private Daemon() {
    }

    /** True when bin/layerfs started this JVM to become the daemon of the mount it runs. */
    static boolean inProcess() {
        return System.getProperty(STATUS_FD_PROPERTY) != null;
    }

    /**
     * The in-process daemon, first half: opens the log (creating it as {@link #start} would), logs there from
     * now on, and mounts. Returns once the mount serves; throws with the reason otherwise, while stdout and
     * stderr are still the caller's. Then call {@link #detachAndServe()}.
     */
    static void mount(OverlayConfig config, Path mnt, Path logFile) throws IOException, InterruptedException {
        Path log = logFile.toAbsolutePath();
        Files.createDirectories(log.getParent());
        int fd = Posix.open(ByteString.of(log), Posix.O_WRONLY | Posix.O_CREAT | Posix.O_APPEND, 0666);
        try {
            LogConfig.toFile(log);
            mounted = MountCommand.mount(config, mnt);
        } catch (RuntimeException | Error e) {
            Posix.close(fd);
            throw e;
        }
        logFd = fd;
    }

    /**
     * The in-process daemon, second half: stdout and stderr to the log, "ready" to the launcher (which then
     * exits 0), and serve until the mount is unmounted. Returns the command's exit status.
     */
    static int detachAndServe() throws InterruptedException {
        if (mounted == null) {
            throw new IllegalStateException("nothing mounted in this process");
        }
        System.out.flush();
        System.err.flush();
        Posix.dup2(logFd, 1);
        Posix.dup2(logFd, 2);
        Posix.close(logFd);
        logFd = -1;
        int statusFd = Integer.parseInt(System.getProperty(STATUS_FD_PROPERTY));
        byte[] line = (READY + "\n").getBytes(StandardCharsets.US_ASCII);
        Pointer buf = Memory.allocateDirect(Posix.runtime(), line.length);
        buf.put(0, line, 0, line.length);
        Posix.writeOrErrno(statusFd, buf, line.length); // EPIPE if the launcher is gone (Ctrl-C): serve all the same
        Posix.close(statusFd);
        mounted.awaitUnmount();
        return 0;
    }

    /** How a daemon's JVM runs: its options, and environment variables to set. */
    record JvmOptions(List<String> options, Map<String, String> environment) {
        static JvmOptions read() {
            List<String> options = new ArrayList<>();
            Map<String, String> env = new LinkedHashMap<>();
            try (InputStream in = Daemon.class.getResourceAsStream(OPTIONS_RESOURCE)) {
                if (in == null) {
                    throw new IllegalStateException(OPTIONS_RESOURCE + " is missing from the jar");
                }
                for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                    line = line.strip();
                    if (line.isEmpty() || line.startsWith("#")) {
                        continue;
                    }
                    int eq = line.indexOf('=');
                    if (line.startsWith("-")) {
                        options.add(line);
                    } else if (eq > 0) {
                        env.put(line.substring(0, eq), line.substring(eq + 1));
                    } else {
                        throw new IllegalStateException(OPTIONS_RESOURCE + ": neither an option nor NAME=VALUE: " + line);
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return new JvmOptions(List.copyOf(options), Map.copyOf(env));
        }
    }

    /**
     * Starts the daemon with {@code args} and returns its pid once it says it is ready; throws with its
     * reason otherwise. (setsid execs in place, so the pid is the daemon's.)
     */
    static long start(List<String> args, Path logFile) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add("setsid");
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        JvmOptions jvm = JvmOptions.read();
        cmd.addAll(jvm.options());
        String cds = System.getProperty("layerfs.cds"); // the launcher's class-data sharing archive, if current
        if (cds != null) {
            cmd.addAll(List.of("-XX:SharedArchiveFile=" + cds, "-Xlog:cds=off", "-Xlog:cds+dynamic=off"));
        }
        cmd.add("-D" + LogConfig.LOG_FILE_PROPERTY + "=" + logFile.toAbsolutePath());
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Layerfs.class.getName());
        cmd.addAll(args);
        Files.createDirectories(logFile.toAbsolutePath().getParent());
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().putAll(jvm.environment());
        Process p = pb
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .redirectError(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
                .start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.ISO_8859_1))) {
            String line;
            while ((line = out.readLine()) != null) {
                if (line.equals(READY)) {
                    return p.pid();
                }
                if (line.startsWith(ERROR_PREFIX)) {
                    throw new UserError(line.substring(ERROR_PREFIX.length()));
                }
            }
        }
        boolean exited = p.waitFor(5, TimeUnit.SECONDS);
        throw new UserError("the mount daemon " + (exited ? "exited with status " + p.exitValue() : "stopped answering")
                + " before the mount was ready; see " + logFile);
    }
}
