package io.layerfs.cli;

import io.layerfs.store.ImageRecord;
import io.layerfs.store.OciImageImporter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code layerfs image import DIR[:TAG] [--name NAME]}: an OCI image layout, as umoci and skopeo write. */
@Command(name = "import", description = "Import an image from an OCI image layout directory (DIR[:TAG]).")
final class ImageImportCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "DIR[:TAG]", description = "The layout, and the tag to import if it holds several images.")
    String ref;

    @Option(names = "--name", description = "Name to record the image under (default: the tag, else the directory name).")
    String name;

    @Override
    public Integer call() {
        String dir = ref;
        String tag = null;
        int colon = ref.lastIndexOf(':');
        if (colon > 0 && !Files.isDirectory(Path.of(ref))) {
            dir = ref.substring(0, colon);
            tag = ref.substring(colon + 1);
        }
        Path layout = Path.of(dir);
        if (!Files.isDirectory(layout)) {
            throw new UserError(dir + " is not a directory");
        }
        String imageName = name != null ? name : tag != null ? tag : layout.toAbsolutePath().normalize().getFileName().toString();
        ImageRecord image;
        try (ProgressBar bar = ProgressBar.forTransfer(-1)) {
            image = new OciImageImporter(StoreRoot.open(spec)).importImage(layout, tag, imageName, bar);
        }
        System.out.println(image.name());
        return 0;
    }
}
