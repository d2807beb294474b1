package io.layerfs.cli;

import picocli.CommandLine.Command;

/** {@code layerfs image ...}: images, i.e. named lists of layers. */
@Command(name = "image", description = "Manage images (named, ordered lists of layers).",
        subcommands = {ImageImportCommand.class, ImagesCommand.class, ImageRmCommand.class})
final class ImageCommand {
}
