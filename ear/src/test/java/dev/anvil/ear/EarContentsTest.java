package dev.anvil.ear;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What the packaged EAR holds, read from the archive the build just wrote (this test runs in the package phase, after
 * the EAR plugin): no command-line, benchmark or synthesis code (the tools module is not shipped), and none of the jars
 * the poms leave out on purpose.
 */
class EarContentsTest {

    /** Packages of the tools, which stay out of the server. */
    private static final List<String> TOOL_PACKAGES = List.of("dev/anvil/tools/", "dev/anvil/engine/cli/");

    /**
     * Artifacts left out on purpose (see the exclusions in ejb-inference, persistence and ear poms): the tools;
     * jinjava's annotation-only jars (among them the LGPL FindBugs annotations) and the libraries of its disabled
     * non-Jinja filters; Flyway's CockroachDB support; slf4j, which WildFly provides.
     */
    private static final Set<String> LEFT_OUT = Set.of(
            "anvil-tools",
            "annotations",
            "jsr305",
            "error_prone_annotations",
            "j2objc-annotations",
            "checker-qual",
            "listenablefuture",
            "hubspot-style",
            "derive4j-annotation",
            "commons-net",
            "java-ipv6",
            "big-math",
            "flyway-database-cockroachdb",
            "slf4j-api");

    /** A jar's artifact: its file name without directory, version and extension ({@code lib/x.jar}, {@code x-1.2.jar}). */
    private static final Pattern JAR = Pattern.compile("(?:.*/)?(.+?)(?:-[0-9][^/]*)?\\.jar");

    private static final List<String> jars = new ArrayList<>();
    private static final List<String> toolEntries = new ArrayList<>();
    private static int classes;

    @BeforeAll
    static void readTheEar() throws IOException {
        Path ear = Path.of(System.getProperty("anvil.ear", "target/anvil.ear"));
        assertTrue(Files.isRegularFile(ear), "the packaged EAR is missing: " + ear.toAbsolutePath());
        try (InputStream in = Files.newInputStream(ear)) {
            read(new ZipInputStream(in), ear.getFileName().toString());
        }
    }

    /** Records the jars and tool classes of one archive, descending into the archives it holds. */
    private static void read(ZipInputStream zip, String where) throws IOException {
        for (ZipEntry e = zip.getNextEntry(); e != null; e = zip.getNextEntry()) {
            if (e.isDirectory()) continue;
            String name = e.getName();
            if (name.endsWith(".jar") || name.endsWith(".war")) {
                if (name.endsWith(".jar")) jars.add(where + "!" + name);
                read(new ZipInputStream(zip), where + "!" + name); // not closed: that would close the outer stream
            } else {
                String path = name.startsWith("WEB-INF/classes/") ? name.substring("WEB-INF/classes/".length()) : name;
                if (path.endsWith(".class")) classes++;
                if (TOOL_PACKAGES.stream().anyMatch(path::startsWith)) toolEntries.add(where + "!" + name);
            }
        }
    }

    private static String artifact(String jar) {
        Matcher m = JAR.matcher(jar.substring(jar.lastIndexOf('!') + 1));
        return m.matches() ? m.group(1) : jar;
    }

    @Test
    void theArchiveWasReadWithTheEngineInItsLib() {
        assertTrue(jars.contains("anvil.ear!lib/anvil-engine.jar"), "lib/anvil-engine.jar expected among " + jars);
        assertTrue(classes > 1000, "the EAR's classes were read: " + classes);
    }

    @Test
    void holdsNoCommandLineBenchmarkOrSynthesisCode() {
        assertEquals(List.of(), toolEntries, "tool classes in the EAR");
    }

    @Test
    void holdsNoneOfTheJarsLeftOutOnPurpose() {
        assertEquals(
                List.of(),
                jars.stream().filter(j -> LEFT_OUT.contains(artifact(j))).toList());
    }
}
