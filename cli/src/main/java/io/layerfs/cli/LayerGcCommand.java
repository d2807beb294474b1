package io.layerfs.cli;

import io.layerfs.store.Digest;
import io.layerfs.store.LayerStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.util.concurrent.Callable;

/** {@code layerfs layer gc}: removes unheld layers no image uses, and leftovers of interrupted imports. */
@Command(name = "gc", description = "Remove layers no mount holds and no image uses, and leftovers of interrupted imports.")
final class LayerGcCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        LayerStore.GcResult r = StoreRoot.open(spec).gc();
        for (Digest d : r.layers()) {
            System.out.println("removed " + d);
        }
        if (r.abandonedImports() > 0) {
            System.out.println("removed " + r.abandonedImports() + " leftover(s) of interrupted imports");
        }
        return 0;
    }
}
