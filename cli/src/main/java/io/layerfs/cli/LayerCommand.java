package io.layerfs.cli;

import picocli.CommandLine.Command;

/** {@code layerfs layer ...}: the layer store. */
@Command(name = "layer", description = "Manage layers in the store.",
        subcommands = {LayerImportCommand.class, LayerLsCommand.class, LayerInspectCommand.class,
                LayerPathCommand.class, LayerExportCommand.class, LayerRmCommand.class, LayerGcCommand.class,
                LayerVerifyCommand.class})
final class LayerCommand {
}
