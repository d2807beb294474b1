package io.layerfs.cli;

import io.layerfs.store.ContainerRecord;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code layerfs logs NAME}: the daemon's log (one file per container). */
@Command(name = "logs", description = "Show a container's daemon log.")
final class LogsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "NAME|MOUNTPOINT")
    String ref;

    @Override
    public Integer call() throws Exception {
        Containers c = new Containers(StoreRoot.open(spec));
        ContainerRecord r = c.find(ref);
        Path log = c.containers.log(r.name());
        if (Files.exists(log)) {
            try (var in = Files.newInputStream(log)) {
                in.transferTo(System.out);
            }
            System.out.flush();
        }
        return 0;
    }
}
