package io.layerfs.cli;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Writes command output to stdout ("-") or to a file that appears only when complete. */
final class Output {
    /** What writes the bytes. */
    interface Writer {
        void write(OutputStream out) throws IOException;
    }

    private Output() {
    }

    static void to(String target, Writer writer) throws IOException {
        if (target.equals("-")) {
            OutputStream out = new BufferedOutputStream(System.out, 1 << 16);
            writer.write(out);
            out.flush();
            return;
        }
        Path file = Path.of(target).toAbsolutePath();
        Path tmp = Files.createTempFile(file.getParent(), "." + file.getFileName(), ".tmp");
        try {
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16)) {
                writer.write(out);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
