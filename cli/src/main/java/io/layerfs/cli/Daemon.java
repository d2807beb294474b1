package io.layerfs.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Starts a layerfs command as a background daemon (a new session, stdin from /dev/null, output to a log
 * file) and waits for it to report on its stdout that the mount is live, or why it failed.
 */
final class Daemon {
    static final String READY = "ready";
    static final String ERROR_PREFIX = "error: ";
    /** The daemon serves for a long time: full JIT, a small fixed heap, the serial collector. */
    private static final List<String> JVM_OPTIONS = List.of(
            "-Dfile.encoding=ISO-8859-1", "-XX:+UseSerialGC", "-Xms16m", "-Xmx96m", "-Xmn16m", "-XX:+ExitOnOutOfMemoryError",
            "-XX:-UsePerfData");

    private Daemon() {
    }

    /**
     * Starts the daemon with {@code args} and returns its pid once it says it is ready; throws with its
     * reason otherwise. (setsid execs in place, so the pid is the daemon's.)
     */
    static long start(List<String> args, Path logFile) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add("setsid");
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(JVM_OPTIONS);
        String cds = System.getProperty("layerfs.cds"); // the launcher's class-data sharing archive, if current
        if (cds != null) {
            cmd.addAll(List.of("-XX:SharedArchiveFile=" + cds, "-Xlog:cds=off", "-Xlog:cds+dynamic=off"));
        }
        cmd.add("-Dlayerfs.log.file=" + logFile.toAbsolutePath());
        cmd.add("-Dlogback.configurationFile=logback-daemon.xml");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Layerfs.class.getName());
        cmd.addAll(args);
        Files.createDirectories(logFile.toAbsolutePath().getParent());
        ProcessBuilder pb = new ProcessBuilder(cmd);
        // libfuse's worker threads each get a malloc arena otherwise: tens of MB of RSS for nothing
        pb.environment().put("MALLOC_ARENA_MAX", "2");
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
