package io.layerfs.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Parameters;

import java.util.List;
import java.util.concurrent.Callable;

/** {@code layerfs image rm NAME...}: forgets images; their layers stay until {@code layer gc}. */
@Command(name = "rm", description = "Remove images (their layers stay until 'layer gc').")
final class ImageRmCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "NAME", arity = "1..*")
    List<String> names;

    @Override
    public Integer call() {
        var s = StoreRoot.open(spec);
        for (String n : names) {
            s.removeImage(n);
            System.out.println(n);
        }
        return 0;
    }
}
