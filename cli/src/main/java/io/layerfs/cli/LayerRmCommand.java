package io.layerfs.cli;

import io.layerfs.store.Digest;
import io.layerfs.store.LayerStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Parameters;

import java.util.List;
import java.util.concurrent.Callable;

/** {@code layerfs layer rm DIGEST...}: refused while a mount holds the layer or an image uses it. */
@Command(name = "rm", description = "Remove layers (refused while a mount holds one or an image uses it).")
final class LayerRmCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "DIGEST", arity = "1..*", description = "Digests or unique prefixes.")
    List<String> digests;

    @Override
    public Integer call() {
        LayerStore s = StoreRoot.open(spec);
        for (String ref : digests) {
            Digest d = s.resolve(ref);
            s.remove(d);
            System.out.println(d);
        }
        return 0;
    }
}
