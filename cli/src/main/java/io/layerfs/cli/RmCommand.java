package io.layerfs.cli;

import io.layerfs.store.ContainerRecord;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code layerfs rm NAME|MOUNTPOINT...}: tears a container layer down in one command: unmount (refused when
 * busy unless --force; a stale mount is recovered), release its layers, delete upper and work, forget it.
 * Safe to run again after a crash half-way.
 */
@Command(name = "rm", description = "Tear container layers down: unmount, delete upper and work, release the layers.")
final class RmCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = {"-f", "--force"}, description = "Even when busy: detach lazily and stop the daemon.")
    boolean force;

    @Parameters(paramLabel = "NAME|MOUNTPOINT", arity = "1..*")
    List<String> refs;

    @Override
    public Integer call() throws Exception {
        Containers c = new Containers(StoreRoot.open(spec));
        for (String ref : refs) {
            ContainerRecord r = c.find(ref);
            c.remove(r, force);
            System.out.println(r.name());
        }
        return 0;
    }
}
