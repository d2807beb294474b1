package io.layerfs.cli;

import io.layerfs.store.Digest;
import io.layerfs.store.LayerRecord;
import io.layerfs.store.LayerStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code layerfs layer ls [--json]}: digest, size, created, source, holds. */
@Command(name = "ls", aliases = "list", description = "List the layers in the store.")
final class LayerLsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--json", description = "Machine-readable output.")
    boolean json;

    @Option(names = "--no-trunc", description = "Show full digests.")
    boolean noTrunc;

    @Override
    public Integer call() {
        LayerStore s = StoreRoot.open(spec);
        List<Map<String, Object>> layers = new ArrayList<>();
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[]{"DIGEST", "SIZE", "CREATED", "HOLDS", "SOURCE"});
        for (Digest d : s.digests()) {
            LayerRecord r = s.record(d);
            List<String> holders = s.holders(d);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("digest", r.digest());
            m.put("size", r.size());
            m.put("created", r.created());
            m.put("source", r.source());
            m.put("holds", holders);
            layers.add(m);
            rows.add(new String[]{noTrunc ? d.toString() : Digest.ALGORITHM + ":" + d.shortHex(), Format.size(r.size()),
                    Format.time(r.created()), holders.isEmpty() ? "-" : String.join(",", holders), r.source()});
        }
        System.out.print(json ? Format.json(layers) + "\n" : Format.table(rows));
        return 0;
    }
}
