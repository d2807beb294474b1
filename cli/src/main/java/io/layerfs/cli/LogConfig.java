package io.layerfs.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.FileAppender;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.spi.ContextAwareBase;
import org.slf4j.ILoggerFactory;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;

/**
 * Logback's configuration, in code: parsing an XML configuration cost a mount daemon a tenth of a second at
 * start. The CLI logs warnings and errors to stderr; a mount daemon (system property {@code layerfs.log.file})
 * logs from INFO up to its log file. {@code -Dlayerfs.log.level=LEVEL} changes the level, and
 * {@code -Dlogback.configurationFile=FILE} replaces all of this with logback's usual XML configuration.
 * Found by logback through {@code META-INF/services/ch.qos.logback.classic.spi.Configurator}.
 */
public final class LogConfig extends ContextAwareBase implements Configurator {
    static final String LOG_FILE_PROPERTY = "layerfs.log.file";
    private static final String FILE_APPENDER = "FILE";

    @Override
    public ExecutionStatus configure(LoggerContext context) {
        if (System.getProperty("logback.configurationFile") != null) {
            return ExecutionStatus.INVOKE_NEXT_IF_ANY;
        }
        apply(context);
        return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
    }

    private static void apply(LoggerContext context) {
        String file = System.getProperty(LOG_FILE_PROPERTY);
        OutputStreamAppender<ILoggingEvent> appender;
        String pattern;
        Level level;
        if (file == null) {
            ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
            console.setName("STDERR");
            console.setTarget("System.err");
            appender = console;
            pattern = "%d{HH:mm:ss.SSS} %-5level %logger{0}: %msg%n";
            level = Level.WARN;
        } else {
            FileAppender<ILoggingEvent> fileAppender = new FileAppender<>();
            fileAppender.setName(FILE_APPENDER);
            fileAppender.setFile(file);
            fileAppender.setAppend(true);
            appender = fileAppender;
            pattern = "%d{yyyy-MM-dd HH:mm:ss.SSS} [%thread] %-5level %logger{0}: %msg%n";
            level = Level.INFO;
        }
        PatternLayoutEncoder encoder = new PatternLayoutEncoder();
        encoder.setContext(context);
        encoder.setPattern(pattern);
        encoder.start();
        appender.setContext(context);
        appender.setEncoder(encoder);
        appender.start();
        Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        root.setLevel(Level.toLevel(System.getProperty("layerfs.log.level"), level));
        root.addAppender(appender);
    }

    /**
     * From now on this process logs as a mount daemon, to {@code file}: configures logging so if nothing
     * logged yet, else replaces the CLI's configuration (not one that logback.configurationFile chose).
     */
    static void toFile(Path file) throws InterruptedException {
        System.setProperty(LOG_FILE_PROPERTY, file.toAbsolutePath().toString());
        ILoggerFactory factory = LoggerFactory.getILoggerFactory();
        // while another thread (WarmUp) initialises logging, SLF4J answers with a stand-in: wait for the real one
        for (int i = 0; i < 5000 && !(factory instanceof LoggerContext); i++) {
            Thread.sleep(1);
            factory = LoggerFactory.getILoggerFactory();
        }
        if (factory instanceof LoggerContext context && System.getProperty("logback.configurationFile") == null
                && context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME).getAppender(FILE_APPENDER) == null) {
            context.reset();
            apply(context);
        }
    }
}
