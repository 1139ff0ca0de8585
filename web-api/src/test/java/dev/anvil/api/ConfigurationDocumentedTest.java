package dev.anvil.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.reflect.Executable;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Parameter;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.eclipse.microprofile.faulttolerance.Retry;
import org.eclipse.microprofile.faulttolerance.Timeout;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * docs/CONFIGURATION.md stays true: every setting the code reads is listed there with the default the code uses, and
 * everything listed there is still read. Sources of truth, read from the code itself:
 * <ul>
 *   <li>{@code @ConfigProperty} injection points of every class of the web-api and EJB modules (name and default);</li>
 *   <li>keys read programmatically, declared as constants named {@code *_KEY} (a key) or {@code *_PREFIX} / {@code PREFIX}
 *       (a family such as {@code anvil.gateway.price.<model>.prompt});</li>
 *   <li>the guardrail policy keys and their defaults ({@code GuardrailPolicy.keyDefaults()});</li>
 *   <li>MicroProfile Fault Tolerance settings of Anvil's methods ({@code <class>/<method>/Timeout/value}, {@code Retry/maxRetries});</li>
 *   <li>the WildFly expressions {@code ${property,env.VARIABLE:default}} of the server configuration scripts;</li>
 *   <li>the {@code ANVIL_*} variables the launch scripts read.</li>
 * </ul>
 */
class ConfigurationDocumentedTest {

    private static final Path DOC = Path.of("../docs/CONFIGURATION.md");
    private static final Path CLI = Path.of("../server-config/src/main/cli");
    private static final List<Path> LAUNCH_SCRIPTS = List.of(
            Path.of("../server-config/bin/serve.sh"),
            Path.of("../server-config/bin/configure.sh"),
            Path.of("../server-config/bin/admin-user.sh"));
    private static final String UNSET = "unset";
    private static final Pattern BACKTICKED = Pattern.compile("`([^`]+)`");
    private static final Pattern EXPRESSION = Pattern.compile("\\$\\{([a-z0-9.\\-]+),env\\.([A-Z0-9_]+):([^}]*)}");
    private static final Pattern ENV_EXPRESSION = Pattern.compile("\\$\\{env\\.([A-Z0-9_]+)}");
    private static final Pattern SCRIPT_VARIABLE = Pattern.compile("\\$\\{?(ANVIL_[A-Z0-9_]+)");

    /** A documented row: its keys (backticked in the first column), its default (second column) and its table. */
    record Row(List<String> keys, String defaultValue, String table, String line) {}

    private static List<Row> rows;
    private static List<Class<?>> classes;

    @BeforeAll
    static void read() throws IOException {
        rows = documentedRows();
        classes = anvilClasses();
    }

    // ---- the documentation -------------------------------------------------------------------------------------

    private static List<Row> documentedRows() throws IOException {
        List<Row> found = new ArrayList<>();
        String table = null;
        for (String line : Files.readAllLines(DOC)) {
            if (!line.startsWith("|")) {
                table = null;
                continue;
            }
            if (table == null) {
                table = line; // the header row names the table
                continue;
            }
            if (line.startsWith("|--") || line.startsWith("|-")) continue;
            String[] cells = line.split("(?<!\\\\)\\|", -1);
            if (cells.length < 4) continue;
            List<String> keys = new ArrayList<>();
            Matcher m = BACKTICKED.matcher(cells[1]);
            while (m.find()) keys.add(m.group(1));
            Matcher d = BACKTICKED.matcher(cells[2]);
            String defaultValue = d.find() ? d.group(1) : cells[2].strip().startsWith(UNSET) ? UNSET : cells[2].strip();
            found.add(new Row(keys, defaultValue, table, line));
        }
        return found;
    }

    private static boolean isGuardrailTable(Row row) {
        return row.table().contains("after `anvil.guardrails.`");
    }

    /** Documented MicroProfile Config keys (guardrail sub-keys under their prefix) with their defaults. */
    private static Map<String, String> documentedKeys() {
        Map<String, String> keys = new TreeMap<>();
        for (Row row : rows) {
            if (isGuardrailTable(row)) {
                keys.put(GUARDRAILS_PREFIX + row.keys().getFirst(), row.defaultValue());
                continue;
            }
            if (!row.table().startsWith("| Key")) continue;
            for (String key : row.keys()) keys.put(key, row.defaultValue());
        }
        return keys;
    }

    private static final String GUARDRAILS_PREFIX = "anvil.guardrails.";

    // ---- the code ----------------------------------------------------------------------------------------------

    /** The classes of the modules on this test's class path that hold Anvil's code ({@code dev.anvil.*}). */
    private static List<Class<?>> anvilClasses() throws IOException {
        List<Class<?>> found = new ArrayList<>();
        Enumeration<URL> roots =
                ConfigurationDocumentedTest.class.getClassLoader().getResources("dev/anvil");
        while (roots.hasMoreElements()) {
            URL root = roots.nextElement();
            Path base;
            try {
                URI uri = root.toURI();
                if (uri.getScheme().equals("jar")) {
                    FileSystem fs;
                    try {
                        fs = FileSystems.newFileSystem(uri, Map.of());
                    } catch (FileSystemAlreadyExistsException e) {
                        fs = FileSystems.getFileSystem(uri);
                    }
                    base = fs.getPath("/dev/anvil");
                } else {
                    base = Path.of(uri);
                }
            } catch (URISyntaxException e) {
                throw new IOException(e);
            }
            // Tests and test fixtures (test-classes directories, test jars such as persistence's) read no
            // configuration.
            if (base.toString().contains("test-classes") || root.toString().contains("-tests.jar!")) continue;
            Path top = base.getParent().getParent();
            try (Stream<Path> files = Files.walk(base)) {
                for (Path file :
                        files.filter(f -> f.toString().endsWith(".class")).toList()) {
                    String name =
                            top.relativize(file).toString().replace('/', '.').replaceAll("\\.class$", "");
                    try {
                        found.add(Class.forName(name, false, ConfigurationDocumentedTest.class.getClassLoader()));
                    } catch (ClassNotFoundException | LinkageError e) {
                        // a class whose dependencies this test's class path lacks reads no configuration we could see
                    }
                }
            }
        }
        assertTrue(
                found.stream().anyMatch(c -> c.getName().equals("dev.anvil.serving.ServingConfig")),
                "the EJB module's classes are on the class path");
        return found;
    }

    /** Every {@code @ConfigProperty} of the code: key → default ({@value #UNSET} without one). */
    private static Map<String, String> injectedKeys() {
        Map<String, String> keys = new TreeMap<>();
        for (Class<?> type : classes) {
            List<ConfigProperty> points = new ArrayList<>();
            for (Field f : declared(type::getDeclaredFields)) add(points, f.getAnnotation(ConfigProperty.class));
            List<Executable> executables = new ArrayList<>(List.of(declared(type::getDeclaredConstructors)));
            executables.addAll(List.of(declared(type::getDeclaredMethods)));
            for (Executable e : executables) {
                for (Parameter p : e.getParameters()) add(points, p.getAnnotation(ConfigProperty.class));
            }
            for (ConfigProperty c : points) {
                String defaultValue =
                        c.defaultValue().equals(ConfigProperty.UNCONFIGURED_VALUE) ? UNSET : c.defaultValue();
                String previous = keys.put(c.name(), defaultValue);
                assertTrue(
                        previous == null || previous.equals(defaultValue),
                        c.name() + " is read with two defaults: " + previous + " and " + defaultValue
                                + " (give it one home)");
            }
        }
        return keys;
    }

    /** Members of a class; a class whose members cannot be resolved here fails the test (it could read keys unseen). */
    private static <T> T[] declared(java.util.function.Supplier<T[]> members) {
        try {
            return members.get();
        } catch (LinkageError e) {
            throw new AssertionError(
                    "cannot inspect a class of Anvil (" + e + "): add what it needs to web-api's test scope", e);
        }
    }

    private static void add(List<ConfigProperty> points, ConfigProperty c) {
        if (c != null) points.add(c);
    }

    /** Constants that name programmatically read keys ({@code *_KEY}) and key families ({@code *_PREFIX}, {@code PREFIX}). */
    private static Map<String, String> declaredConstants() {
        Map<String, String> constants = new TreeMap<>();
        for (Class<?> type : classes) {
            for (Field f : declared(type::getDeclaredFields)) {
                int mod = f.getModifiers();
                if (!Modifier.isStatic(mod) || !Modifier.isFinal(mod) || f.getType() != String.class) continue;
                String name = f.getName();
                if (!(name.endsWith("_KEY") || name.endsWith("_PREFIX") || name.equals("PREFIX"))) continue;
                try {
                    f.setAccessible(true);
                    String value = (String) f.get(null);
                    if (value != null && value.startsWith("anvil."))
                        constants.put(type.getSimpleName() + "." + name, value);
                } catch (ReflectiveOperationException | RuntimeException e) {
                    throw new AssertionError("cannot read " + type.getName() + "." + name, e);
                }
            }
        }
        return constants;
    }

    /** Fault Tolerance settings of Anvil's methods: {@code <class>/<method>/<Annotation>/<attribute>} → value. */
    private static Map<String, String> faultToleranceKeys() {
        Map<String, String> keys = new TreeMap<>();
        for (Class<?> type : classes) {
            for (Method m : declared(type::getDeclaredMethods)) {
                String at = type.getName() + "/" + m.getName() + "/";
                Timeout timeout = m.getAnnotation(Timeout.class);
                if (timeout != null) keys.put(at + "Timeout/value", Long.toString(timeout.value()));
                Retry retry = m.getAnnotation(Retry.class);
                if (retry != null) keys.put(at + "Retry/maxRetries", Integer.toString(retry.maxRetries()));
            }
        }
        return keys;
    }

    /** {@code guardrail key → default} from GuardrailPolicy, the one place the defaults are decided. */
    @SuppressWarnings("unchecked")
    private static Map<String, String> guardrailKeys() {
        try {
            Class<?> policy = Class.forName("dev.anvil.guardrails.GuardrailPolicy");
            Map<String, String> defaults =
                    (Map<String, String>) policy.getMethod("keyDefaults").invoke(null);
            Map<String, String> keys = new TreeMap<>();
            defaults.forEach((k, v) -> keys.put(GUARDRAILS_PREFIX + k, v == null ? UNSET : v));
            return keys;
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    // ---- the checks --------------------------------------------------------------------------------------------

    @Test
    void everyInjectedKeyIsDocumentedWithTheDefaultTheCodeUses() {
        Map<String, String> documented = documentedKeys();
        Map<String, String> injected = injectedKeys();
        assertTrue(injected.size() > 50, injected::toString);
        List<String> problems = new ArrayList<>();
        injected.forEach((key, defaultValue) -> {
            if (!documented.containsKey(key))
                problems.add(key + " (default " + defaultValue + ") is not in docs/CONFIGURATION.md");
            else if (!documented.get(key).equals(defaultValue)) {
                problems.add(
                        key + ": the code's default is " + defaultValue + ", the document says " + documented.get(key));
            }
        });
        assertEquals(List.of(), problems);
    }

    @Test
    void everyProgrammaticKeyAndKeyFamilyIsDocumented() {
        TreeSet<String> documented = new TreeSet<>(documentedKeys().keySet());
        List<String> problems = new ArrayList<>();
        declaredConstants().forEach((constant, value) -> {
            boolean family = value.endsWith(".");
            boolean found = family
                    ? documented.stream().anyMatch(k -> k.startsWith(value) && !k.equals(value))
                            || isGuardrailPrefix(value)
                    : documented.contains(value);
            if (!found)
                problems.add(constant + " = " + value + (family ? " (a key family)" : "")
                        + " is not in docs/CONFIGURATION.md");
        });
        guardrailKeys().forEach((key, defaultValue) -> {
            String doc = documentedKeys().get(key);
            if (!Objects.equals(doc, defaultValue))
                problems.add(key + ": default " + defaultValue + " in the code, " + doc + " in the document");
        });
        faultToleranceKeys().forEach((key, value) -> {
            String doc = documentedKeys().get(key);
            if (doc == null || !doc.startsWith(value)) problems.add(key + " = " + value + " is documented as " + doc);
        });
        assertEquals(List.of(), problems);
    }

    private static boolean isGuardrailPrefix(String value) {
        return value.equals(GUARDRAILS_PREFIX) || value.equals(GUARDRAILS_PREFIX + "tenant.")
                ? rows.stream().anyMatch(ConfigurationDocumentedTest::isGuardrailTable)
                : false;
    }

    /**
     * The library settings (OpenTelemetry's {@code otel.*}) the deployments give in their
     * {@code META-INF/microprofile-config.properties}: each is a default of Anvil's, documented like its own keys.
     */
    private static Map<String, String> deploymentDefaults() {
        Map<String, String> keys = new TreeMap<>();
        for (String module : List.of("../web-api", "../ejb-inference")) {
            Path file = Path.of(module, "src/main/resources/META-INF/microprofile-config.properties");
            java.util.Properties p = new java.util.Properties();
            try (var in = java.nio.file.Files.newBufferedReader(file)) {
                p.load(in);
            } catch (IOException e) {
                throw new AssertionError("cannot read " + file.toAbsolutePath(), e);
            }
            for (String key : p.stringPropertyNames()) {
                if (!key.startsWith("otel.")) continue;
                String previous = keys.put(key, p.getProperty(key));
                if (previous != null && !previous.equals(p.getProperty(key)))
                    throw new AssertionError(key + " is " + previous + " in one deployment, " + p.getProperty(key)
                            + " in " + module + ": one default per key");
            }
        }
        return keys;
    }

    @Test
    void everyTracingDefaultOfTheDeploymentsIsDocumented() {
        Map<String, String> defaults = deploymentDefaults();
        assertTrue(defaults.containsKey("otel.sdk.disabled"), "tracing is off unless turned on: " + defaults);
        Map<String, String> documented = documentedKeys();
        List<String> problems = new ArrayList<>();
        defaults.forEach((key, value) -> {
            if (!value.equals(documented.get(key)))
                problems.add(key + " = " + value + " in the deployments, documented as " + documented.get(key));
        });
        assertEquals(List.of(), problems);
    }

    @Test
    void everyDocumentedKeyIsStillRead() {
        Map<String, String> read = new LinkedHashMap<>(injectedKeys());
        read.putAll(deploymentDefaults());
        read.putAll(guardrailKeys());
        read.putAll(faultToleranceKeys());
        List<String> families = new ArrayList<>(declaredConstants().values());
        List<String> stale = new ArrayList<>();
        for (String key : documentedKeys().keySet()) {
            boolean known = read.containsKey(key)
                    || families.contains(key)
                    || families.stream().anyMatch(f -> f.endsWith(".") && key.startsWith(f));
            if (!known) stale.add(key);
        }
        assertEquals(List.of(), stale, "documented but not read by any code (remove them, or read them)");
    }

    @Test
    void theEnvironmentVariableOfEachKeyIsTheKeyInUpperCase() {
        for (Row row : rows) {
            if (!row.table().startsWith("| Key | Default | Environment variable")) continue;
            String[] cells = row.line().split("(?<!\\\\)\\|", -1);
            String key = row.keys().getFirst();
            if (key.contains("<")) continue; // a family: the variable has a placeholder too
            Matcher env = BACKTICKED.matcher(cells[3]);
            assertTrue(env.find(), row::line);
            assertEquals(key.toUpperCase(Locale.ROOT).replaceAll("[^A-Z0-9]", "_"), env.group(1), row::line);
        }
    }

    @Test
    void everyServerExpressionOfTheConfigurationScriptsIsDocumentedWithItsDefault() throws IOException {
        Map<String, String> documentedProperties = new TreeMap<>();
        java.util.Set<String> documentedVariables = new TreeSet<>();
        for (Row row : rows) {
            if (row.table().startsWith("| System property")) {
                documentedProperties.put(row.keys().getFirst(), row.defaultValue());
                String[] cells = row.line().split("(?<!\\\\)\\|", -1);
                Matcher env = BACKTICKED.matcher(cells[3]);
                while (env.find()) documentedVariables.add(env.group(1));
            }
            if (row.table().startsWith("| Environment variable")) documentedVariables.addAll(row.keys());
        }
        assertTrue(documentedProperties.size() >= 5 && documentedVariables.size() >= 5, "the server tables were found");
        List<String> problems = new ArrayList<>();
        List<Path> scripts;
        try (Stream<Path> files = Files.walk(CLI)) {
            scripts = files.filter(f -> f.toString().endsWith(".cli")).toList();
        }
        assertTrue(scripts.size() > 5, scripts::toString);
        for (Path script : scripts) {
            String text = Files.readString(script);
            Matcher m = EXPRESSION.matcher(text);
            while (m.find()) {
                String property = m.group(1), variable = m.group(2), defaultValue = m.group(3);
                if (documentedProperties.containsKey(property)) {
                    if (!documentedProperties.get(property).equals(defaultValue)) {
                        problems.add(script.getFileName() + ": " + property + " defaults to " + defaultValue
                                + ", documented " + documentedProperties.get(property));
                    }
                } else if (!documentedVariables.contains(variable)) {
                    problems.add(script.getFileName() + ": ${" + property + ",env." + variable + "} is not documented");
                }
            }
            Matcher e = ENV_EXPRESSION.matcher(text);
            while (e.find()) {
                if (!documentedVariables.contains(e.group(1)))
                    problems.add(script.getFileName() + ": ${env." + e.group(1) + "} is not documented");
            }
        }
        assertEquals(List.of(), problems);
    }

    @Test
    void everyLaunchVariableTheScriptsReadIsDocumented() throws IOException {
        java.util.Set<String> documented = new TreeSet<>();
        for (Row row : rows) {
            if (row.table().startsWith("| Environment variable") || row.table().startsWith("| System property")) {
                String[] cells = row.line().split("(?<!\\\\)\\|", -1);
                for (String cell : cells) {
                    Matcher m = BACKTICKED.matcher(cell);
                    while (m.find()) documented.add(m.group(1));
                }
            }
            if (row.table().startsWith("| Key | Default | Environment variable")) {
                String[] cells = row.line().split("(?<!\\\\)\\|", -1);
                Matcher m = BACKTICKED.matcher(cells[3]);
                while (m.find()) documented.add(m.group(1));
            }
        }
        List<String> missing = new ArrayList<>();
        for (Path script : LAUNCH_SCRIPTS) {
            Matcher m = SCRIPT_VARIABLE.matcher(Files.readString(script));
            while (m.find()) {
                if (!documented.contains(m.group(1)) && !missing.contains(m.group(1))) missing.add(m.group(1));
            }
        }
        assertEquals(
                List.of(),
                missing,
                "ANVIL_* variables the launch scripts read but docs/CONFIGURATION.md does not list");
    }
}
