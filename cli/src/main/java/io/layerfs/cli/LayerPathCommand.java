package io.layerfs.cli;

import io.layerfs.store.LayerStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;

/** {@code layerfs layer path DIGEST}: the read-only layer directory. */
@Command(name = "path", description = "Print the read-only directory of a layer.")
final class LayerPathCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "DIGEST", description = "A digest or a unique prefix of at least 12 hex digits.")
    String digest;

    @Override
    public Integer call() {
        LayerStore s = StoreRoot.open(spec);
        System.out.println(s.path(s.resolve(digest)));
        return 0;
    }
}
