package dev.anvil.gateway;

import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.ObjectName;

/**
 * The addresses the HTTP API listens on, read from WildFly's management model (its JMX view, {@code jboss.as}):
 * the resolved address of the interface each of the Undertow listeners' socket bindings ({@code http},
 * {@code https}) uses. This is what the server really binds, whatever set it ({@code -b}, {@code ANVIL_BIND_ADDRESS},
 * an edited interface), known from boot on.
 */
final class ListeningAddresses {

    private static final String GROUP = "jboss.as:socket-binding-group=standard-sockets";
    private static final List<String> API_BINDINGS = List.of("http", "https");

    private ListeningAddresses() {}

    /**
     * The listening addresses; empty until the server has booted (its model answers reads only then) or when the model
     * cannot be read (callers then assume exposure).
     */
    static List<InetAddress> ofApi() {
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        Set<InetAddress> addresses = new LinkedHashSet<>();
        try {
            if (!"running"
                    .equals(server.getAttribute(new ObjectName("jboss.as:management-root=server"), "serverState"))) {
                return List.of();
            }
            String defaultInterface = (String) server.getAttribute(new ObjectName(GROUP), "defaultInterface");
            for (String binding : API_BINDINGS) {
                ObjectName name = new ObjectName(GROUP + ",socket-binding=" + binding);
                if (!server.isRegistered(name)) continue;
                String iface = (String) server.getAttribute(name, "interface");
                String resolved = (String) server.getAttribute(
                        new ObjectName("jboss.as:interface=" + (iface == null ? defaultInterface : iface)),
                        "resolvedAddress");
                if (resolved != null) addresses.add(InetAddress.getByName(resolved));
            }
        } catch (JMException | UnknownHostException | ClassCastException | SecurityException e) {
            return List.of();
        }
        return new ArrayList<>(addresses);
    }
}
