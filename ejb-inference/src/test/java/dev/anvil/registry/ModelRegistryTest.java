package dev.anvil.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.persistence.testing.TestDatabases;
import dev.anvil.registry.domain.ArtifactFormat;
import dev.anvil.registry.domain.Stage;
import dev.anvil.security.TestCallers;
import jakarta.persistence.EntityManager;
import jakarta.persistence.EntityManagerFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

/**
 * The registry service against a real (in-memory H2) database migrated by the real migrator, with the
 * container's part played by hand: each call runs in its own resource-local transaction that commits on
 * return and rolls back on an exception, as the EJB container does for a REQUIRED method and a
 * rollback application exception.
 */
class ModelRegistryTest {

    private static final Map<String, Integer> METRICS = new ConcurrentHashMap<>();
    private static EntityManagerFactory emf;
    private static SchemaMigrator migrator;

    @TempDir
    Path tmp;

    private String model;

    @BeforeAll
    static void boot() {
        JdbcDataSource h2 = TestDatabases.inMemory("registry-service-test");
        migrator = new SchemaMigrator();
        migrator.dataSource = h2;
        migrator.migrateAtStartup();
        assertTrue(migrator.migrated(), migrator.failure());
        assertEquals("8", migrator.appliedVersion());
        assertNull(migrator.failure());
        emf = TestDatabases.persistenceUnit(h2);
    }

    @AfterAll
    static void close() {
        if (emf != null) emf.close();
    }

    @org.junit.jupiter.api.BeforeEach
    void uniqueModelName(TestInfo info) {
        model = "m-" + info.getTestMethod().orElseThrow().getName();
    }

    /** Runs one registry call the way the container would: own transaction, rollback on any exception. */
    private static <T> T call(Function<ModelRegistry, T> work) {
        EntityManager em = emf.createEntityManager();
        try {
            ModelRegistry registry = new ModelRegistry();
            registry.em = em;
            registry.inspector = new ArtifactInspector();
            registry.metrics = new RegistryMetrics() {
                @Override
                public void registration(String outcome) {
                    METRICS.merge("registration." + outcome, 1, Integer::sum);
                }

                @Override
                public void transition(String stage, String outcome) {
                    METRICS.merge("transition." + stage + "." + outcome, 1, Integer::sum);
                }
            };
            registry.migrator = migrator;
            registry.recorder = new VersionRecorder() {
                // A REQUIRED bean called from the NOT_SUPPORTED registration: its own transaction and
                // persistence context per call, so a failed attempt leaves nothing behind for the retry.
                @Override
                public ModelVersionInfo record(
                        RegisterVersionCommand command,
                        dev.anvil.registry.domain.SemanticVersion version,
                        ArtifactFacts facts,
                        String actor) {
                    EntityManager own = emf.createEntityManager();
                    try {
                        this.em = own;
                        own.getTransaction().begin();
                        ModelVersionInfo result = super.record(command, version, facts, actor);
                        own.getTransaction().commit();
                        return result;
                    } finally {
                        if (own.getTransaction().isActive())
                            own.getTransaction().rollback();
                        own.close();
                    }
                }
            };
            em.getTransaction().begin();
            T result = work.apply(registry);
            em.getTransaction().commit();
            return result;
        } finally {
            if (em.getTransaction().isActive()) em.getTransaction().rollback();
            em.close();
        }
    }

    private ModelVersionInfo register(String version, Path file) {
        return call(r -> as("alice", r)
                .registerVersion(new RegisterVersionCommand(
                        model,
                        version,
                        file.toString(),
                        null,
                        null,
                        "v" + version,
                        "model under test",
                        null,
                        List.of("test"))));
    }

    private StageChangeResult move(String version, String stage) {
        return call(r -> as("bob", r).changeStage(model, version, stage, "because " + stage));
    }

    /** The registry as {@code actor} calls it: the container would give it that caller principal. */
    private static ModelRegistry as(String actor, ModelRegistry registry) {
        registry.session = TestCallers.session(actor);
        return registry;
    }

    private RegistryException refused(Function<ModelRegistry, ?> work) {
        return assertThrows(RegistryException.class, () -> call(work));
    }

    @Test
    void registersAVersionWithMeasuredFactsAndCreatesTheModel() {
        ModelVersionInfo v = register("1.0.0", TestFiles.storiesGguf());
        assertEquals(model, v.model());
        assertEquals("1.0.0", v.version());
        assertEquals(TestFiles.STORIES_SHA256, v.sha256());
        assertEquals(TestFiles.STORIES_SIZE, v.sizeBytes());
        assertEquals("llama", v.architecture());
        assertEquals("F32", v.quantization());
        assertEquals(TestFiles.STORIES_PARAMETERS, v.parameterCount());
        assertEquals(ArtifactFormat.GGUF, v.format());
        assertEquals(Stage.NONE, v.stage());
        assertEquals("alice", v.createdBy());

        ModelInfo m = call(r -> r.getModel(model));
        assertEquals("alice", m.owner());
        assertEquals(List.of("test"), m.tags());
        assertEquals("model under test", m.description());
        assertEquals(1, m.versionCount());
        assertNull(m.productionVersion());

        List<TransitionInfo> history = call(r -> r.history(model, "1.0.0"));
        assertEquals(1, history.size());
        assertNull(history.getFirst().from());
        assertEquals(Stage.NONE, history.getFirst().to());
        assertEquals("alice", history.getFirst().actor());
        assertEquals("registered", history.getFirst().reason());
    }

    @Test
    void duplicateVersionIsAConflictAndWritesNothing() {
        register("1.0.0", TestFiles.storiesGguf());
        RegistryException e = refused(r -> as("carol", r)
                .registerVersion(new RegisterVersionCommand(
                        model,
                        "1.0.0",
                        TestFiles.referenceModel("ref-spm-q8_0.gguf").toString(),
                        null,
                        null,
                        null,
                        null,
                        null,
                        null)));
        assertEquals(RegistryException.Kind.CONFLICT, e.kind());
        assertEquals("version_exists", e.code());
        List<ModelVersionInfo> versions = call(r -> r.listVersions(model));
        assertEquals(1, versions.size());
        assertEquals(TestFiles.STORIES_SHA256, versions.getFirst().sha256());
    }

    @Test
    void refusedFilesLeaveNoTrace() throws Exception {
        Path garbage = Files.write(tmp.resolve("garbage.gguf"), new byte[] {'n', 'o', 'p', 'e', 1, 2, 3});
        for (RegisterVersionCommand bad : List.of(
                new RegisterVersionCommand(
                        model, "1.0.0", tmp.resolve("missing.gguf").toString(), null, null, null, null, null, null),
                new RegisterVersionCommand(model, "1.0.0", garbage.toString(), null, null, null, null, null, null),
                new RegisterVersionCommand(
                        model,
                        "1.0.0",
                        TestFiles.storiesGguf().toString(),
                        null,
                        "f".repeat(64),
                        null,
                        null,
                        null,
                        null))) {
            RegistryException e = refused(r -> as("alice", r).registerVersion(bad));
            assertEquals(RegistryException.Kind.BAD_REQUEST, e.kind(), e.getMessage());
        }
        // Not even the model was created.
        RegistryException e = refused(r -> r.getModel(model));
        assertEquals(RegistryException.Kind.NOT_FOUND, e.kind());
        assertFalse(
                call(ModelRegistry::listModels).stream().anyMatch(m -> m.name().equals(model)));
    }

    @Test
    void refusedFileForAnExistingModelLeavesVersionsAndHistoryUnchanged() {
        register("1.0.0", TestFiles.storiesGguf());
        List<TransitionInfo> before = call(r -> r.history(model));
        RegistryException e = refused(r -> as("alice", r)
                .registerVersion(new RegisterVersionCommand(
                        model,
                        "2.0.0",
                        TestFiles.storiesGguf().toString(),
                        null,
                        "0".repeat(64),
                        null,
                        null,
                        null,
                        null)));
        assertEquals("checksum_mismatch", e.code());
        assertEquals(1, call(r -> r.listVersions(model)).size());
        assertEquals(before, call(r -> r.history(model)));
    }

    @Test
    void malformedRequestFieldsAreBadRequestsNamingTheField() {
        RegistryException e = refused(r -> as("alice", r)
                .registerVersion(new RegisterVersionCommand(
                        model, "1.0", TestFiles.storiesGguf().toString(), null, null, null, null, null, null)));
        assertEquals("version", e.param());
        assertEquals("invalid_version", e.code());
        e = refused(r -> as("alice", r)
                .registerVersion(new RegisterVersionCommand(
                        "bad name", "1.0.0", TestFiles.storiesGguf().toString(), null, null, null, null, null, null)));
        assertEquals("name", e.param());
        e = refused(r -> as("alice", r)
                .registerVersion(new RegisterVersionCommand(
                        model, "1.0.0", TestFiles.storiesGguf().toString(), "onnx", null, null, null, null, null)));
        assertEquals("format", e.param());
        e = refused(r -> as("alice", r)
                .registerVersion(new RegisterVersionCommand(
                        model, "1.0.0", TestFiles.storiesGguf().toString(), null, "xyz", null, null, null, null)));
        assertEquals("sha256", e.param());
        e = refused(r -> as("bob", r).changeStage(model, "1.0.0", "LIVE", null));
        assertEquals("stage", e.param());
        assertEquals(RegistryException.Kind.BAD_REQUEST, e.kind());
    }

    @Test
    void promotionArchivesThePreviousProductionVersionInTheSameChange() {
        register("1.0.0", TestFiles.storiesGguf());
        register("2.0.0", TestFiles.referenceModel("ref-spm-q8_0.gguf"));
        move("1.0.0", "PRODUCTION");
        move("2.0.0", "staging");
        StageChangeResult result = move("2.0.0", "PRODUCTION");

        assertEquals(Stage.PRODUCTION, result.version().stage());
        assertEquals("bob", result.version().promotedBy());
        assertEquals(2, result.transitions().size());
        TransitionInfo archived = result.transitions().get(0);
        assertEquals("1.0.0", archived.version());
        assertEquals(Stage.PRODUCTION, archived.from());
        assertEquals(Stage.ARCHIVED, archived.to());
        assertEquals("superseded by version 2.0.0", archived.reason());
        TransitionInfo promoted = result.transitions().get(1);
        assertEquals(Stage.STAGING, promoted.from());
        assertEquals("because PRODUCTION", promoted.reason());

        assertEquals(Stage.ARCHIVED, call(r -> r.getVersion(model, "1.0.0")).stage());
        assertEquals("2.0.0", call(r -> r.getModel(model)).productionVersion());

        List<TransitionInfo> history = call(r -> r.history(model));
        assertEquals(
                List.of(
                        "1.0.0:null>NONE",
                        "2.0.0:null>NONE",
                        "1.0.0:NONE>PRODUCTION",
                        "2.0.0:NONE>STAGING",
                        "1.0.0:PRODUCTION>ARCHIVED",
                        "2.0.0:STAGING>PRODUCTION"),
                history.stream()
                        .map(t -> t.version() + ":" + t.from() + ">" + t.to())
                        .toList());
    }

    @Test
    void promotingAnOlderVersionBackWorksWhateverTheRowOrder() {
        // v1 has the lower row id; it goes back to PRODUCTION while v2 holds it, which needs v2's marker
        // cleared before v1's is set.
        register("1.0.0", TestFiles.storiesGguf());
        register("2.0.0", TestFiles.storiesGguf());
        move("1.0.0", "PRODUCTION");
        move("2.0.0", "PRODUCTION");
        move("1.0.0", "STAGING");
        StageChangeResult back = move("1.0.0", "PRODUCTION");
        assertEquals("2.0.0", back.transitions().getFirst().version());
        assertEquals("1.0.0", call(r -> r.getModel(model)).productionVersion());
        assertEquals(Stage.ARCHIVED, call(r -> r.getVersion(model, "2.0.0")).stage());
    }

    @Test
    void illegalTransitionIsAConflictAndChangesNothing() {
        register("1.0.0", TestFiles.storiesGguf());
        register("2.0.0", TestFiles.storiesGguf());
        move("1.0.0", "ARCHIVED");
        move("2.0.0", "PRODUCTION");
        List<TransitionInfo> before = call(r -> r.history(model));

        RegistryException e = refused(r -> as("bob", r).changeStage(model, "1.0.0", "PRODUCTION", "rollback"));
        assertEquals(RegistryException.Kind.CONFLICT, e.kind());
        assertEquals("illegal_transition", e.code());
        assertTrue(e.getMessage().contains("cannot move from ARCHIVED to PRODUCTION"), e.getMessage());
        // The refused promotion did not archive the current PRODUCTION version.
        assertEquals(Stage.PRODUCTION, call(r -> r.getVersion(model, "2.0.0")).stage());
        assertEquals(before, call(r -> r.history(model)));

        e = refused(r -> as("bob", r).changeStage(model, "2.0.0", "PRODUCTION", null));
        assertTrue(e.getMessage().contains("already in stage PRODUCTION"), e.getMessage());
    }

    @Test
    void unknownModelsAndVersionsAreNotFound() {
        assertEquals("model_not_found", refused(r -> r.getModel(model)).code());
        assertEquals(
                "model_not_found",
                refused(r -> as("bob", r).changeStage(model, "1.0.0", "STAGING", null))
                        .code());
        register("1.0.0", TestFiles.storiesGguf());
        RegistryException e = refused(r -> r.getVersion(model, "9.9.9"));
        assertEquals(RegistryException.Kind.NOT_FOUND, e.kind());
        assertEquals("version_not_found", e.code());
        assertEquals(
                "version_not_found", refused(r -> r.history(model, "9.9.9")).code());
    }

    @Test
    void versionsAreListedInSemanticVersionOrder() {
        for (String v : List.of("1.10.0", "1.2.0", "1.2.0-rc.1", "0.9.0")) register(v, TestFiles.storiesGguf());
        assertEquals(
                List.of("0.9.0", "1.2.0-rc.1", "1.2.0", "1.10.0"),
                call(r -> r.listVersions(model)).stream()
                        .map(ModelVersionInfo::version)
                        .toList());
        ModelInfo m = call(ModelRegistry::listModels).stream()
                .filter(x -> x.name().equals(model))
                .findFirst()
                .orElseThrow();
        assertEquals(4, m.versionCount());
    }

    @Test
    void explicitModelCreationAndDuplicate() {
        ModelInfo created =
                call(r -> as("alice", r).createModel(new CreateModelCommand(model, "d", "team-x", List.of("b", "a"))));
        assertEquals("team-x", created.owner());
        assertEquals(List.of("a", "b"), created.tags());
        assertEquals(0, created.versionCount());
        assertEquals(
                "model_exists",
                refused(r -> as("alice", r).createModel(new CreateModelCommand(model, null, null, null)))
                        .code());
        // Registration into an explicitly created model keeps the model's own fields.
        call(r -> as("bob", r)
                .registerVersion(new RegisterVersionCommand(
                        model,
                        "1.0.0",
                        TestFiles.storiesGguf().toString(),
                        null,
                        null,
                        null,
                        "ignored",
                        "ignored",
                        List.of("ignored"))));
        assertEquals("team-x", call(r -> r.getModel(model)).owner());
    }

    @Test
    void registryRefusesServiceUntilMigrated() {
        SchemaMigrator notYet = new SchemaMigrator();
        EntityManager em = emf.createEntityManager();
        try {
            ModelRegistry registry = new ModelRegistry();
            registry.em = em;
            registry.migrator = notYet;
            RegistryException e = assertThrows(RegistryException.class, registry::listModels);
            assertEquals(RegistryException.Kind.UNAVAILABLE, e.kind());
            assertTrue(e.getMessage().contains("migrations have not run yet"), e.getMessage());
        } finally {
            em.close();
        }
    }

    @Test
    void metricsCountOutcomes() {
        int created = METRICS.getOrDefault("registration.created", 0);
        int badRequests = METRICS.getOrDefault("registration.bad_request", 0);
        int conflicts = METRICS.getOrDefault("transition.PRODUCTION.conflict", 0);
        register("1.0.0", TestFiles.storiesGguf());
        refused(r -> as("a", r)
                .registerVersion(new RegisterVersionCommand(
                        model, "2.0.0", "/nowhere/x.gguf", null, null, null, null, null, null)));
        move("1.0.0", "ARCHIVED");
        refused(r -> as("a", r).changeStage(model, "1.0.0", "PRODUCTION", null));
        assertTrue(METRICS.get("registration.created") >= created + 1);
        assertTrue(METRICS.get("registration.bad_request") >= badRequests + 1);
        assertTrue(METRICS.get("transition.PRODUCTION.conflict") >= conflicts + 1);
    }

    @Test
    void concurrentPromotionsLeaveExactlyOneProductionVersion() throws Exception {
        register("1.0.0", TestFiles.storiesGguf());
        register("2.0.0", TestFiles.storiesGguf());
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            for (int round = 0; round < 10; round++) {
                // Both start from STAGING so both promotions are legal on their own.
                for (String v : List.of("1.0.0", "2.0.0")) {
                    Stage s = call(r -> r.getVersion(model, v)).stage();
                    if (s != Stage.STAGING) move(v, "STAGING");
                }
                CountDownLatch start = new CountDownLatch(1);
                AtomicInteger ok = new AtomicInteger();
                List<Future<?>> futures = new ArrayList<>();
                for (String v : List.of("1.0.0", "2.0.0")) {
                    Callable<Void> promote = () -> {
                        start.await();
                        try {
                            call(r -> as("racer-" + v, r).changeStage(model, v, "PRODUCTION", "race"));
                            ok.incrementAndGet();
                        } catch (RegistryException e) {
                            assertEquals(RegistryException.Kind.CONFLICT, e.kind(), e.getMessage());
                        }
                        return null;
                    };
                    futures.add(pool.submit(promote));
                }
                start.countDown();
                for (Future<?> f : futures) f.get(); // rethrows anything but a conflict
                assertTrue(ok.get() >= 1, "at least one promotion succeeds");
                List<ModelVersionInfo> versions = call(r -> r.listVersions(model));
                assertEquals(
                        1,
                        versions.stream()
                                .filter(v -> v.stage() == Stage.PRODUCTION)
                                .count(),
                        "round " + round);
                assertEquals(
                        ok.get() == 2 ? 1 : 0,
                        versions.stream()
                                .filter(v -> v.stage() == Stage.ARCHIVED)
                                .count(),
                        "round " + round);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void concurrentFirstRegistrationsOfANewModelBothSucceed() throws Exception {
        // Both requests find no model and try to create it; the loser of the insert retries and finds it.
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            for (int round = 0; round < 5; round++) {
                String name = model + "-" + round;
                CountDownLatch start = new CountDownLatch(1);
                List<Future<ModelVersionInfo>> futures = new ArrayList<>();
                for (String v : List.of("1.0.0", "2.0.0")) {
                    futures.add(pool.submit(() -> {
                        start.await();
                        return call(r -> as("racer-" + v, r)
                                .registerVersion(new RegisterVersionCommand(
                                        name,
                                        v,
                                        TestFiles.storiesGguf().toString(),
                                        null,
                                        null,
                                        null,
                                        null,
                                        null,
                                        null)));
                    }));
                }
                start.countDown();
                for (Future<ModelVersionInfo> f : futures)
                    assertEquals(name, f.get().model());
                assertEquals(
                        List.of("1.0.0", "2.0.0"),
                        call(r -> r.listVersions(name)).stream()
                                .map(ModelVersionInfo::version)
                                .toList());
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
