package io.layerfs.overlay.devfuse;

import io.layerfs.posix.Posix;
import jnr.ffi.Pointer;

/**
 * Reads the next request from the non-blocking /dev/fuse descriptor for the worker holding the reading turn.
 * While requests come close together it polls the queue for up to {@link #SPIN_NS} before sleeping in
 * poll(2): a client that sends one request after another (find, rm -rf, chmod -R, tar) then finds the worker
 * awake, which saves the kernel's wake-up of a sleeping thread: up to half of a round trip on this VM, as much as
 * the wake-up costs at the time (docs/BENCHMARKS.md, session 6). Once a gap outlasts the spin, the reader
 * sleeps straight away until gaps are short again, so a client that pauses a little longer than the spin
 * between its requests costs no spinning, and an idle mount no CPU.
 */
final class RequestReader {
    /**
     * How long to poll an empty queue before sleeping; longer than most clients' gap between requests. A first
     * warm walk of /usr (a GETATTR per directory, some 30-100 µs apart) took 0.91-1.24 s with 100 µs against
     * 1.49-1.77 s with 30 µs, for about 25% more daemon CPU over a bench-like sequence (docs/BENCHMARKS.md,
     * session 8). None on a single CPU, where a spinning worker would only keep the client from running.
     */
    static final long SPIN_NS = Runtime.getRuntime().availableProcessors() > 1 ? 100_000 : 0;
    private static final int EAGAIN = 11;
    private static final short POLLIN = 1;

    private final int fd;
    /** Whether the last request came within the spin (only the turn holder reads and writes this). */
    private boolean gapsShort = true;

    /** {@code fd} must be open with O_NONBLOCK. */
    RequestReader(int fd) {
        this.fd = fd;
    }

    /**
     * The next request into {@code buf}: its length, or -errno (ENODEV once unmounted). {@code scratch} holds
     * 8 bytes for poll(2)'s struct pollfd.
     */
    long read(Pointer buf, int size, Pointer scratch) {
        long n = Posix.readOrErrno(fd, buf, size);
        if (n != -EAGAIN) {
            gapsShort = true;
            return n;
        }
        long start = System.nanoTime();
        while (true) {
            if (gapsShort && System.nanoTime() - start < SPIN_NS) {
                // a pause, not sched_yield: a worker that yields to a busy thread (the JIT compiler) is still
                // runnable, so a request arriving then waits for that thread's time slice instead of waking it;
                // a sleeping worker is woken at once. (Measured both: yield lost on create and untar.)
                Thread.onSpinWait();
            } else {
                int r = Posix.pollOrErrno(scratch, fd, POLLIN, -1);
                if (r < 0 && r != -4) { // not EINTR
                    return r;
                }
            }
            n = Posix.readOrErrno(fd, buf, size);
            if (n != -EAGAIN) {
                gapsShort = System.nanoTime() - start < SPIN_NS;
                return n;
            }
        }
    }
}
