package io.layerfs.cli;

import io.layerfs.store.Digest;
import io.layerfs.store.LayerRecord;
import io.layerfs.store.LayerStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Parameters;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code layerfs layer inspect DIGEST}: the layer's record, path and holds as JSON. */
@Command(name = "inspect", description = "Show a layer's record, directory and holds (JSON).")
final class LayerInspectCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "DIGEST", description = "A digest or a unique prefix of at least 12 hex digits.")
    String digest;

    @Override
    public Integer call() {
        LayerStore s = StoreRoot.open(spec);
        Digest d = s.resolve(digest);
        LayerRecord r = s.record(d);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("digest", r.digest());
        m.put("contentDigest", r.contentDigest());
        m.put("size", r.size());
        m.put("created", r.created());
        m.put("source", r.source());
        m.put("path", s.path(d).toString());
        m.put("holds", s.holders(d));
        System.out.println(Format.json(m));
        return 0;
    }
}
