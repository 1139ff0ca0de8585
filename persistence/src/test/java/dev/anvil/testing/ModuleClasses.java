package dev.anvil.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * The top-level classes a module compiled ({@code target/classes} of the module whose tests run), loaded without
 * initialising them: for tests that check a declaration on every class of a kind (every session bean, every
 * resource), so that a class added later is checked too. In the persistence test jar, which the other modules' tests
 * use.
 */
public final class ModuleClasses {

    private ModuleClasses() {}

    /** Every top-level class under {@code target/classes}, loaded by {@code loader}; a class that cannot load fails. */
    public static List<Class<?>> compiled(ClassLoader loader) throws IOException {
        Path classes = Path.of("target/classes");
        try (Stream<Path> files = Files.walk(classes)) {
            return files.filter(f ->
                            f.toString().endsWith(".class") && !f.toString().contains("$"))
                    .map(f -> classes.relativize(f).toString().replace('/', '.').replaceAll("\\.class$", ""))
                    .<Class<?>>map(name -> {
                        try {
                            return Class.forName(name, false, loader);
                        } catch (ClassNotFoundException | LinkageError e) {
                            throw new AssertionError("cannot load " + name, e);
                        }
                    })
                    .toList();
        }
    }
}
