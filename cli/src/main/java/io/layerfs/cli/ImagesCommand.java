package io.layerfs.cli;

import io.layerfs.store.Digest;
import io.layerfs.store.ImageRecord;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code layerfs images [--json]} (also {@code layerfs image ls}). */
@Command(name = "ls", description = "List images.")
final class ImagesCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--json", description = "Machine-readable output.")
    boolean json;

    @Override
    public Integer call() {
        List<ImageRecord> images = StoreRoot.open(spec).images();
        if (json) {
            System.out.println(Format.json(images));
            return 0;
        }
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[]{"NAME", "LAYERS", "TOP LAYER", "CREATED", "SOURCE"});
        for (ImageRecord i : images) {
            String top = i.layers().isEmpty() ? "-" : Digest.ALGORITHM + ":" + Digest.parse(i.layers().get(i.layers().size() - 1)).shortHex();
            rows.add(new String[]{i.name(), Integer.toString(i.layers().size()), top, Format.time(i.created()), i.source()});
        }
        System.out.print(Format.table(rows));
        return 0;
    }
}
