package io.layerfs.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

import java.nio.file.Path;

/** The {@code layerfs} command: parses, dispatches to one class per subcommand, maps failures to exit codes. */
@Command(name = "layerfs", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "Container-style root filesystems from the shell: union mounts of read-only layers.",
        subcommands = {MountCommand.class, UmountCommand.class, PsCommand.class, DiffCommand.class,
                CommitCommand.class, RmCommand.class, LogsCommand.class, LayerCommand.class, ImageCommand.class,
                CommandLine.HelpCommand.class})
public final class Layerfs {
    @Option(names = "--root", paramLabel = "DIR", scope = ScopeType.INHERIT,
            description = "Store location (default: $LAYERFS_ROOT, /var/lib/layerfs for root, else $XDG_DATA_HOME/layerfs).")
    Path root;

    @Option(names = {"-v", "--verbose"}, scope = ScopeType.INHERIT, description = "Show stack traces on errors.")
    boolean verbose;

    public static void main(String[] args) {
        if (Daemon.inProcess()) {
            WarmUp.start(args);
        }
        System.exit(run(args));
    }

    static int run(String... args) {
        CommandLine cli = new CommandLine(new Layerfs());
        cli.addSubcommand("images", new ImagesCommand()); // docker's spelling of `image ls`
        cli.setExecutionExceptionHandler(new ErrorHandler());
        return cli.execute(args);
    }
}
