package io.layerfs.cli;

import io.layerfs.posix.Posix;
import io.layerfs.store.LayerStore;
import picocli.CommandLine.Model.CommandSpec;

import java.nio.file.Path;

/** Where the layer store lives: the global {@code --root} option, else the environment's default. */
final class StoreRoot {
    private StoreRoot() {
    }

    static Path root(CommandSpec command) {
        Path root = ((Layerfs) command.root().userObject()).root;
        if (root != null) {
            return root;
        }
        String env = System.getenv("LAYERFS_ROOT");
        if (env != null && !env.isEmpty()) {
            return Path.of(env);
        }
        if (Posix.isRoot()) {
            return Path.of("/var/lib/layerfs");
        }
        String xdg = System.getenv("XDG_DATA_HOME");
        Path data = xdg != null && !xdg.isEmpty() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".local/share");
        return data.resolve("layerfs");
    }

    static LayerStore open(CommandSpec command) {
        return LayerStore.open(root(command));
    }
}
