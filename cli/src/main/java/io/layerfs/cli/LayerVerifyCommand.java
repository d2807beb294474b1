package io.layerfs.cli;

import io.layerfs.store.LayerStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Parameters;

import java.util.List;
import java.util.concurrent.Callable;

/** {@code layerfs layer verify [DIGEST]}: recomputes digests; names every corrupt layer; exit 1 if any. */
@Command(name = "verify", description = "Recompute layer digests; exit 1 if any layer changed.")
final class LayerVerifyCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "DIGEST", arity = "0..1", description = "One layer (default: all).")
    String digest;

    @Override
    public Integer call() {
        LayerStore s = StoreRoot.open(spec);
        List<LayerStore.Verification> results = s.verify(digest == null ? s.digests() : List.of(s.resolve(digest)));
        int bad = 0;
        for (LayerStore.Verification v : results) {
            if (v.ok()) {
                System.out.println("ok       " + v.digest());
            } else {
                bad++;
                System.out.println("CORRUPT  " + v.digest() + ": " + v.problem());
            }
        }
        if (bad > 0) {
            System.err.println("layerfs: " + bad + " of " + results.size() + " layer(s) corrupt");
            return ErrorHandler.FAILURE;
        }
        return 0;
    }
}
