package io.layerfs.cli;

import io.layerfs.posix.Posix;

import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongConsumer;

/**
 * A one-line progress bar on stderr for long imports: bytes, rate and ETA, redrawn at most 10 times a
 * second. Shown only on a terminal and only once the transfer passes a few MB.
 */
final class ProgressBar implements LongConsumer, AutoCloseable {
    private static final long SHOW_AFTER = 4_000_000;
    private final PrintStream err;
    private final long total;
    private final long start = System.nanoTime();
    private final boolean enabled;
    private long lastDraw;
    private boolean drawn;

    private ProgressBar(PrintStream err, long total, boolean enabled) {
        this.err = err;
        this.total = total;
        this.enabled = enabled;
    }

    /** A bar for a transfer of {@code total} bytes (-1 if unknown); silent when stderr is not a terminal. */
    static ProgressBar forTransfer(long total) {
        return new ProgressBar(System.err, total, Posix.isatty(2));
    }

    @Override
    public void accept(long done) {
        if (!enabled || done < SHOW_AFTER) {
            return;
        }
        long now = System.nanoTime();
        if (now - lastDraw < 100_000_000 && done != total) {
            return;
        }
        lastDraw = now;
        drawn = true;
        double secs = Math.max(1e-3, (now - start) / 1e9);
        double rate = done / secs;
        StringBuilder line = new StringBuilder("\r");
        if (total > 0) {
            int width = 30;
            int filled = (int) Math.min(width, width * done / total);
            line.append('[').append("#".repeat(filled)).append(" ".repeat(width - filled)).append("] ")
                    .append(Format.size(done)).append(" / ").append(Format.size(total));
            long eta = (long) ((total - done) / Math.max(1, rate));
            line.append(String.format(Locale.ROOT, "  %s/s  ETA %d:%02d", Format.size((long) rate), eta / 60, eta % 60));
        } else {
            line.append(Format.size(done)).append("  ").append(Format.size((long) rate)).append("/s");
        }
        err.print(line.append("\033[K"));
        err.flush();
    }

    @Override
    public void close() {
        if (drawn) {
            err.print("\r\033[K");
            err.flush();
        }
    }
}
