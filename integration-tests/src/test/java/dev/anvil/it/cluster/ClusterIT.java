package dev.anvil.it.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.HttpResult;
import dev.anvil.it.ServerMetrics;
import dev.anvil.it.TestModel;
import dev.anvil.it.gateway.RequestBurst;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Two Anvil servers clustered (ANVIL_CLUSTER=true: standalone-anvil-ha.xml, JGroups TCP with a static peer list,
 * distributed caches {@code anvil/responses} and {@code anvil/gateway-limits}) sharing one PostgreSQL: the cluster
 * forms, a generation stored on one node answers the other without inference, a requests/minute limit holds across
 * both nodes under 32 concurrent callers, and a promotion on one node removes the version's entries for the other
 * and reaches the other's name resolution. The nodes share a secret (ANVIL_CLUSTER_SECRET): a JGroups member without
 * it, or with another one, is not let into the cluster.
 * PostgreSQL run only (tag "cluster": the H2 execution excludes it, since two servers cannot share an H2 file).
 */
@Tag("cluster")
class ClusterIT {

    private static final Map<String, String> JSON = Map.of("Content-Type", "application/json");
    /** For requests that pin versions a name does not serve (on that node): an admin's credentials, who may pin any. */
    private static final Map<String, String> PINNING =
            Map.of("Content-Type", "application/json", "Authorization", AnvilServer.basicAuth(AnvilServer.ADMIN_USER));

    private static final String MODEL = "stories260k";
    private static final Duration DEADLINE = Duration.ofSeconds(180);

    private static AnvilServer node1;
    private static AnvilServer node2;

    @BeforeAll
    static void startBothNodes() {
        node1 = AnvilServer.get(AnvilServer.Profile.CLUSTER_NODE_1);
        node2 = AnvilServer.get(AnvilServer.Profile.CLUSTER_NODE_2);
    }

    @AfterAll
    static void stopBothNodes() {
        // Two more servers next to the run's others: give their memory back as soon as their tests are done.
        AnvilServer.stopCluster();
    }

    // --- helpers -------------------------------------------------------------------------------------------------

    private static double metric(AnvilServer server, String name, String... labels) {
        return ServerMetrics.sum(server, name, labels);
    }

    /** Polls {@code value} until it is at least {@code atLeast} or the deadline passes; returns the last value. */
    private static double pollAtLeast(DoubleSupplier value, double atLeast, Duration timeout) {
        Instant deadline = Instant.now().plus(timeout);
        double last = value.getAsDouble();
        while (last < atLeast && Instant.now().isBefore(deadline)) {
            pause();
            last = value.getAsDouble();
        }
        return last;
    }

    private static void pause() {
        try {
            Thread.sleep(200); // poll interval of a deadline-bounded loop
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static String cacheStatus(HttpResult r) {
        return r.headers().firstValue("X-Anvil-Cache").orElse("(none)");
    }

    /** The response without what differs per response (id, created). */
    private static JsonObject content(HttpResult r) {
        return Json.createObjectBuilder(r.json()).remove("id").remove("created").build();
    }

    /** Sends {@code body} until {@code ref} answers it (a version loads on demand, in the background); returns that answer. */
    private static HttpResult untilServed(AnvilServer server, String body, String ref) {
        Instant deadline = Instant.now().plus(DEADLINE);
        HttpResult last = null;
        while (Instant.now().isBefore(deadline)) {
            last = server.request("POST", "/v1/completions", body, PINNING);
            if (last.status() == 200 && ref.equals(last.json().getString("model"))) return last;
            pause();
        }
        throw new AssertionError(
                ref + " did not answer on " + server.baseUri() + " within " + DEADLINE + "; last answer: " + last);
    }

    // --- tests ---------------------------------------------------------------------------------------------------

    @Test
    void bothNodesSeeATwoMemberCluster() {
        for (AnvilServer node : List.of(node1, node2)) {
            double members = pollAtLeast(() -> metric(node, "anvil_cache_cluster_members"), 2, DEADLINE);
            assertEquals(2.0, members, "cluster members seen by " + node.baseUri() + " (log " + node.serverLog() + ")");
            assertEquals(200, node.get("/health/ready").status(), "node " + node.baseUri() + " is ready");
        }
        assertNotEquals(node1.baseUri(), node2.baseUri());
        assertEquals(
                node1.configurationBeforeRerun(),
                readConfiguration(node1),
                "a second configure.sh pass with ANVIL_CLUSTER=true changed " + node1.configurationFile());
        String configuration = readConfiguration(node2);
        assertTrue(configuration.contains("<distributed-cache name=\"responses\""), "distributed response cache");
        assertTrue(configuration.contains("<distributed-cache name=\"gateway-limits\""), "distributed gateway limits");
        assertFalse(configuration.contains("<local-cache name=\"responses\""), "no local response cache left");
        assertTrue(
                configuration.contains("${anvil.cluster.hosts,env.ANVIL_CLUSTER_HOSTS:"),
                "peer list from an expression");
    }

    @Test
    void theNodesAuthenticateAndEncryptTheirTrafficWithTheSecretKeptOutOfTheConfiguration() throws Exception {
        String configuration = readConfiguration(node1);
        JGroupsProbe.Stack stack = JGroupsProbe.stackOf(node1.configurationFile());
        // SERIALIZE right above SYM_ENCRYPT (whole messages encrypted, headers included), both below NAKACK4; AUTH
        // right below GMS.
        String types = " " + stack.types() + " ";
        assertTrue(types.contains(" SYM_ENCRYPT SERIALIZE NAKACK4 ") && types.contains(" AUTH pbcast.GMS "), types);
        JGroupsProbe.Protocol encrypt = stack.protocols().stream()
                .filter(p -> p.type().equals("SYM_ENCRYPT"))
                .findFirst()
                .orElseThrow();
        assertEquals("AES/CBC/PKCS5Padding", encrypt.properties().get("sym_algorithm"), "not JGroups' default, ECB");
        assertTrue(configuration.contains("<digest-token algorithm=\"SHA-512\">"), "AUTH with a digest of the secret");
        assertTrue(
                configuration.contains("clear-text=\"${env.ANVIL_CLUSTER_SECRET}\""), "the secret stays an expression");
        assertFalse(
                configuration.contains(AnvilServer.clusterSecret()),
                "the cluster secret leaked into " + node1.configurationFile());
        Path keyStore = node1.configurationFile().resolveSibling("anvil-cluster.p12");
        assertEquals(
                Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE),
                Files.getPosixFilePermissions(keyStore),
                "the key store is the owner's only");
    }

    @Test
    void aMemberWithoutTheClusterSecretIsNotLetIn() throws Exception {
        for (AnvilServer node : List.of(node1, node2)) {
            assertEquals(
                    2.0,
                    pollAtLeast(() -> metric(node, "anvil_cache_cluster_members"), 2, DEADLINE),
                    "the cluster formed: " + node.baseUri());
        }
        Path jgroups = node1.wildflyHome()
                .resolve("modules/system/layers/base/org/jgroups/main/jgroups-"
                        + System.getProperty("anvil.it.jgroups.version") + ".jar");
        assertTrue(
                Files.isRegularFile(jgroups),
                "the stranger runs the nodes' JGroups version (integration-tests jgroups.version): " + jgroups);
        JGroupsProbe.Stack stack = JGroupsProbe.stackOf(node1.configurationFile());
        List<Integer> peers = List.of(node1.jgroupsPort(), node2.jgroupsPort());
        String secret = AnvilServer.clusterSecret();
        String otherSecret = "another-secret-" + UUID.randomUUID();
        Path work = Files.createTempDirectory(
                node1.configurationFile().getParent().getParent().getParent(), "stranger");

        // Any host that reaches the JGroups port, with the nodes' stack but no secret: its messages carry no encryption
        // header, and the nodes drop them; its join goes unanswered, and it ends up in a cluster of its own.
        long dropped = logCount("received message without encrypt header");
        try (JGroupsProbe stranger =
                JGroupsProbe.join(stack, peers, JGroupsProbe.Credentials.none(), "stranger-plain")) {
            assertEquals(
                    1,
                    stranger.view().size(),
                    "a member without the secret must stay alone; its view: " + stranger.view());
        }
        assertTrue(
                pollAtLeast(() -> logCount("received message without encrypt header"), dropped + 1, DEADLINE) > dropped,
                "the nodes dropped the stranger's unencrypted messages");

        // Another secret: another key and another AUTH secret. The nodes cannot decrypt what it sends (and reject a
        // non-member's message under an unknown key); it cannot decrypt theirs.
        long rejected = logCount("message from non-member");
        Path strangerKeys = JGroupsProbe.strangerKeyStore(work, otherSecret);
        try (JGroupsProbe stranger = JGroupsProbe.join(
                stack,
                peers,
                new JGroupsProbe.Credentials(strangerKeys, otherSecret, otherSecret),
                "stranger-other-secret")) {
            assertEquals(
                    1,
                    stranger.view().size(),
                    "a member with another secret must stay alone; its view: " + stranger.view());
        }
        assertTrue(
                pollAtLeast(() -> logCount("message from non-member"), rejected + 1, DEADLINE) > rejected,
                "the nodes rejected the messages under the stranger's key");

        // The nodes' own key (which nobody without the secret holds) but another AUTH secret: the join request is read,
        // and the coordinator's AUTH turns it down. So the refusals above are the secret's doing, not a stack mismatch.
        Path nodeKeys = node1.configurationFile().resolveSibling("anvil-cluster.p12");
        SecurityException refused = assertThrows(
                SecurityException.class,
                () -> JGroupsProbe.join(
                                stack,
                                peers,
                                new JGroupsProbe.Credentials(nodeKeys, secret, otherSecret),
                                "stranger-auth")
                        .close());
        assertTrue(String.valueOf(refused.getMessage()).contains("authentication failed"), refused.toString());

        for (AnvilServer node : List.of(node1, node2)) {
            assertEquals(
                    2.0,
                    metric(node, "anvil_cache_cluster_members"),
                    "the nodes still see each other only: " + node.baseUri());
        }
    }

    /** How often {@code text} occurs in the two nodes' server logs together. */
    private static long logCount(String text) {
        long count = 0;
        for (AnvilServer node : List.of(node1, node2)) {
            try (java.util.stream.Stream<String> lines = Files.lines(node.serverLog())) {
                count += lines.filter(line -> line.contains(text)).count();
            } catch (java.io.IOException | java.io.UncheckedIOException e) {
                throw new AssertionError("cannot read " + node.serverLog(), e);
            }
        }
        return count;
    }

    @Test
    void aGenerationStoredOnOneNodeIsAHitOnTheOther() {
        String body = TestModel.greedyCompletion(MODEL, "Once upon a time (cluster " + UUID.randomUUID() + ")", 16);
        double stored = metric(node1, "anvil_cache_stores_total");
        HttpResult first = node1.request("POST", "/v1/completions", body, JSON);
        assertEquals(200, first.status(), first::toString);
        assertEquals("miss", cacheStatus(first), first::toString);
        assertEquals(
                stored + 1,
                pollAtLeast(() -> metric(node1, "anvil_cache_stores_total"), stored + 1, DEADLINE),
                "node 1 stored its generation");

        String model = "model=\"" + MODEL + "\"";
        double hits = metric(node2, "anvil_cache_hits_total");
        double inferences = metric(node2, "anvil_inference_requests_total", model);
        double generated = metric(node2, "anvil_inference_generated_tokens_total", model);
        HttpResult again = node2.request("POST", "/v1/completions", body, JSON);
        assertEquals(200, again.status(), again::toString);
        assertEquals("hit", cacheStatus(again), "node 2 answers from the entry node 1 stored: " + again);
        assertEquals(content(first), content(again), "identical answer");
        assertEquals(hits + 1, metric(node2, "anvil_cache_hits_total"), "node 2 counted the hit");
        assertEquals(inferences, metric(node2, "anvil_inference_requests_total", model), "node 2 ran no inference");
        assertEquals(
                generated, metric(node2, "anvil_inference_generated_tokens_total", model), "node 2 generated no token");
    }

    @Test
    void aRequestsPerMinuteLimitHoldsAcrossBothNodes() throws Exception {
        int limit = 5;
        String tenant = "cl-" + UUID.randomUUID().toString().substring(0, 8);
        HttpResult created = node1.post(
                "/api/gateway/tenants",
                Json.createObjectBuilder().add("name", tenant).build().toString());
        assertEquals(201, created.status(), created::toString);
        HttpResult key = node1.post(
                "/api/gateway/tenants/" + tenant + "/keys",
                Json.createObjectBuilder()
                        .add("name", "cluster-key")
                        .add("requestsPerMinute", limit)
                        .build()
                        .toString());
        assertEquals(201, key.status(), key::toString);
        Map<String, String> headers = Map.of(
                "Content-Type",
                "application/json",
                "Authorization",
                "Bearer " + key.json().getString("key"));

        // Half the callers on each node.
        RequestBurst burst = RequestBurst.send(32, i -> {
            AnvilServer node = i % 2 == 0 ? node1 : node2;
            return () -> node.request(
                    "POST", "/v1/completions", TestModel.greedyCompletion(MODEL, "Once upon a time", 2), headers);
        });
        // One bucket for the key in the distributed cache: the nodes together pass the limit, never a limit each.
        burst.assertLimitHeld(limit, " on two nodes");
        for (HttpResult r : burst.refused()) {
            assertEquals("rate_limit_exceeded", r.json().getJsonObject("error").getString("code"), r::toString);
        }
    }

    @Test
    void aPromotionOnOneNodeRemovesTheEntriesTheOtherNodeStored() {
        String model = "cluster-" + UUID.randomUUID().toString().substring(0, 8);
        TestModel.register(node1, model, "1.0.0", "2.0.0");
        TestModel.moveStage(node1, model, "1.0.0", "PRODUCTION", "cluster test");
        TestModel.moveStage(node1, model, "2.0.0", "STAGING", "cluster test");

        // Node 2 generates with 2.0.0 (pinned) and stores the entry; node 1 then reads it from the shared cache.
        String pinned = TestModel.greedyCompletion(model + "@2.0.0", "Once upon a time", 8);
        double stored = metric(node2, "anvil_cache_stores_total");
        HttpResult generated = untilServed(node2, pinned, model + "@2.0.0");
        assertEquals("miss", cacheStatus(generated), generated::toString);
        assertEquals(
                stored + 1,
                pollAtLeast(() -> metric(node2, "anvil_cache_stores_total"), stored + 1, DEADLINE),
                "node 2 stored its generation");
        HttpResult onNode1 = untilServed(node1, pinned, model + "@2.0.0");
        assertEquals("hit", cacheStatus(onNode1), "the entry is shared before the promotion: " + onNode1);

        double invalidated = metric(node1, "anvil_cache_invalidations_total");
        TestModel.moveStage(node1, model, "2.0.0", "PRODUCTION", "cluster test");
        assertTrue(
                metric(node1, "anvil_cache_invalidations_total") >= invalidated + 1,
                "the promotion on node 1 removed 2.0.0's entry, which node 2 had stored");
        HttpResult afterPromotion = untilServed(node2, pinned, model + "@2.0.0");
        assertEquals(
                "miss",
                cacheStatus(afterPromotion),
                "node 2 must not find the promoted version's entry: " + afterPromotion);
        assertEquals(
                content(generated).getJsonArray("choices"),
                content(afterPromotion).getJsonArray("choices"),
                "same version, same text");

        // Node 2 learns of the promotion made through node 1 at its next reconciliation with the shared registry
        // (anvil.serving.registry-sync-seconds): the model's name then resolves to 2.0.0 there too.
        untilServed(node2, TestModel.greedyCompletion(model, "Once upon a time", 8), model + "@2.0.0");
    }

    @Test
    void aVersionArchivedThroughOneNodeStopsServingPinnedRequestsOnTheOther() {
        String model = "cluster-" + UUID.randomUUID().toString().substring(0, 8);
        TestModel.register(node1, model, "1.0.0");
        String pinned = TestModel.greedyCompletion(model + "@1.0.0", "Once upon a time", 4);
        untilServed(node2, pinned, model + "@1.0.0"); // loaded on demand on node 2

        TestModel.moveStage(node1, model, "1.0.0", "ARCHIVED", "cluster test");
        // Node 2 finds the archival at its next reconciliation, unloads the version, and then refuses it as any
        // node refuses an ARCHIVED version.
        Instant deadline = Instant.now().plus(DEADLINE);
        HttpResult last = node2.request("POST", "/v1/completions", pinned, PINNING);
        while (last.status() == 200 && Instant.now().isBefore(deadline)) {
            pause();
            last = node2.request("POST", "/v1/completions", pinned, PINNING);
        }
        assertEquals(400, last.status(), "node 2 must stop serving a version archived through node 1: " + last);
        assertTrue(last.json().getJsonObject("error").getString("message").contains("ARCHIVED"), last::toString);
    }

    private static String readConfiguration(AnvilServer server) {
        try {
            return Files.readString(server.configurationFile());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
