package dev.anvil.it;

import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * Stops the server (and PostgreSQL) when the test run ends, pass or fail, before the JVM exits; the
 * shutdown hook in {@link AnvilServer} is only the fallback for abnormal exits.
 */
public class StopServerAtSessionEnd implements LauncherSessionListener {

    @Override
    public void launcherSessionClosed(LauncherSession session) {
        AnvilServer.stopIfStarted();
    }
}
