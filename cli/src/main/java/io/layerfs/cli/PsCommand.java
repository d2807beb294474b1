package io.layerfs.cli;

import io.layerfs.posix.ByteString;
import io.layerfs.posix.Trees;
import io.layerfs.store.ContainerRecord;
import io.layerfs.store.Digest;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code layerfs ps [--json]}: name, image or layers, mountpoint, state, daemon pid, upper size. */
@Command(name = "ps", description = "List container layers: name, image, mountpoint, state, daemon pid, upper size.")
final class PsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--json", description = "Machine-readable output.")
    boolean json;

    @Override
    public Integer call() {
        Containers c = new Containers(StoreRoot.open(spec));
        List<Map<String, Object>> all = new ArrayList<>();
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[]{"NAME", "IMAGE", "MOUNTPOINT", "STATE", "PID", "UPPER"});
        for (ContainerRecord r : c.containers.list()) {
            Containers.State state = r.removing() ? null : c.state(r);
            String stateName = state == null ? "removing" : state.name().toLowerCase(Locale.ROOT);
            long pid = state == Containers.State.MOUNTED ? r.pid() : 0;
            long upperSize = Trees.diskUsage(ByteString.of(c.containers.upper(r.name())));
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", r.name());
            m.put("image", r.image());
            m.put("layers", r.layers());
            m.put("mountpoint", r.mountpoint());
            m.put("state", stateName);
            m.put("pid", pid);
            m.put("upperSize", upperSize);
            all.add(m);
            String image = r.image() != null ? r.image() : r.layers().size() + " layer(s), top "
                    + (r.layers().isEmpty() ? "-" : Digest.parse(r.layers().get(r.layers().size() - 1)).shortHex());
            rows.add(new String[]{r.name(), image, r.mountpoint(), stateName, pid == 0 ? "-" : Long.toString(pid),
                    Format.size(upperSize)});
        }
        System.out.print(json ? Format.json(all) + "\n" : Format.table(rows));
        return 0;
    }
}
