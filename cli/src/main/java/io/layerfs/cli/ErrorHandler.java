package io.layerfs.cli;

import picocli.CommandLine;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.ParseResult;

/**
 * Failures become one line on stderr and exit code 1; the stack trace only with {@code -v}/{@code --verbose}.
 * Expected failures ({@link UserError}, bad configuration) are worded for users already.
 */
final class ErrorHandler implements IExecutionExceptionHandler {
    static final int FAILURE = 1;

    @Override
    public int handleExecutionException(Exception e, CommandLine cli, ParseResult parsed) {
        boolean verbose = ((Layerfs) cli.getCommandSpec().root().userObject()).verbose;
        String message = e.getMessage() == null ? e.toString() : e.getMessage();
        cli.getErr().println("layerfs: " + message);
        if (verbose) {
            e.printStackTrace(cli.getErr());
        }
        return FAILURE;
    }
}
