package io.layerfs.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs shell commands for tests: what a user would type, through ordinary syscalls. */
public final class Sh {
    public record Result(int exit, String out, String err) {
    }

    private Sh() {
    }

    /** Runs {@code bash -c script} in {@code dir}; returns exit code and output. */
    public static Result run(Path dir, String script) {
        // umask explicitly: an in-process mount sets the test JVM's umask to 0, and children inherit it
        List<String> cmd = new ArrayList<>(List.of("bash", "-c", "umask 022\n" + script));
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir == null ? null : dir.toFile());
            pb.environment().put("LC_ALL", "C");
            Process p = pb.start();
            p.getOutputStream().close();
            var out = p.getInputStream().readAllBytes();
            var err = p.getErrorStream().readAllBytes();
            if (!p.waitFor(300, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("timed out: " + script);
            }
            return new Result(p.exitValue(), new String(out, StandardCharsets.ISO_8859_1),
                    new String(err, StandardCharsets.ISO_8859_1));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** Runs a script that must succeed; returns its stdout. */
    public static String ok(Path dir, String script) {
        Result r = run(dir, script);
        if (r.exit != 0) {
            throw new AssertionError("exit " + r.exit + " from: " + script + "\nstdout: " + r.out + "\nstderr: " + r.err);
        }
        return r.out;
    }

    public static String ok(String script) {
        return ok(null, script);
    }
}
