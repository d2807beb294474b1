package io.layerfs.overlay.union;

/**
 * Tells a binding's serving thread that the engine is about to keep it for long: a large copy-up, or a wait
 * for the engine's lock, which another request holds. The binding can let another thread take the next
 * requests meanwhile. A binding registers what to do per thread; on threads without one, nothing happens.
 */
public final class LongWork {
    private static final ThreadLocal<Runnable> BEFORE = new ThreadLocal<>();

    private LongWork() {
    }

    /** Runs {@code beforeLongWork} whenever the engine starts long work on the calling thread. */
    public static void announceOnThisThread(Runnable beforeLongWork) {
        BEFORE.set(beforeLongWork);
    }

    static void begin() {
        Runnable r = BEFORE.get();
        if (r != null) {
            r.run();
        }
    }
}
