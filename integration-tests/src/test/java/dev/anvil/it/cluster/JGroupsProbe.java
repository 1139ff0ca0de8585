package dev.anvil.it.cluster;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import javax.crypto.KeyGenerator;
import javax.xml.parsers.DocumentBuilderFactory;
import org.jboss.as.clustering.jgroups.auth.BinaryAuthToken;
import org.jgroups.JChannel;
import org.jgroups.View;
import org.jgroups.conf.ClassConfigurator;
import org.jgroups.protocols.AUTH;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/**
 * A stranger at the cluster's JGroups port: a bare JGroups member in the test JVM (no WildFly, no Infinispan) that
 * tries to join the nodes' cluster with their own protocol stack, read from a node's configuration (the stack of
 * channel "ee" in standalone-anvil-ha.xml: same protocols, same order, same properties), and with the credentials a
 * test hands it. What the stack's SYM_ENCRYPT and AUTH get (the key and the secret) is all that differs from a node.
 */
final class JGroupsProbe implements AutoCloseable {

    /** The nodes' stack, in order: each protocol's type and its properties as the configuration gives them. */
    record Stack(String cluster, List<Protocol> protocols) {
        boolean has(String type) {
            return protocols.stream().anyMatch(p -> p.type.equals(type));
        }

        String types() {
            return protocols.stream().map(Protocol::type).collect(Collectors.joining(" "));
        }
    }

    record Protocol(String type, Map<String, String> properties) {}

    /**
     * What the stranger brings: a key store for SYM_ENCRYPT (null: the stranger has no SYM_ENCRYPT) and a secret for
     * AUTH (null: no AUTH).
     */
    record Credentials(Path keyStore, String keyStorePassword, String authSecret) {
        static Credentials none() {
            return new Credentials(null, null, null);
        }
    }

    /**
     * The magic number under which WildFly's jgroups subsystem registers its token class with JGroups
     * (AuthProtocolResourceDefinitionRegistrar): nodes write the token by this number and read only that form back.
     */
    private static final short BINARY_AUTH_TOKEN_MAGIC = 1100;

    static {
        if (ClassConfigurator.getMagicNumber(BinaryAuthToken.class) < 0) {
            ClassConfigurator.add(BINARY_AUTH_TOKEN_MAGIC, BinaryAuthToken.class);
        }
    }

    private final JChannel channel;

    private JGroupsProbe(JChannel channel) {
        this.channel = channel;
    }

    /** The stack of the default channel "ee" in a WildFly configuration file. */
    static Stack stackOf(Path configuration) throws Exception {
        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        factory.setNamespaceAware(true);
        Document document = factory.newDocumentBuilder().parse(configuration.toFile());
        Element channel = named(document.getElementsByTagNameNS("*", "channel"), "ee");
        String cluster = channel.hasAttribute("cluster") ? channel.getAttribute("cluster") : "ee";
        Element stack = named(document.getElementsByTagNameNS("*", "stack"), channel.getAttribute("stack"));
        List<Protocol> protocols = new ArrayList<>();
        for (Node child = stack.getFirstChild(); child != null; child = child.getNextSibling()) {
            if (child instanceof Element element && element.hasAttribute("type")) {
                Map<String, String> properties = new LinkedHashMap<>();
                NodeList list = element.getElementsByTagNameNS("*", "property");
                for (int i = 0; i < list.getLength(); i++) {
                    Element property = (Element) list.item(i);
                    properties.put(
                            property.getAttribute("name"),
                            property.getTextContent().trim());
                }
                protocols.add(new Protocol(element.getAttribute("type"), properties));
            }
        }
        return new Stack(cluster, protocols);
    }

    private static Element named(NodeList elements, String name) {
        for (int i = 0; i < elements.getLength(); i++) {
            Element element = (Element) elements.item(i);
            if (element.getAttribute("name").equals(name)) return element;
        }
        throw new AssertionError("no element named " + name + " in the configuration");
    }

    /**
     * Joins the cluster of {@code stack} whose members listen on {@code peerPorts} of 127.0.0.1, with
     * {@code credentials}: the connected probe (its own view tells whether it got in), or the exception of a refused
     * join (JGroups' {@link SecurityException} when the coordinator's AUTH turns it down). A join that gets no answer
     * gives up after two attempts of 1.5 s and leaves the probe in a cluster of its own.
     */
    static JGroupsProbe join(Stack stack, List<Integer> peerPorts, Credentials credentials, String name)
            throws Exception {
        String hosts = peerPorts.stream().map(p -> "127.0.0.1[" + p + "]").collect(Collectors.joining(","));
        StringBuilder xml = new StringBuilder("<config xmlns=\"urn:org:jgroups\">\n");
        for (Protocol protocol : stack.protocols()) {
            Map<String, String> properties = new LinkedHashMap<>(protocol.properties());
            String type = protocol.type();
            switch (type) {
                case "TCP" -> {
                    properties.put("bind_addr", "127.0.0.1");
                    properties.put("bind_port", Integer.toString(freePort()));
                    properties.put("port_range", "0");
                }
                case "org.jgroups.protocols.TCPPING", "TCPPING" -> {
                    properties.put("initial_hosts", hosts);
                    properties.put("port_range", "0");
                }
                case "SYM_ENCRYPT" -> {
                    if (credentials.keyStore() == null) continue;
                    properties.put("keystore_name", credentials.keyStore().toString());
                    properties.put("keystore_type", "pkcs12");
                    properties.put("store_password", credentials.keyStorePassword());
                    properties.put("alias", "anvil-cluster");
                }
                case "AUTH" -> {
                    if (credentials.authSecret() == null) continue;
                    // Replaced by the token of the secret below, once the stack exists.
                    properties.put("auth_class", BinaryAuthToken.class.getName());
                }
                case "pbcast.GMS" -> {
                    properties.put("join_timeout", "1500");
                    properties.put("max_join_attempts", "2");
                }
                default -> {}
            }
            xml.append("  <").append(type);
            properties.forEach((key, value) -> xml.append(' ')
                    .append(key)
                    .append("=\"")
                    .append(escape(value))
                    .append('"'));
            xml.append("/>\n");
        }
        xml.append("</config>\n");
        JChannel channel =
                new JChannel(new ByteArrayInputStream(xml.toString().getBytes(StandardCharsets.UTF_8))).name(name);
        try {
            AUTH auth = channel.getProtocolStack().findProtocol(AUTH.class);
            if (auth != null) {
                // WildFly's digest token: SHA-512 of the secret's UTF-8 bytes (protocol=AUTH/token=digest).
                byte[] digest = MessageDigest.getInstance("SHA-512")
                        .digest(credentials.authSecret().getBytes(StandardCharsets.UTF_8));
                auth.setAuthToken(new BinaryAuthToken(digest));
            }
            channel.connect(stack.cluster());
            return new JGroupsProbe(channel);
        } catch (Exception | Error e) {
            channel.close();
            throw e;
        }
    }

    /** A PKCS12 key store like the nodes' (alias anvil-cluster, an AES-256 key) holding another, random key. */
    static Path strangerKeyStore(Path directory, String password) throws Exception {
        KeyGenerator generator = KeyGenerator.getInstance("AES");
        generator.init(256);
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        store.setEntry(
                "anvil-cluster",
                new KeyStore.SecretKeyEntry(generator.generateKey()),
                new KeyStore.PasswordProtection(password.toCharArray()));
        Path file = Files.createTempFile(directory, "stranger", ".p12");
        try (OutputStream out = Files.newOutputStream(file)) {
            store.store(out, password.toCharArray());
        }
        return file;
    }

    View view() {
        return channel.getView();
    }

    @Override
    public void close() {
        channel.close();
    }

    private static String escape(String value) {
        return value.replace("&", "&amp;").replace("\"", "&quot;").replace("<", "&lt;");
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
