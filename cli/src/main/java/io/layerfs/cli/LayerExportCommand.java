package io.layerfs.cli;

import io.layerfs.store.Digest;
import io.layerfs.store.LayerStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.BufferedOutputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.Callable;

/** {@code layerfs layer export DIGEST -o FILE|-}: the layer as an OCI layer tar. */
@Command(name = "export", description = "Write a layer as an OCI layer tar.")
final class LayerExportCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "DIGEST", description = "A digest or a unique prefix of at least 12 hex digits.")
    String digest;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE|-", description = "Where to write ('-': stdout).")
    String output;

    @Override
    public Integer call() throws Exception {
        LayerStore s = StoreRoot.open(spec);
        Digest d = s.resolve(digest);
        if (output.equals("-")) {
            OutputStream out = new BufferedOutputStream(System.out, 1 << 16);
            s.export(d, out);
            out.flush();
            return 0;
        }
        Path target = Path.of(output).toAbsolutePath();
        Path tmp = Files.createTempFile(target.getParent(), "." + target.getFileName(), ".tmp");
        try {
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16)) {
                s.export(d, out);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return 0;
    }
}
