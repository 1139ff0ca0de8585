package dev.anvil.it;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * {@code @ExtendWith(AnvilServerExtension.class)}: injects the running {@link AnvilServer} into test
 * constructors/methods and, when a test fails, prints where the server log is plus its last lines.
 */
public class AnvilServerExtension implements ParameterResolver, TestWatcher {

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == AnvilServer.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        return AnvilServer.get();
    }

    @Override
    public void testFailed(ExtensionContext context, Throwable cause) {
        AnvilServer server = AnvilServer.current();
        if (server == null) {
            return; // the start failure itself carries the log tail
        }
        System.err.println("[anvil-it] " + context.getDisplayName() + " failed (" + server.database()
                + "); server log: " + server.serverLog() + "\n---- last lines ----\n" + server.serverLogTail(60)
                + "\n--------------------");
    }
}
