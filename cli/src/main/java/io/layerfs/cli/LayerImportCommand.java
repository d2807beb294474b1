package io.layerfs.cli;

import io.layerfs.store.Digest;
import io.layerfs.store.LayerStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Parameters;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code layerfs layer import PATH|-}: a directory, a tar, a tar.gz/tgz, or a tar on stdin. Prints the digest. */
@Command(name = "import", description = "Import a layer: a directory, a .tar, a .tar.gz/.tgz, or '-' for a tar on stdin. Prints its digest.")
final class LayerImportCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "PATH|-", description = "What to import.")
    String source;

    @Override
    public Integer call() throws Exception {
        LayerStore s = StoreRoot.open(spec);
        Digest d;
        if (source.equals("-")) {
            try (ProgressBar bar = ProgressBar.forTransfer(-1)) {
                d = s.importTar(System.in, "-", bar);
            }
        } else {
            Path p = Path.of(source);
            if (!Files.exists(p)) {
                throw new UserError(source + " does not exist");
            }
            if (Files.isDirectory(p)) {
                try (ProgressBar bar = ProgressBar.forTransfer(-1)) {
                    d = s.importDirectory(p, bar);
                }
            } else {
                try (InputStream in = Files.newInputStream(p); ProgressBar bar = ProgressBar.forTransfer(Files.size(p))) {
                    d = s.importTar(in, p.toAbsolutePath().toString(), bar);
                }
            }
        }
        System.out.println(d);
        return 0;
    }
}
