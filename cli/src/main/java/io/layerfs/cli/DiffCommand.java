package io.layerfs.cli;

import io.layerfs.layer.ChangeScanner;
import io.layerfs.layer.LayerTarWriter;
import io.layerfs.posix.ByteString;
import io.layerfs.store.ContainerRecord;
import io.layerfs.store.Digest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code layerfs diff NAME|MOUNTPOINT}: what the writable layer changed, as {@code docker diff} prints it;
 * {@code --json} as podman does; {@code --output} writes the OCI changeset tar.
 */
@Command(name = "diff", description = "Show what a container's writable layer changed (A added, C changed, D deleted).")
final class DiffCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "NAME|MOUNTPOINT")
    String ref;

    @Option(names = "--json", description = "{\"added\":[...],\"changed\":[...],\"deleted\":[...]}")
    boolean json;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE|-", description = "Write the changes as an OCI layer tar ('-': stdout).")
    String output;

    @Override
    public Integer call() throws Exception {
        Containers c = new Containers(StoreRoot.open(spec));
        ContainerRecord r = c.find(ref);
        String upper = ByteString.of(c.containers.upper(r.name()));
        if (output != null) {
            Output.to(output, out -> LayerTarWriter.write(upper, out));
            return 0;
        }
        List<String> lowers = new ArrayList<>();
        for (int i = r.layers().size() - 1; i >= 0; i--) {
            lowers.add(ByteString.of(c.store.path(Digest.parse(r.layers().get(i)))));
        }
        List<ChangeScanner.Change> changes = ChangeScanner.scan(upper, lowers);
        if (json) {
            Map<String, List<String>> m = new LinkedHashMap<>();
            m.put("added", new ArrayList<>());
            m.put("changed", new ArrayList<>());
            m.put("deleted", new ArrayList<>());
            for (ChangeScanner.Change ch : changes) {
                String key = switch (ch.kind()) {
                    case ADDED -> "added";
                    case CHANGED -> "changed";
                    case DELETED -> "deleted";
                };
                m.get(key).add(ByteString.display(ch.path()));
            }
            System.out.println(Format.json(m));
        } else {
            StringBuilder out = new StringBuilder();
            for (ChangeScanner.Change ch : changes) {
                out.append(ch.kind().name().charAt(0)).append(' ').append(ByteString.display(ch.path())).append('\n');
            }
            System.out.print(out);
        }
        return 0;
    }
}
