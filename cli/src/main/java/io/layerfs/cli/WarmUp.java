package io.layerfs.cli;

import io.layerfs.overlay.OverlayConfig;
import io.layerfs.overlay.OverlayFs;

/**
 * A mount daemon's start, in parallel: while the main thread parses the command line (picocli), a second
 * thread loads what the mount needs next (logging, the libc binding, the libfuse binding). On a machine with
 * a spare core that work leaves the critical path; the mount does the rest as before. The binding is guessed
 * from the arguments only to choose what to load; the command's own parsing decides what is mounted.
 */
final class WarmUp {
    private WarmUp() {
    }

    static void start(String[] args) {
        OverlayConfig.Binding binding = guessBinding(args);
        Thread t = new Thread(() -> {
            org.slf4j.LoggerFactory.getILoggerFactory();
            OverlayFs.warmUp(binding);
        }, "layerfs-warm-up");
        t.setDaemon(true);
        t.start();
    }

    private static OverlayConfig.Binding guessBinding(String[] args) {
        OverlayConfig.Binding binding = OverlayConfig.Binding.JNR_FUSE;
        try {
            binding = OverlayConfig.Binding.defaultBinding();
            for (int i = 0; i < args.length; i++) {
                if (args[i].startsWith("--binding=")) {
                    binding = OverlayConfig.Binding.parse(args[i].substring("--binding=".length()));
                } else if (args[i].equals("--binding") && i + 1 < args.length) {
                    binding = OverlayConfig.Binding.parse(args[i + 1]);
                }
            }
        } catch (IllegalArgumentException e) {
            // the command's parsing reports it
        }
        return binding;
    }
}
