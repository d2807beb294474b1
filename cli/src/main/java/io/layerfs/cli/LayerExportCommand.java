package io.layerfs.cli;

import io.layerfs.store.Digest;
import io.layerfs.store.LayerStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

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
        Output.to(output, out -> s.export(d, out));
        return 0;
    }
}
