package dev.anvil.it;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.concurrent.ThreadLocalRandom;

/** Free-port discovery for the servers the tests start, so they never collide with a running instance. */
final class Ports {

    /**
     * Ports of standalone-full(-ha).xml's socket-binding-group (plus management) that a port offset shifts, JGroups
     * TCP (7600) of the clustered configuration included. All must be free for an offset to be usable.
     */
    private static final int[] WILDFLY_PORTS = {8080, 8443, 8009, 9990, 9993, 3528, 3529, 4712, 4713, 7600};

    private Ports() {}

    static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        }
    }

    /** A jboss.socket.binding.port-offset for which every WildFly port is currently free. */
    static int freeWildFlyPortOffset() {
        for (int attempt = 0; attempt < 200; attempt++) {
            int offset = 100 * ThreadLocalRandom.current().nextInt(10, 500);
            if (allFree(offset)) {
                return offset;
            }
        }
        throw new IllegalStateException("No free WildFly port offset found after 200 attempts");
    }

    private static boolean allFree(int offset) {
        for (int port : WILDFLY_PORTS) {
            int shifted = port + offset;
            if (shifted > 65535) {
                return false;
            }
            try (ServerSocket socket = new ServerSocket(shifted, 1, InetAddress.getLoopbackAddress())) {
                socket.setReuseAddress(true);
            } catch (IOException e) {
                return false;
            }
        }
        return true;
    }
}
