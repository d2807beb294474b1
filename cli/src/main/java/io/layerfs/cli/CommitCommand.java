package io.layerfs.cli;

import io.layerfs.store.ContainerRecord;
import io.layerfs.store.Digest;
import io.layerfs.store.ImageNames;
import io.layerfs.store.ImageRecord;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code layerfs commit NAME [--image NEW]}: the container's upper becomes a new layer in the store (its
 * digest is the diffID of the changeset tar); with {@code --image}, an image of its layers plus that one.
 */
@Command(name = "commit", description = "Store a container's writable layer as a new layer (and optionally an image).")
final class CommitCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "NAME|MOUNTPOINT")
    String ref;

    @Option(names = "--image", paramLabel = "NEW", description = "Also record an image: the container's layers plus the new one.")
    String image;

    @Override
    public Integer call() {
        Containers c = new Containers(StoreRoot.open(spec));
        ContainerRecord r = c.find(ref);
        if (image != null) {
            ImageNames.check(image);
        }
        Digest d;
        try (ProgressBar bar = ProgressBar.forTransfer(-1)) {
            d = c.store.importDirectory(c.containers.upper(r.name()), bar);
        }
        if (image != null) {
            List<String> layers = new ArrayList<>(r.layers());
            layers.add(d.toString());
            c.store.putImage(new ImageRecord(image, layers, null, Instant.now().toString(), "commit of " + r.name()));
        }
        System.out.println(d);
        return 0;
    }
}
