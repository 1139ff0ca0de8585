package dev.anvil.it;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * {@code @ExtendWith(AnvilServerExtension.class)}: injects the running {@link AnvilServer} (of the class's
 * {@link ServerProfile}, else the default one) into test
 * constructors/methods and, when a test fails, prints where the server log is plus its last lines.
 */
public class AnvilServerExtension implements ParameterResolver, TestWatcher {

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == AnvilServer.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        return AnvilServer.get(profile(context));
    }

    /** The test class's {@link ServerProfile}, else the default server. */
    static AnvilServer.Profile profile(ExtensionContext context) {
        ServerProfile annotation = context.getRequiredTestClass().getAnnotation(ServerProfile.class);
        return annotation == null ? AnvilServer.Profile.DEFAULT : annotation.value();
    }

    @Override
    public void testFailed(ExtensionContext context, Throwable cause) {
        AnvilServer server = AnvilServer.current(profile(context));
        if (server == null) {
            return; // the start failure itself carries the log tail
        }
        System.err.println("[anvil-it] " + context.getDisplayName() + " failed (" + server.database()
                + "); server log: " + server.serverLog() + "\n---- last lines ----\n" + server.serverLogTail(60)
                + "\n--------------------");
    }
}
