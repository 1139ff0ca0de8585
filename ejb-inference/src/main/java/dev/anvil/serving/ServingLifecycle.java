package dev.anvil.serving;

import dev.anvil.registry.ModelInfo;
import dev.anvil.registry.ModelRegistry;
import dev.anvil.registry.ModelVersionInfo;
import dev.anvil.registry.RegisterVersionCommand;
import dev.anvil.registry.RegistryException;
import dev.anvil.registry.SchemaMigrator;
import dev.anvil.security.Roles;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.Resource;
import jakarta.annotation.security.PermitAll;
import jakarta.annotation.security.RunAs;
import jakarta.ejb.ConcurrencyManagement;
import jakarta.ejb.ConcurrencyManagementType;
import jakarta.ejb.DependsOn;
import jakarta.ejb.EJB;
import jakarta.ejb.Singleton;
import jakarta.ejb.Startup;
import jakarta.ejb.Timeout;
import jakarta.ejb.TimerConfig;
import jakarta.ejb.TimerService;
import jakarta.ejb.TransactionAttribute;
import jakarta.ejb.TransactionAttributeType;
import jakarta.inject.Inject;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.jboss.ejb3.annotation.RunAsPrincipal;

/**
 * Brings the served models in line with the registry: at startup (after the registry's schema migration)
 * it registers the bundled default model and the configured startup models, then loads and warms up every
 * PRODUCTION version; whenever a stage change commits ({@link PromotionObserver}) it loads the new PRODUCTION
 * version, switches traffic to it and lets the old one drain and unload. With {@code anvil.serving.registry-sync-seconds}
 * (clustered nodes) it also reconciles periodically, for stage changes committed through another node.
 *
 * <p>All of this runs in EJB timer callbacks, never on a deployment or request thread: loading a large model
 * takes a while, and the readiness check ({@link ModelReadinessCheck}) reports DOWN until it is done.
 *
 * <p>Startup registrations are registry changes like any other: made as the administrator {@value #ACTOR}
 * (run-as), which the registry checks and records as their actor.
 */
@Startup
@Singleton
@DependsOn("SchemaMigrator")
@ConcurrencyManagement(ConcurrencyManagementType.BEAN)
@TransactionAttribute(TransactionAttributeType.NOT_SUPPORTED)
@RunAs(Roles.ADMIN)
@RunAsPrincipal(ServingLifecycle.ACTOR)
@PermitAll
public class ServingLifecycle {

    private static final Logger LOG = Logger.getLogger(ServingLifecycle.class.getName());

    /** The default model as it is registered on an empty registry. */
    public static final String DEFAULT_MODEL = "stories260k";

    public static final String DEFAULT_VERSION = "1.0.0";
    /** Where the EJB jar carries the default model's file. */
    static final String DEFAULT_RESOURCE = "/models/stories260K.gguf";

    static final String ACTOR = "anvil-startup";
    /** Owner of models that startup registration creates (OpenAI's {@code owned_by}). */
    static final String OWNER = "anvil";

    static final int MIGRATION_POLL_SECONDS = 5;

    @EJB
    SchemaMigrator migrator;

    @EJB
    ModelRegistry registry;

    @EJB
    ModelRuntimes runtimes;

    @Inject
    ServingConfig config;

    @Resource
    TimerService timers;

    private final Object syncLock = new Object();
    private volatile boolean bootstrapped;
    private volatile boolean initialSyncDone;
    /** Model name → why its PRODUCTION version could not be loaded (cleared once it loads). */
    private final Map<String, String> problems = new java.util.concurrent.ConcurrentHashMap<>();

    @PostConstruct
    void scheduleStartup() {
        timers.createSingleActionTimer(1, new TimerConfig("anvil-serving-startup", false));
        int every = config.registrySyncSeconds();
        if (every > 0) {
            // Clustered nodes: stage changes made through another node (same database) are picked up here.
            timers.createIntervalTimer(
                    every * 1000L, every * 1000L, new TimerConfig("anvil-serving-registry-sync", false));
            LOG.info(() -> "Served models are reconciled with the registry every " + every + " s");
        }
    }

    /** Asks for a reconciliation with the registry soon, on a timer thread (returns at once). */
    public void requestSync() {
        timers.createSingleActionTimer(1, new TimerConfig("anvil-serving-sync", false));
    }

    @Timeout
    void onTimer() {
        if (!migrator.migrated()) {
            timers.createSingleActionTimer(
                    MIGRATION_POLL_SECONDS * 1000L, new TimerConfig("anvil-serving-startup", false));
            return;
        }
        synchronized (syncLock) {
            if (!bootstrapped) {
                try {
                    registerStartupModels();
                } catch (RuntimeException e) {
                    LOG.log(Level.SEVERE, "registering the startup models failed", e);
                    problems.put("(startup)", "registering the startup models failed: " + e.getMessage());
                }
                bootstrapped = true;
            }
            sync();
            initialSyncDone = true;
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Startup registration

    private void registerStartupModels() {
        if (config.defaultModelEnabled() && registry.listModels().isEmpty()) {
            try {
                Path file = installDefaultModel();
                registerAndPromote(
                        DEFAULT_MODEL,
                        DEFAULT_VERSION,
                        file,
                        "stories260K: the 260K-parameter TinyStories Llama from llama2.c, bundled with Anvil");
            } catch (IOException e) {
                throw new IllegalStateException("could not install the bundled default model: " + e.getMessage(), e);
            }
        }
        for (String entry : config.startupModels()) {
            String spec = entry.trim();
            if (spec.isEmpty()) continue;
            try {
                StartupModel m = StartupModel.parse(spec);
                registerAndPromote(m.name(), m.version(), m.path(), "registered at startup from " + m.path());
            } catch (RuntimeException e) {
                LOG.log(Level.SEVERE, "startup model '" + spec + "' was not registered: " + e.getMessage(), e);
                problems.put("(startup " + spec + ")", e.getMessage());
            }
        }
    }

    /** Copies the GGUF the EJB jar carries to {@code ${jboss.server.data.dir}/anvil/models/} (once). */
    Path installDefaultModel() throws IOException {
        String dataDir = System.getProperty("jboss.server.data.dir", System.getProperty("java.io.tmpdir"));
        Path dir = Path.of(dataDir, "anvil", "models");
        Files.createDirectories(dir);
        Path target = dir.resolve("stories260K.gguf");
        try (InputStream in = ServingLifecycle.class.getResourceAsStream(DEFAULT_RESOURCE)) {
            if (in == null) throw new IOException("the EJB jar does not contain " + DEFAULT_RESOURCE);
            if (!Files.exists(target)) {
                Path tmp = Files.createTempFile(dir, "stories260K", ".part");
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
                LOG.info(() -> "Installed the bundled default model at " + target);
            }
        }
        return target;
    }

    /** Registers {@code name@version} unless it exists, and promotes it to PRODUCTION if it was just registered. */
    private void registerAndPromote(String name, String version, Path file, String description) {
        try {
            registry.getVersion(name, version);
            LOG.info(() -> name + "@" + version + " is already registered; left as it is");
            return;
        } catch (RegistryException e) {
            if (e.kind() != RegistryException.Kind.NOT_FOUND) throw e;
        }
        registry.registerVersion(new RegisterVersionCommand(
                name, version, file.toAbsolutePath().toString(), null, null, description, null, OWNER, List.of()));
        registry.changeStage(name, version, "PRODUCTION", "registered at startup");
        LOG.info(() -> "Registered and promoted " + name + "@" + version + " from " + file);
    }

    /** One entry of {@code anvil.serving.startup-models}: {@code name=version=path} or a bare path. */
    record StartupModel(String name, String version, Path path) {
        static StartupModel parse(String spec) {
            String[] parts = spec.split("=", 3);
            if (parts.length == 3) {
                return new StartupModel(parts[0].trim(), parts[1].trim(), Path.of(parts[2].trim()));
            }
            if (parts.length != 1) {
                throw new IllegalArgumentException(
                        "startup model '" + spec + "' must be 'name=version=/path/file.gguf' or a path");
            }
            Path p = Path.of(spec);
            String file = p.getFileName().toString();
            String base = file.contains(".") ? file.substring(0, file.lastIndexOf('.')) : file;
            String name = base.toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9._-]", "-");
            return new StartupModel(name, "1.0.0", p);
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Reconciliation

    private void sync() {
        unloadArchivedExtras();
        Map<String, String> production = new LinkedHashMap<>();
        for (ModelInfo m : registry.listModels()) {
            if (m.productionVersion() != null) production.put(m.name(), m.productionVersion());
        }
        for (ModelRuntime r : runtimes.servingRuntimes()) {
            if (!production.containsKey(r.served().name()))
                runtimes.deactivate(r.served().name());
        }
        problems.keySet().removeIf(k -> !production.containsKey(k) && !k.startsWith("("));
        for (Map.Entry<String, String> e : production.entrySet()) {
            String name = e.getKey(), version = e.getValue();
            ModelRuntime current = runtimes.serving(name);
            if (current != null && current.served().version().equals(version)) continue;
            try {
                // Already loaded for name@version requests (or as a standby): switch to it without loading again.
                ModelRuntime loaded = runtimes.takeExtra(name, version);
                if (loaded == null) {
                    ModelVersionInfo info = registry.getVersion(name, version);
                    String owner = registry.getModel(name).owner();
                    loaded = runtimes.load(
                            name, version, Path.of(info.path()), info.createdAt(), owner == null ? "anvil" : owner);
                }
                // A predecessor moved to STAGING (a blue-green switch) stays loaded as standby; an archived one drains.
                runtimes.activate(
                        loaded,
                        current != null && isStaging(name, current.served().version()));
                problems.remove(name);
            } catch (Exception ex) {
                // The container wraps what ModelRuntimes.load threw in an EJBException: report the real reason.
                Throwable cause = ex instanceof jakarta.ejb.EJBException && ex.getCause() != null ? ex.getCause() : ex;
                String problem = "could not load " + name + "@" + version + ": " + cause.getMessage();
                // Periodic reconciliation retries a failing load every few seconds: log each distinct failure once.
                if (!problem.equals(problems.put(name, problem))) {
                    LOG.log(
                            Level.SEVERE,
                            "could not load " + name + "@" + version
                                    + (current == null ? "" : "; " + current.ref() + " keeps serving"),
                            cause);
                }
            }
        }
    }

    /**
     * Unloads the versions loaded for {@code name@version} requests that were archived in the meantime. On this
     * server {@link PromotionObserver} does it as the stage changes; this catches archivals made through another
     * node of a cluster, which would otherwise keep serving pinned requests here until evicted.
     */
    private void unloadArchivedExtras() {
        for (ModelRuntime r : runtimes.extraRuntimes()) {
            String name = r.served().name(), version = r.served().version();
            try {
                if (registry.getVersion(name, version).stage() == dev.anvil.registry.domain.Stage.ARCHIVED) {
                    LOG.info(() -> name + "@" + version + " was archived: it no longer serves here");
                    runtimes.unloadExtra(name, version);
                }
            } catch (RuntimeException e) {
                LOG.log(Level.FINE, "stage of loaded " + name + "@" + version + " unreadable; kept", e);
            }
        }
    }

    private boolean isStaging(String name, String version) {
        try {
            return registry.getVersion(name, version).stage() == dev.anvil.registry.domain.Stage.STAGING;
        } catch (RuntimeException e) {
            return false;
        }
    }

    // ------------------------------------------------------------------------------------------------
    // For the readiness check

    /** True once the startup registration and the first load of every PRODUCTION version were attempted. */
    public boolean initialSyncDone() {
        return initialSyncDone;
    }

    /** Problems by model name (or "(startup ...)"), empty when everything loaded. */
    public Map<String, String> problems() {
        return Map.copyOf(problems);
    }

    /** The PRODUCTION versions of the registry that are not the version being served, as "name@version". */
    public List<String> productionNotServing() {
        List<String> missing = new ArrayList<>();
        for (ModelInfo m : registry.listModels()) {
            if (m.productionVersion() == null) continue;
            ModelRuntime r = runtimes.serving(m.name());
            if (r == null || !r.served().version().equals(m.productionVersion()))
                missing.add(m.name() + "@" + m.productionVersion());
        }
        return missing;
    }
}
