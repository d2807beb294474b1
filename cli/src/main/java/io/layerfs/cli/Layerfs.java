package io.layerfs.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/** The {@code layerfs} command: parses, dispatches to one class per subcommand, maps failures to exit codes. */
@Command(name = "layerfs", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "Container-style root filesystems from the shell: union mounts of read-only layers.")
public final class Layerfs {
    /** The subcommands, in the order usage lists them. */
    private static final Map<String, Supplier<Object>> SUBCOMMANDS = new LinkedHashMap<>();

    static {
        SUBCOMMANDS.put("mount", MountCommand::new);
        SUBCOMMANDS.put("umount", UmountCommand::new);
        SUBCOMMANDS.put("ps", PsCommand::new);
        SUBCOMMANDS.put("diff", DiffCommand::new);
        SUBCOMMANDS.put("commit", CommitCommand::new);
        SUBCOMMANDS.put("rm", RmCommand::new);
        SUBCOMMANDS.put("logs", LogsCommand::new);
        SUBCOMMANDS.put("layer", LayerCommand::new);
        SUBCOMMANDS.put("image", ImageCommand::new);
        SUBCOMMANDS.put("help", CommandLine.HelpCommand::new);
        SUBCOMMANDS.put("images", ImagesCommand::new); // docker's spelling of `image ls`
    }

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
        // picocli builds a command's model by reflection, a good part of a short command's start-up time: when
        // the arguments name a subcommand, build that one alone (its parsing, errors and usage are the same);
        // otherwise all, for the top-level usage, help and errors
        String named = subcommandNamed(cli.getCommandSpec(), args);
        for (Map.Entry<String, Supplier<Object>> sub : SUBCOMMANDS.entrySet()) {
            if (named == null || named.equals(sub.getKey())) {
                cli.addSubcommand(sub.getKey(), sub.getValue().get());
            }
        }
        cli.setExecutionExceptionHandler(new ErrorHandler());
        return cli.execute(args);
    }

    /** The subcommand the arguments name after the top-level options, or null (none, help, or unsure). */
    private static String subcommandNamed(CommandSpec root, String[] args) {
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (!arg.startsWith("-")) {
                return SUBCOMMANDS.containsKey(arg) && !arg.equals("help") ? arg : null;
            }
            int eq = arg.indexOf('=');
            OptionSpec option = root.findOption(eq < 0 ? arg : arg.substring(0, eq));
            if (option == null) {
                return null;
            }
            if (eq < 0 && option.arity().max() > 0) {
                i++; // its value
            }
        }
        return null;
    }
}
