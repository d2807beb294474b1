package io.layerfs.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code layerfs} command: parses, dispatches to one class per subcommand, maps failures to exit codes. */
@Command(name = "layerfs", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "Container-style root filesystems from the shell: union mounts of read-only layers.",
        subcommands = {MountCommand.class, UmountCommand.class, CommandLine.HelpCommand.class})
public final class Layerfs {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String... args) {
        CommandLine cli = new CommandLine(new Layerfs());
        cli.setExecutionExceptionHandler(new ErrorHandler());
        return cli.execute(args);
    }
}
