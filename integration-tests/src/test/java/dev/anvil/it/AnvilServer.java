package dev.anvil.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The real Anvil server for integration tests: the WildFly configured by server-config (server-config/target/
 * wildfly) running the EAR, on a private copy of the server base directory and free ports, against the
 * database of this run (system property {@code anvil.it.database}: {@code h2} or {@code postgresql}; Failsafe
 * runs every IT once per database). Started lazily by the first {@link #get()} of a test JVM and stopped
 * when the JUnit launcher session ends (or, as a fallback, at JVM exit).
 *
 * <p>For tests: {@link #get(String)}, {@link #post(String, String)}, {@link #request} return an
 * {@link HttpResult}; {@link #uri(String)} gives absolute URLs; {@link #serverLog()} is the file to read when a
 * test fails ({@link AnvilServerExtension} prints its tail automatically).
 *
 * <p>The admin API ({@code /api/**}) needs a user with the role {@code anvil-admin}: the harness provisions
 * {@link #ADMIN_USER} (and the admins {@code alice}, {@code bob}, and {@link #USER_WITHOUT_ROLE} without the role,
 * all with {@link #PASSWORD}) as server-config/bin/admin-user.sh does (salted bcrypt hashes in the filesystem realm
 * AnvilRealm, written offline before the start) and sends {@link #ADMIN_USER}'s HTTP Basic credentials on every
 * {@code /api/} request that carries no {@code Authorization} header of its own. {@link #basicAuth(String)} gives the header value of
 * another user; {@link #ANONYMOUS} as that value sends no credentials at all.
 *
 * <p>{@link Profile}: most tests share the {@link Profile#DEFAULT} server (listening on loopback, so API keys are
 * optional, as in the Quick start); {@link Profile#API_KEYS_REQUIRED} is a second server of the same run that listens
 * on every address (0.0.0.0), which makes API keys required by default ({@code anvil.gateway.require-api-key=auto}),
 * started only when a test asks for it ({@link ServerProfile}).
 *
 * <p>{@link Profile#CLUSTER_NODE_1} and {@link Profile#CLUSTER_NODE_2} are two nodes of one cluster (PostgreSQL run
 * only: {@code ANVIL_CLUSTER=true}, configuration standalone-anvil-ha.xml, distributed caches over JGroups TCP with
 * each other as the static peer list, and {@link #clusterSecret()} as the cluster secret). Node 1 starts the run's
 * PostgreSQL for both; asking for node 2 starts node 1 first, one after the other. Both run with a 1 GB heap, and
 * {@link #stopCluster()} ends them when their tests are done.
 *
 * <p>{@link Profile#DATABASE_OUTAGE} (PostgreSQL run only) is a server with a PostgreSQL of its own, which its test
 * takes away and brings back ({@link #stopDatabase()}, {@link #startDatabase()}) and then stops ({@link #stop(Profile)}).
 */
public final class AnvilServer {

    /** The embedding model name the servers declare truncatable ({@code anvil.embeddings.matryoshka-models}). */
    public static final String MATRYOSHKA_TEST_MODEL = "it-embed-mrl";

    private static final Duration START_TIMEOUT =
            Duration.ofSeconds(Long.getLong("anvil.it.start.timeout.seconds", 300));
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(60);
    /** The admin user every {@code /api/} request of the harness authenticates as, unless told otherwise. */
    public static final String ADMIN_USER = "it-admin";
    /** A user that authenticates but lacks the role {@code anvil-admin}. */
    public static final String USER_WITHOUT_ROLE = "it-viewer";
    /** Password of every provisioned user. */
    public static final String PASSWORD = "it-secret-1";
    /** {@code Authorization} value that makes the harness send no credentials (the header itself is not sent). */
    public static final String ANONYMOUS = "(none)";

    private static final List<String> ADMINS = List.of(ADMIN_USER, "alice", "bob");
    /**
     * bcrypt's work factor for the provisioned users: 4, the least bcrypt allows, where server-config/bin/admin-user.sh
     * uses 10. Every /api/ request of the suite is a Basic login that checks the hash, and at 10 each check costs about a
     * tenth of a second of CPU (AdminApiAccessIT took four minutes instead of forty seconds); the stored form, salted
     * bcrypt, is the same.
     */
    private static final int BCRYPT_COST = 4;

    /** The model name CostRoutingIT registers as its routers' expensive candidate (priced on API_KEYS_REQUIRED). */
    public static final String ROUTING_LARGE_MODEL = "routing-large";

    /** Which server: settings that differ between the servers of one run. */
    public enum Profile {
        /** Listens on loopback: API keys optional (anvil.gateway.require-api-key=auto), as a fresh install runs. */
        DEFAULT("", "127.0.0.1", Map.of()),
        /**
         * Listens on every address, so every /v1 request needs an API key (auto: nothing else sets it); gateway prices for
         * stories260k (cost per 1000 tokens: 0.5 prompt, 1.5 completion) and for {@value #ROUTING_LARGE_MODEL}, the
         * "large" candidate of CostRoutingIT's routers (5 prompt, 15 completion).
         */
        API_KEYS_REQUIRED(
                "-keys",
                "0.0.0.0",
                Map.of(
                        "ANVIL_GATEWAY_PRICE_STORIES260K_PROMPT", "0.5",
                        "ANVIL_GATEWAY_PRICE_STORIES260K_COMPLETION", "1.5",
                        "ANVIL_GATEWAY_PRICE_ROUTING_LARGE_PROMPT", "5",
                        "ANVIL_GATEWAY_PRICE_ROUTING_LARGE_COMPLETION", "15")),
        /** First node of the two-node cluster (PostgreSQL only); owns the database both nodes use. */
        CLUSTER_NODE_1(
                "-node1",
                "127.0.0.1",
                Map.of("ANVIL_CLUSTER", "true", "ANVIL_MAX_HEAP", "1g", "ANVIL_SERVING_REGISTRY_SYNC_SECONDS", "2")),
        /** Second node of the cluster: joins node 1 (started first) and shares its database. */
        CLUSTER_NODE_2(
                "-node2",
                "127.0.0.1",
                Map.of("ANVIL_CLUSTER", "true", "ANVIL_MAX_HEAP", "1g", "ANVIL_SERVING_REGISTRY_SYNC_SECONDS", "2")),
        /**
         * A server whose PostgreSQL the test stops and starts again ({@link #stopDatabase()}, {@link #startDatabase()}),
         * so that no other test sees the outage (PostgreSQL run only: an embedded H2 cannot be taken away).
         */
        DATABASE_OUTAGE("-dbdown", "127.0.0.1", Map.of("ANVIL_MAX_HEAP", "1g")),
        /**
         * A server that BatchRestartIT stops and starts again on the same database and configuration ({@link #restart()}),
         * so that no other test sees the restart; checkpoints of one line, so a resumed batch shows exactly where it was.
         */
        BATCH_RESTART("-batch", "127.0.0.1", Map.of("ANVIL_MAX_HEAP", "1g", "ANVIL_BATCH_CHECKPOINT_LINES", "1"));

        final String workDirSuffix;
        /** The address the API listens on (jboss.bind.address); tests always connect through 127.0.0.1. */
        final String bindAddress;

        final Map<String, String> environment;

        Profile(String workDirSuffix, String bindAddress, Map<String, String> environment) {
            this.workDirSuffix = workDirSuffix;
            this.bindAddress = bindAddress;
            this.environment = environment;
        }

        boolean clustered() {
            return this == CLUSTER_NODE_1 || this == CLUSTER_NODE_2;
        }
    }

    /** The port offsets of the cluster's two nodes, chosen together: each node's peer list names both JGroups ports. */
    private static int[] clusterPortOffsets;
    /** ANVIL_CLUSTER_SECRET of this run's cluster nodes (random per test JVM). */
    private static String clusterSecret;
    /**
     * The identity files of the users the first server of this JVM was provisioned with (its configuration/anvil-users);
     * later servers copy them instead of starting another embedded server. Null until then.
     */
    private static Path provisionedUsers;

    private static final Map<Profile, AnvilServer> instances = new java.util.EnumMap<>(Profile.class);
    /** A failed start is not retried by every test class: they all get the first failure. */
    private static final Map<Profile, RuntimeException> startFailures = new java.util.EnumMap<>(Profile.class);

    private final Profile profile;
    private final String database;
    private final Path workDir;
    private final Path baseDir;
    private final int portOffset;
    private final HttpClient client;
    private PostgresServer postgres;
    private Process wildfly;
    /** How {@link #wildfly} was launched, to launch it again on the same base directory ({@link #restart()}). */
    private ProcessBuilder launcher;

    private Duration startupTime;
    private String configurationBeforeRerun;

    private AnvilServer(Profile profile, String database, Path workDir) {
        this.profile = profile;
        this.database = database;
        this.workDir = workDir;
        this.baseDir = workDir.resolve("standalone");
        this.portOffset = switch (profile) {
            case CLUSTER_NODE_1 -> clusterPortOffsets()[0];
            case CLUSTER_NODE_2 -> clusterPortOffsets()[1];
            default -> Ports.freeWildFlyPortOffset();
        };
        this.client = HttpClient.newBuilder()
                .connectTimeout(Duration.ofSeconds(10))
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
    }

    /** The started server of this test JVM (starting it on first use). */
    public static AnvilServer get() {
        return get(Profile.DEFAULT);
    }

    /** The started server of {@code profile} in this test JVM (starting it on first use). */
    public static synchronized AnvilServer get(Profile profile) {
        RuntimeException startFailure = startFailures.get(profile);
        if (startFailure != null) {
            throw new IllegalStateException(
                    "The Anvil server (" + profile + ") failed to start earlier in this run", startFailure);
        }
        AnvilServer instance = instances.get(profile);
        if (instance == null) {
            String database = System.getProperty("anvil.it.database", "h2");
            if (!database.equals("h2") && !database.equals("postgresql")) {
                throw new IllegalArgumentException("anvil.it.database must be h2 or postgresql, got " + database);
            }
            if (profile == Profile.DATABASE_OUTAGE && !database.equals("postgresql")) {
                throw new IllegalStateException(
                        "The database outage test stops the server's PostgreSQL, which needs the PostgreSQL run"
                                + " (the H2 execution excludes the tests tagged \"database-outage\")");
            }
            if (profile.clustered() && !database.equals("postgresql")) {
                throw new IllegalStateException("The cluster nodes share one database, which needs the PostgreSQL run"
                        + " (the H2 execution excludes the tests tagged \"cluster\")");
            }
            if (profile == Profile.CLUSTER_NODE_2) {
                get(Profile.CLUSTER_NODE_1); // node 1 first: it owns the database, and the nodes start one after
                // the other
            }
            Path workDir = Path.of(
                            System.getProperty("anvil.it.work.dir", "target/it-" + database) + profile.workDirSuffix)
                    .toAbsolutePath();
            AnvilServer server = new AnvilServer(profile, database, workDir);
            Runtime.getRuntime().addShutdownHook(new Thread(server::stop, "anvil-it-server-stop"));
            try {
                server.start();
            } catch (IOException e) {
                server.stop();
                startFailures.put(
                        profile,
                        new UncheckedIOException(
                                "Anvil server failed to start (" + database + ", " + profile + "); server log: "
                                        + server.serverLog() + "\n" + server.serverLogTail(80),
                                e));
                throw startFailures.get(profile);
            } catch (InterruptedException e) {
                server.stop();
                Thread.currentThread().interrupt();
                startFailures.put(profile, new IllegalStateException("Interrupted while starting the Anvil server", e));
                throw startFailures.get(profile);
            } catch (RuntimeException e) {
                server.stop();
                startFailures.put(profile, e);
                throw e;
            }
            instances.put(profile, server);
            instance = server;
        }
        return instance;
    }

    /** The server of {@code profile} in this JVM if it is running, else null (does not start one). */
    static synchronized AnvilServer current(Profile profile) {
        return instances.get(profile);
    }

    /** Stops the server of {@code profile} if it runs (and its PostgreSQL), freeing its memory once its tests are done. */
    public static synchronized void stop(Profile profile) {
        AnvilServer server = instances.remove(profile);
        if (server != null) server.stop();
    }

    /** PostgreSQL run: stops this server's database (as an outage would), keeping its data. */
    public void stopDatabase() {
        requireOwnPostgres();
        try {
            postgres.stopKeepingData();
            log("PostgreSQL stopped (outage) for " + profile);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** PostgreSQL run: starts this server's stopped database again, same port and data. */
    public void startDatabase() {
        requireOwnPostgres();
        try {
            postgres.startAgain();
            log("PostgreSQL started again for " + profile);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private void requireOwnPostgres() {
        if (postgres == null) {
            throw new IllegalStateException(
                    "server " + profile + " has no PostgreSQL of its own (database " + database + ")");
        }
    }

    /** Stops the cluster's nodes if they run (node 2, then node 1 with the database), freeing their memory. */
    public static synchronized void stopCluster() {
        for (Profile node : List.of(Profile.CLUSTER_NODE_2, Profile.CLUSTER_NODE_1)) {
            AnvilServer server = instances.remove(node);
            if (server != null) server.stop();
        }
    }

    /** The secret the cluster nodes of this run share (ANVIL_CLUSTER_SECRET): 48 characters of Base64, random per JVM. */
    public static synchronized String clusterSecret() {
        if (clusterSecret == null) {
            byte[] bytes = new byte[36];
            new java.security.SecureRandom().nextBytes(bytes);
            clusterSecret = java.util.Base64.getEncoder().encodeToString(bytes);
        }
        return clusterSecret;
    }

    private static synchronized int[] clusterPortOffsets() {
        if (clusterPortOffsets == null) {
            int first = Ports.freeWildFlyPortOffset();
            int second;
            do {
                second = Ports.freeWildFlyPortOffset();
            } while (second == first);
            clusterPortOffsets = new int[] {first, second};
        }
        return clusterPortOffsets;
    }

    /** Stops the servers of this JVM that were started (called at the end of the JUnit session). */
    static synchronized void stopIfStarted() {
        for (AnvilServer server : instances.values()) {
            server.stop();
        }
        instances.clear();
    }

    /** Which server this is. */
    public Profile profile() {
        return profile;
    }

    /** {@code Authorization} header value of a provisioned user (HTTP Basic with {@link #PASSWORD}). */
    public static String basicAuth(String user) {
        return "Basic "
                + java.util.Base64.getEncoder()
                        .encodeToString((user + ":" + PASSWORD).getBytes(StandardCharsets.UTF_8));
    }

    /** "h2" or "postgresql". */
    public String database() {
        return database;
    }

    public URI baseUri() {
        return URI.create("http://127.0.0.1:" + (8080 + portOffset));
    }

    public URI managementUri() {
        return URI.create("http://127.0.0.1:" + (9990 + portOffset));
    }

    /** The JGroups TCP port of a cluster node (socket binding jgroups-tcp, 7600 plus the port offset), on 127.0.0.1. */
    public int jgroupsPort() {
        return 7600 + portOffset;
    }

    /** Absolute URI of a path on the application port, e.g. uri("/health/ready"). */
    public URI uri(String path) {
        return baseUri().resolve(path);
    }

    /** The configuration file this server runs with (its private copy of standalone-anvil.xml, or -ha.xml on a cluster node). */
    public Path configurationFile() {
        return baseDir.resolve("configuration/" + serverConfigName());
    }

    private String serverConfigName() {
        return profile.clustered() ? "standalone-anvil-ha.xml" : "standalone-anvil.xml";
    }

    /**
     * H2 run (and cluster node 1) only: the configuration file after the first configure.sh pass over the copied
     * configuration (the harness runs a second pass before starting); null otherwise.
     */
    public String configurationBeforeRerun() {
        return configurationBeforeRerun;
    }

    /** The provisioned server (server-config/target/wildfly) this run was copied from. */
    public Path wildflyHome() {
        return Path.of(System.getProperty("anvil.it.wildfly.home"))
                .toAbsolutePath()
                .normalize();
    }

    /** WildFly's server.log of this run. */
    public Path serverLog() {
        return baseDir.resolve("log/server.log");
    }

    /** Time from launching standalone.sh until /health/ready answered 200. */
    public Duration startupTime() {
        return startupTime;
    }

    public HttpResult get(String path) {
        return request("GET", path, null, Map.of());
    }

    public HttpResult post(String path, String json) {
        return request("POST", path, json, Map.of("Content-Type", "application/json"));
    }

    public HttpResult put(String path, String json) {
        return request("PUT", path, json, Map.of("Content-Type", "application/json"));
    }

    public HttpResult delete(String path) {
        return request("DELETE", path, null, Map.of());
    }

    /** Any request; {@code body} null for none. Headers are sent as given (e.g. Content-Type, Accept). */
    public HttpResult request(String method, String path, String body, Map<String, String> headers) {
        boolean ownAuthorization = headers.keySet().stream().anyMatch(h -> h.equalsIgnoreCase("Authorization"));
        Map<String, String> sent = headers;
        if (!ownAuthorization && path.startsWith("/api/")) {
            sent = new HashMap<>(headers);
            sent.put("Authorization", basicAuth(ADMIN_USER));
        }
        return send(method, uri(path), path, body, sent);
    }

    /**
     * A request to {@code rawPath} exactly as written, appended to {@link #baseUri()} without resolving it (so
     * {@code //}, {@code ..}, {@code ;params} and percent-escapes reach the server as they are), with exactly the
     * given headers: no credentials are added ({@link #ANONYMOUS} or no Authorization header sends none).
     */
    public HttpResult requestRaw(String method, String rawPath, String body, Map<String, String> headers) {
        return send(method, URI.create(baseUri() + rawPath), rawPath, body, headers);
    }

    private HttpResult send(String method, URI target, String path, String body, Map<String, String> headers) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(target)
                .timeout(REQUEST_TIMEOUT)
                .method(
                        method,
                        body == null
                                ? HttpRequest.BodyPublishers.noBody()
                                : HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        for (Map.Entry<String, String> header : headers.entrySet()) {
            if (header.getKey().equalsIgnoreCase("Authorization")
                    && header.getValue().equals(ANONYMOUS)) {
                continue;
            }
            builder.header(header.getKey(), header.getValue());
        }
        try {
            HttpResponse<String> response =
                    client.send(builder.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            return new HttpResult(method, path, response.statusCode(), response.headers(), response.body());
        } catch (IOException e) {
            throw new UncheckedIOException(method + " " + path + " failed; server log: " + serverLog(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted during " + method + " " + path, e);
        }
    }

    /** The last {@code lines} lines of server.log, for failure reports. */
    public String serverLogTail(int lines) {
        try {
            if (!Files.exists(serverLog())) {
                return "(no server log at " + serverLog() + ")";
            }
            List<String> all = Files.readAllLines(serverLog(), StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException | UncheckedIOException e) {
            return "(cannot read " + serverLog() + ": " + e.getMessage() + ")";
        }
    }

    private void start() throws IOException, InterruptedException {
        Path wildflyHome = requiredPath("anvil.it.wildfly.home");
        Path ear = requiredPath("anvil.it.ear");
        Path configure = requiredPath("anvil.it.configure");
        if (!Files.isExecutable(wildflyHome.resolve("bin/standalone.sh"))) {
            throw new IOException("WildFly is not provisioned at " + wildflyHome + " (build server-config first)");
        }
        Files.createDirectories(workDir);
        log("work directory " + workDir);

        Map<String, String> environment = new HashMap<>();
        if (profile == Profile.CLUSTER_NODE_2) {
            // The cluster shares node 1's database (registry, API keys, usage); node 1 stops it.
            environment.putAll(instances.get(Profile.CLUSTER_NODE_1).postgres.environment());
        } else if (database.equals("postgresql")) {
            postgres = PostgresServer.start(workDir);
            environment.putAll(postgres.environment());
            log("PostgreSQL on port " + postgres.port() + " (log " + postgres.logFile() + ")");
        }

        // A private base dir per run: fresh configuration (copied from the provisioned server), deployments,
        // data, log and tmp, so runs never share a database file or a deployment state.
        PostgresServer.deleteRecursively(baseDir);
        copyTree(wildflyHome.resolve("standalone/configuration"), baseDir.resolve("configuration"));
        Files.createDirectories(baseDir.resolve("deployments"));

        environment.putAll(profile.environment);
        if (profile.clustered()) {
            environment.put("ANVIL_CLUSTER_SECRET", clusterSecret());
        }
        runConfigure(configure, wildflyHome, environment);
        if (database.equals("h2") || profile == Profile.CLUSTER_NODE_1) {
            // Second pass with the same environment: ServerConfigurationIT (ClusterIT for the clustered
            // configuration) checks it changed nothing.
            configurationBeforeRerun = Files.readString(configurationFile(), StandardCharsets.UTF_8);
            runConfigure(configure, wildflyHome, environment);
        }
        provisionUsers(wildflyHome);
        Files.copy(ear, baseDir.resolve("deployments/anvil.ear"), StandardCopyOption.REPLACE_EXISTING);

        List<String> command = new java.util.ArrayList<>(List.of(
                wildflyHome.resolve("bin/standalone.sh").toString(),
                "-c",
                serverConfigName(),
                "-Djboss.server.base.dir=" + baseDir,
                "-Djboss.socket.binding.port-offset=" + portOffset,
                "-Djboss.bind.address=" + profile.bindAddress,
                "-Djboss.bind.address.management=127.0.0.1"));
        if (profile.clustered()) {
            // As serve.sh passes them for ANVIL_CLUSTER=true: node name, JGroups address, and both nodes as peers.
            int[] offsets = clusterPortOffsets();
            command.add("-Djboss.node.name=it" + profile.workDirSuffix);
            command.add("-Djboss.tx.node.id=it" + profile.workDirSuffix);
            command.add("-Djboss.bind.address.private=127.0.0.1");
            command.add("-Danvil.cluster.hosts=127.0.0.1[" + (7600 + offsets[0]) + "],127.0.0.1[" + (7600 + offsets[1])
                    + "]");
        }
        ProcessBuilder builder = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.to(
                        workDir.resolve("console.log").toFile()));
        builder.environment().putAll(environment);
        if (!database.equals("postgresql")) {
            builder.environment().remove("ANVIL_DB_URL");
        }
        if (!profile.clustered()) {
            builder.environment().remove("ANVIL_CLUSTER");
        }
        // A small admission queue so that the overload IT can fill it (OpenAiOverloadIT); 48 still admits the
        // 32 simultaneous streams of the concurrency IT. Override with -Danvil.it.serving.max-queue.
        builder.environment().put("ANVIL_SERVING_MAX_QUEUE", System.getProperty("anvil.it.serving.max-queue", "48"));
        // One batching thread per loaded version: the whole IT suite shares this server and leaves many small test
        // models in PRODUCTION, more than the default 16.
        builder.environment().put("ANVIL_BATCHING_CORE_THREADS", "48");
        builder.environment().put("ANVIL_BATCHING_MAX_THREADS", "48");
        // TEST-ONLY fault injection for ExperimentRoutingIT's canary rollback: every request to this version fails.
        // The experiment controller checks canaries every half second instead of every 10 s, so rollbacks come quickly.
        builder.environment().put("ANVIL_EXPERIMENTS_CONTROLLER_INTERVAL_MS", "500");
        // StuckStreamIT and SharedResourcesIT: a client that stops reading a stream is cut after 5 s instead of 30.
        builder.environment()
                .put(
                        "ANVIL_API_STREAM_WRITE_TIMEOUT_SECONDS",
                        System.getProperty("anvil.it.stream-write-timeout", "5"));
        // EmbeddingsIT: this model name may shorten its embeddings with 'dimensions' (declared Matryoshka-trained).
        builder.environment().put("ANVIL_EMBEDDINGS_MATRYOSHKA_MODELS", MATRYOSHKA_TEST_MODEL);
        // SpeculativeDecodingIT: its own model name decodes speculatively with a draft model it registers; every other
        // version has no draft and decodes as before.
        builder.environment().put("ANVIL_SERVING_SPECULATIVE_METHOD", "draft");
        builder.environment().put("ANVIL_SERVING_SPECULATIVE_DRAFT_MODELS", "specdecode=specdraft@1.0.0");
        // Its draft drafts at every confidence, so the test sees kept and rejected drafts in a handful of requests.
        builder.environment().put("ANVIL_SERVING_SPECULATIVE_DRAFT_MIN_PROBABILITY", "0");
        guardrailAndResilienceSettings(builder.environment());
        driftSettings(builder.environment());
        tracingSettings(builder.environment());
        builder.environment().put("LAUNCH_JBOSS_IN_BACKGROUND", "true");
        Instant launched = Instant.now();
        launcher = builder;
        wildfly = builder.start();
        waitUntilReady(launched.plus(START_TIMEOUT));
        startupTime = Duration.between(launched, Instant.now());
        String summary = String.format(
                "Anvil server (%s, %s) ready at %s in %.1f s; server log %s",
                database, profile, baseUri(), startupTime.toMillis() / 1000.0, serverLog());
        log(summary);
        Files.writeString(workDir.resolve("startup.txt"), summary + "\n", StandardCharsets.UTF_8);
    }

    /**
     * GuardrailsIT and ResilienceIT: two tenant policies selected by the X-Anvil-Tenant header (the default policy,
     * which the other ITs use, stays as shipped), and failing model versions of their own with fallbacks.
     */
    private static void guardrailAndResilienceSettings(Map<String, String> env) {
        env.put("ANVIL_GUARDRAILS_TENANT_HEADER", "X-Anvil-Tenant");
        env.put("ANVIL_GUARDRAILS_TENANT_ITBLOCK_INPUT_PII", "block");
        env.put("ANVIL_GUARDRAILS_TENANT_ITBLOCK_PROMPT_INJECTION", "block");
        env.put("ANVIL_GUARDRAILS_TENANT_ITBLOCK_OUTPUT_PII", "block");
        env.put("ANVIL_GUARDRAILS_TENANT_ITBLOCK_MAX_INPUT_CHARS", "200");
        env.put("ANVIL_GUARDRAILS_TENANT_ITBLOCK_BLOCKED_TERM_LIST", "the,was,and");
        env.put("ANVIL_GUARDRAILS_TENANT_ITREDACT_INPUT_PII", "redact");
        env.put("ANVIL_GUARDRAILS_TENANT_ITREDACT_OUTPUT_PII", "redact");
        env.put("ANVIL_GUARDRAILS_TENANT_ITREDACT_BLOCKED_TERMS", "redact");
        env.put("ANVIL_GUARDRAILS_TENANT_ITREDACT_BLOCKED_TERM_LIST", "the,was,and");
        // TEST-ONLY fault injection: ExperimentRoutingIT's failing canary, ResilienceIT's failing and slow versions.
        env.put(
                "ANVIL_SERVING_FAULT_INJECTION",
                ExperimentFaults.FAILING_VERSION + "=fail,"
                        + "guardprimary@1.0.0=fail,guardmsg@1.0.0=fail,guardslow@1.0.0=delay-ms:8000");
        env.put("ANVIL_RESILIENCE_FALLBACK_MODEL_GUARDPRIMARY", "guardsmall@1.0.0");
        env.put("ANVIL_RESILIENCE_FALLBACK_MODEL_GUARDSLOW", "guardsmall@1.0.0");
        env.put(
                "ANVIL_RESILIENCE_FALLBACK_MESSAGE_GUARDMSG",
                "{\"status\":\"busy\",\"contact\":\"support@anvil.example\"}");
        // ResilienceIT's overloaded version (no fault: a real full queue): a fallback model, then a fixed message.
        env.put("ANVIL_RESILIENCE_FALLBACK_MODEL_GUARDBUSY", "guardsmall@1.0.0");
        env.put("ANVIL_RESILIENCE_FALLBACK_MESSAGE_GUARDBUSY", "Busy: please retry shortly.");
        env.put("ANVIL_RESILIENCE_BREAKER_REQUEST_VOLUME_THRESHOLD", "4");
        env.put("ANVIL_RESILIENCE_BREAKER_DELAY_MS", "600000");
        // MicroProfile Fault Tolerance's own key for the submission timeout (queueing is fast; the fault delays 8 s).
        env.put("DEV_ANVIL_RESILIENCE_SUBMISSIONATTEMPTS_SUBMIT_TIMEOUT_VALUE", "3000");
    }

    /**
     * DriftIT: windows small enough for a test's traffic (the defaults, 500, need minutes of requests). Drift detection
     * only watches, so the other ITs' traffic is unaffected. SemanticCacheIT's model and embedding model.
     */
    private static void driftSettings(Map<String, String> env) {
        env.put("ANVIL_DRIFT_REFERENCE_SIZE", "40");
        env.put("ANVIL_DRIFT_WINDOW_SIZE", "40");
        env.put("ANVIL_DRIFT_MIN_SAMPLES", "40");
        env.put("ANVIL_DRIFT_EVALUATE_EVERY", "10");
        env.put("ANVIL_DRIFT_EMBEDDING_MODEL", "it-embed"); // EmbeddingsIT's BERT model
        // SemanticCacheIT: the semantic cache for its own model, embedding with EmbeddingsIT's BERT model.
        env.put("ANVIL_CACHE_SEMANTIC_MODELS", "semcache");
        env.put("ANVIL_CACHE_SEMANTIC_EMBEDDING_MODEL", "it-embed");
        env.put("ANVIL_CACHE_SEMANTIC_MIN_SIMILARITY", "0.94");
    }

    /**
     * TracingIT: tracing on (it is off by default), every span exported at once to the run's in-process OTLP receiver.
     */
    private static void tracingSettings(Map<String, String> env) {
        env.put("OTEL_SDK_DISABLED", "false");
        env.put("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
        env.put("OTEL_EXPORTER_OTLP_ENDPOINT", TraceCollector.get().endpoint());
        env.put("OTEL_BSP_SCHEDULE_DELAY", "100");
    }

    private void runConfigure(Path configure, Path wildflyHome, Map<String, String> environment)
            throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder("bash", configure.toString(), wildflyHome.toString())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(
                        workDir.resolve("configure.log").toFile()));
        builder.environment().putAll(environment);
        builder.environment().put("ANVIL_SERVER_BASE_DIR", baseDir.toString());
        builder.environment().remove("ANVIL_LOG_JSON");
        if (!database.equals("postgresql")) {
            builder.environment().remove("ANVIL_DB_URL");
        }
        if (!profile.clustered()) {
            builder.environment().remove("ANVIL_CLUSTER");
        }
        Process process = builder.start();
        if (!process.waitFor(5, TimeUnit.MINUTES) || process.exitValue() != 0) {
            process.destroyForcibly();
            throw new IOException("configure.sh failed; see " + workDir.resolve("configure.log"));
        }
    }

    /**
     * The admin API users, written as server-config/bin/admin-user.sh writes them: identities of the filesystem realm
     * AnvilRealm (80-security.cli) with salted bcrypt passwords (16 random bytes of salt each) and the role in the
     * attribute "groups", by the realm's own operations in an embedded server on this server's configuration, before
     * it starts. That embedded server runs once per test JVM (about ten seconds): later servers copy the identity files
     * of the first, which do not depend on the rest of the configuration.
     */
    private void provisionUsers(Path wildflyHome) throws IOException, InterruptedException {
        Path realm = baseDir.resolve("configuration/anvil-users");
        if (provisionedUsers != null) { // servers start one at a time (get() holds the class lock)
            PostgresServer.deleteRecursively(realm);
            copyTree(provisionedUsers, realm);
            return;
        }
        java.security.SecureRandom random = new java.security.SecureRandom();
        StringBuilder cli =
                new StringBuilder("embed-server --server-config=" + serverConfigName() + " --std-out=discard\n");
        Map<String, String> roles = new java.util.LinkedHashMap<>();
        for (String admin : ADMINS) {
            roles.put(admin, "anvil-admin");
        }
        roles.put(USER_WITHOUT_ROLE, "anvil-viewer");
        String identities = "/subsystem=elytron/filesystem-realm=AnvilRealm";
        for (Map.Entry<String, String> user : roles.entrySet()) {
            byte[] salt = new byte[16];
            random.nextBytes(salt);
            StringBuilder bytes = new StringBuilder();
            for (byte b : salt) {
                bytes.append(bytes.isEmpty() ? "" : ",").append(String.format("0x%02x", b));
            }
            cli.append(identities)
                    .append(":add-identity(identity=")
                    .append(user.getKey())
                    .append(")\n")
                    .append(identities)
                    .append(":set-password(identity=")
                    .append(user.getKey())
                    .append(", bcrypt={password=\"")
                    .append(PASSWORD)
                    .append("\", salt=bytes{")
                    .append(bytes)
                    .append("}, iteration-count=")
                    .append(BCRYPT_COST)
                    .append("})\n")
                    .append(identities)
                    .append(":add-identity-attribute(identity=")
                    .append(user.getKey())
                    .append(", name=groups, value=[")
                    .append(user.getValue())
                    .append("])\n");
        }
        cli.append("stop-embedded-server\n");
        Path script = workDir.resolve("users.cli");
        Files.writeString(script, cli, StandardCharsets.UTF_8);
        ProcessBuilder builder = new ProcessBuilder(
                        wildflyHome.resolve("bin/jboss-cli.sh").toString(), "--file=" + script)
                .redirectErrorStream(true)
                .redirectOutput(
                        ProcessBuilder.Redirect.to(workDir.resolve("users.log").toFile()));
        builder.environment().put("JAVA_OPTS", "-Djboss.server.base.dir=" + baseDir);
        Process process = builder.start();
        if (!process.waitFor(3, TimeUnit.MINUTES) || process.exitValue() != 0) {
            process.destroyForcibly();
            throw new IOException("provisioning the admin users failed; see " + workDir.resolve("users.log"));
        }
        provisionedUsers = realm;
    }

    /** Polls /health/ready (200 = deployed, database up, migrations applied) until the deadline. */
    private void waitUntilReady(Instant deadline) throws IOException, InterruptedException {
        Path failedMarker = baseDir.resolve("deployments/anvil.ear.failed");
        String lastAnswer = "no answer yet";
        while (Instant.now().isBefore(deadline)) {
            if (!wildfly.isAlive()) {
                throw new IOException("WildFly exited with " + wildfly.exitValue() + " before becoming ready");
            }
            if (Files.exists(failedMarker)) {
                throw new IOException("Deployment failed: " + Files.readString(failedMarker));
            }
            try {
                HttpResult ready = get("/health/ready");
                lastAnswer = ready.toString();
                if (ready.status() == 200) {
                    return;
                }
            } catch (UncheckedIOException e) {
                lastAnswer = e.getCause().toString();
            }
            wildfly.waitFor(500, TimeUnit.MILLISECONDS); // poll interval; returns early if WildFly dies
        }
        throw new IOException("Not ready within " + START_TIMEOUT + "; last /health/ready: " + lastAnswer);
    }

    /**
     * Stops this server's WildFly (SIGTERM: a graceful shutdown) and starts it again on the same base directory, so
     * with the same configuration, deployment and database (an H2 file under its data directory, or its PostgreSQL,
     * which keeps running), then waits until it is ready.
     */
    public synchronized void restart() {
        if (wildfly == null || launcher == null)
            throw new IllegalStateException("server " + profile + " is not running");
        log("restarting WildFly (" + database + ", " + profile + ")");
        Processes.stopTree(wildfly, Duration.ofSeconds(60));
        try {
            Instant launched = Instant.now();
            wildfly = launcher.start();
            waitUntilReady(launched.plus(START_TIMEOUT));
            log("WildFly restarted in "
                    + Duration.between(launched, Instant.now()).toMillis() + " ms");
        } catch (IOException e) {
            throw new UncheckedIOException("restart failed; server log: " + serverLog() + "\n" + serverLogTail(80), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private synchronized void stop() {
        if (wildfly != null) {
            log("stopping WildFly (" + database + ", " + profile + ")");
            Processes.stopTree(wildfly, Duration.ofSeconds(60));
            wildfly = null;
        }
        if (postgres != null) {
            log("stopping PostgreSQL");
            postgres.close();
            postgres = null;
        }
    }

    private static Path requiredPath(String property) throws IOException {
        String value = System.getProperty(property);
        if (value == null || value.isBlank()) {
            throw new IOException("System property " + property + " is not set (run the ITs through Maven)");
        }
        Path path = Path.of(value).toAbsolutePath().normalize();
        if (!Files.exists(path)) {
            throw new IOException(property + " points to a missing path: " + path);
        }
        return path;
    }

    private static void copyTree(Path source, Path target) throws IOException {
        try (Stream<Path> walk = Files.walk(source)) {
            for (Path path : walk.toList()) {
                Path destination = target.resolve(source.relativize(path).toString());
                if (Files.isDirectory(path)) {
                    Files.createDirectories(destination);
                } else {
                    Files.copy(path, destination, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    private static void log(String message) {
        System.out.println("[anvil-it] " + message);
    }
}
