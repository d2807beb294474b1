package io.layerfs.cli;

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
 * Starts a layerfs command as a background daemon (a new session, stdin from /dev/null, output to a log
 * file) and waits for it to report on its stdout that the mount is live, or why it failed.
 */
final class Daemon {
    static final String READY = "ready";
    static final String ERROR_PREFIX = "error: ";
    /** The daemon's JVM options and environment, shared with bin/layerfs (see the file). */
    static final String OPTIONS_RESOURCE = "daemon.options";

    private Daemon() {
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
