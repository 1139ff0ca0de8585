package dev.anvil.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * How the admin API's users are kept: identities of the Elytron filesystem realm AnvilRealm with salted bcrypt
 * hashes (no unsalted digest anywhere in the configuration), as the harness provisions them and as
 * server-config/bin/admin-user.sh ({@code bin/anvil admin-user}) writes them, and HTTP Basic logins against them
 * on the running server, roles included.
 */
@ExtendWith(AnvilServerExtension.class)
class AdminUsersIT {

    private static final Pattern PASSWORD =
            Pattern.compile("<password algorithm=\"([^\"]+)\" format=\"([^\"]+)\">([^<]+)</password>");
    private static final String ADMIN_PATH = "/api/gateway/tenants";

    @Test
    void theSamePasswordIsStoredAsDifferentSaltedBcryptHashes(AnvilServer server) throws IOException {
        Path configuration = server.configurationFile().getParent();
        String aliceCredential = credential(configuration, "alice");
        String bobCredential = credential(configuration, "bob");
        assertTrue(aliceCredential.startsWith("bcrypt base64 "), aliceCredential);
        assertTrue(bobCredential.startsWith("bcrypt base64 "), bobCredential);
        assertNotEquals(
                aliceCredential,
                bobCredential,
                "alice and bob have the same password: only the salt can tell their hashes apart");

        String xml = Files.readString(server.configurationFile());
        assertTrue(xml.contains("<filesystem-realm name=\"AnvilRealm\""), "the realm is a filesystem realm");
        assertFalse(
                xml.contains("<properties-realm name=\"AnvilRealm\""), "no properties realm (unsalted digests) left");
        assertTrue(xml.contains("<security-domain name=\"AnvilDomain\" default-realm=\"AnvilRealm\""), "domain kept");
        assertFalse(Files.exists(configuration.resolve("anvil-users.properties")), "the old users file is gone");

        // Neither the properties realm's digest HEX(MD5(user:anvil:password)) nor the password is stored anywhere.
        List<String> forbidden = new ArrayList<>();
        for (String user : List.of(AnvilServer.ADMIN_USER, "alice", "bob", AnvilServer.USER_WITHOUT_ROLE)) {
            byte[] md5 = md5(user + ":anvil:" + AnvilServer.PASSWORD);
            forbidden.add(HexFormat.of().formatHex(md5));
            forbidden.add(Base64.getEncoder().encodeToString(md5));
        }
        forbidden.add(AnvilServer.PASSWORD);
        try (Stream<Path> files = Files.walk(configuration)) {
            for (Path file : files.filter(Files::isRegularFile).toList()) {
                String content = new String(Files.readAllBytes(file), StandardCharsets.ISO_8859_1);
                for (String value : forbidden) {
                    assertFalse(content.contains(value), file + " holds a password or an unsalted digest of one");
                }
            }
        }
    }

    @Test
    void usersLogInWithHttpBasicAndTheirRolesMap(AnvilServer server) {
        for (String admin : List.of(AnvilServer.ADMIN_USER, "alice", "bob")) {
            HttpResult r =
                    server.request("GET", ADMIN_PATH, null, Map.of("Authorization", AnvilServer.basicAuth(admin)));
            assertEquals(200, r.status(), admin + ": " + r);
        }
        HttpResult viewer = server.request(
                "GET", ADMIN_PATH, null, Map.of("Authorization", AnvilServer.basicAuth(AnvilServer.USER_WITHOUT_ROLE)));
        assertEquals(403, viewer.status(), "authenticated without the role anvil-admin: " + viewer);
        assertEquals(
                401,
                server.request(
                                "GET",
                                ADMIN_PATH,
                                null,
                                Map.of("Authorization", basic("alice", AnvilServer.PASSWORD + "x")))
                        .status(),
                "wrong password");
    }

    @Test
    void adminUserScriptAddsAndResetsUsersThatTheRunningServerAccepts(AnvilServer server) throws Exception {
        String user = "it-script-" + server.database();
        // Characters that the CLI script the tool writes must carry through unchanged.
        String password = "pa\"ss\\w0rd ${x},{}=[]'~";
        String set = adminUser(server, user, password);
        assertTrue(set.contains("admin user '" + user + "' set"), set);
        assertFalse(set.contains(password), "the tool must not print a password it was given: " + set);
        assertEquals(
                200,
                server.request("GET", ADMIN_PATH, null, Map.of("Authorization", basic(user, password)))
                        .status(),
                "the running server accepts the new user at once");
        assertTrue(credential(server.configurationFile().getParent(), user).startsWith("bcrypt base64 "));

        // Reset without a role and without a password: a generated one, printed once; the old password stops working.
        String reset = adminUser(server, "--no-role", user);
        Matcher generated = Pattern.compile("admin user '" + Pattern.quote(user) + "' created with password: (\\S+)")
                .matcher(reset);
        assertTrue(generated.find(), reset);
        assertEquals(
                401,
                server.request("GET", ADMIN_PATH, null, Map.of("Authorization", basic(user, password)))
                        .status(),
                "the replaced password");
        assertEquals(
                403,
                server.request("GET", ADMIN_PATH, null, Map.of("Authorization", basic(user, generated.group(1))))
                        .status(),
                "the new password authenticates; without the role the admin API refuses");
    }

    /** Runs server-config/bin/admin-user.sh on this server's base directory; returns its output (exit status 0 asserted). */
    private static String adminUser(AnvilServer server, String... arguments) throws IOException, InterruptedException {
        Path script = Path.of(System.getProperty("anvil.it.configure")).resolveSibling("admin-user.sh");
        List<String> command = new ArrayList<>(List.of("bash", script.toString()));
        command.addAll(List.of(arguments));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment()
                .put(
                        "ANVIL_SERVER_BASE_DIR",
                        server.configurationFile().getParent().getParent().toString());
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        builder.environment().remove("ANVIL_ADMIN_PASSWORD");
        Process process = builder.start();
        String output;
        try (var in = process.getInputStream()) {
            output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        assertTrue(process.waitFor(3, TimeUnit.MINUTES), "admin-user.sh did not finish");
        assertEquals(
                0, process.exitValue(), "admin-user.sh " + List.of(arguments).getFirst() + ": " + output);
        return output;
    }

    /** "ALGORITHM FORMAT VALUE" of the password credential in {@code user}'s identity file of the realm. */
    private static String credential(Path configuration, String user) throws IOException {
        Path realm = configuration.resolve("anvil-users");
        List<Path> identities;
        // File names: the identity name with '_' for characters other than letters and digits, '-', the exact name in
        // Base32 (RFC 4648, no padding), ".xml".
        String suffix = "-" + base32(user) + ".xml";
        try (Stream<Path> files = Files.walk(realm)) {
            identities = files.filter(f -> f.getFileName().toString().endsWith(suffix))
                    .toList();
        }
        assertEquals(1, identities.size(), "identity files of " + user + " under " + realm + ": " + identities);
        Matcher m = PASSWORD.matcher(Files.readString(identities.getFirst()));
        assertTrue(m.find(), "no password credential in " + identities.getFirst());
        return m.group(1) + " " + m.group(2) + " " + m.group(3);
    }

    private static String base32(String text) {
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        StringBuilder out = new StringBuilder();
        int buffer = 0;
        int bits = 0;
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            buffer = (buffer << 8) | (b & 0xff);
            bits += 8;
            while (bits >= 5) {
                out.append(alphabet.charAt((buffer >> (bits - 5)) & 31));
                bits -= 5;
            }
        }
        if (bits > 0) {
            out.append(alphabet.charAt((buffer << (5 - bits)) & 31));
        }
        return out.toString();
    }

    private static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    private static byte[] md5(String text) {
        try {
            return MessageDigest.getInstance("MD5").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
