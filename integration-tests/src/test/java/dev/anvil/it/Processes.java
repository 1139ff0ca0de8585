package dev.anvil.it;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Stops a child process and everything it spawned (standalone.sh -> java, runuser -> postgres). */
final class Processes {

    private Processes() {}

    static void stopTree(Process process, Duration grace) {
        List<ProcessHandle> descendants = process.descendants().toList();
        // SIGTERM first: the JVM runs its shutdown hooks (WildFly stops gracefully), postgres shuts down.
        descendants.forEach(ProcessHandle::destroy);
        process.destroy();
        long deadline = System.nanoTime() + grace.toNanos();
        for (ProcessHandle handle : descendants) {
            waitFor(handle, deadline);
        }
        try {
            process.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        descendants.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
        if (process.isAlive()) {
            process.destroyForcibly();
        }
    }

    private static void waitFor(ProcessHandle handle, long deadlineNanos) {
        try {
            handle.onExit().get(Math.max(0, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (Exception e) {
            // Still alive at the deadline (or interrupted): destroyForcibly below takes care of it.
        }
    }
}
