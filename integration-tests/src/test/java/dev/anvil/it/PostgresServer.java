package dev.anvil.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserPrincipal;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A throwaway PostgreSQL server for one integration-test run: initdb into the run's work directory,
 * postgres on a free TCP port (no Unix socket), a database "anvil" owned by user "anvil".
 * PostgreSQL refuses to run as root, so as root every command runs as the unprivileged OS user
 * "postgres" (created by Debian's package) through runuser.
 */
final class PostgresServer implements AutoCloseable {

    static final String DATABASE = "anvil";
    static final String USER = "anvil";
    static final String PASSWORD = "anvil-it-secret";
    private static final String OS_USER = "postgres";

    private final Path binDir;
    private Path dataDir;
    private Path tempDataParent;
    private final Path logFile;
    private final int port;
    private final boolean asRoot;
    private Process process;

    private PostgresServer(Path binDir, Path workDir, int port) {
        this.binDir = binDir;
        this.dataDir = workDir.resolve("pgdata");
        this.logFile = workDir.resolve("postgresql.log");
        this.port = port;
        this.asRoot = "root".equals(System.getProperty("user.name"));
    }

    static PostgresServer start(Path workDir) throws IOException, InterruptedException {
        PostgresServer server = new PostgresServer(findBinDir(), workDir, Ports.freePort());
        try {
            server.initAndStart();
            return server;
        } catch (IOException | InterruptedException | RuntimeException e) {
            server.close();
            throw e;
        }
    }

    String jdbcUrl() {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + DATABASE;
    }

    int port() {
        return port;
    }

    Path logFile() {
        return logFile;
    }

    private void initAndStart() throws IOException, InterruptedException {
        Files.createDirectories(dataDir.getParent());
        deleteRecursively(dataDir);
        if (asRoot && !traversableByPostgres(dataDir.getParent())) {
            // E.g. a checkout under /root (mode 700): the postgres user cannot reach target/, so the data
            // directory goes to a private temp directory instead (removed again in close()).
            tempDataParent = Files.createTempDirectory("anvil-it-pg");
            tempDataParent.toFile().setExecutable(true, false);
            dataDir = tempDataParent.resolve("pgdata");
            System.out.println("[anvil-it] " + logFile.getParent() + " is not reachable by user " + OS_USER
                    + "; PostgreSQL data in " + dataDir);
        }
        Files.createDirectories(dataDir);
        Path passwordFile = dataDir.getParent().resolve("pg-password");
        Files.writeString(passwordFile, PASSWORD + "\n", StandardCharsets.UTF_8);
        if (asRoot) {
            UserPrincipal postgres =
                    dataDir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName(OS_USER);
            Files.setOwner(dataDir, postgres);
            Files.setOwner(passwordFile, postgres);
            Files.deleteIfExists(logFile);
            Files.createFile(logFile);
            Files.setOwner(logFile, postgres);
        }
        run(
                List.of(
                        binDir.resolve("initdb").toString(),
                        "-D",
                        dataDir.toString(),
                        "-U",
                        USER,
                        "--pwfile=" + passwordFile,
                        "-A",
                        "scram-sha-256",
                        "-E",
                        "UTF8",
                        "--no-locale"),
                Duration.ofMinutes(2));

        launch();
        run(clientCommand("createdb", "-O", USER, DATABASE), Duration.ofSeconds(60));
    }

    /** A PostgreSQL client tool's command line, connecting to this server as {@link #USER}, then {@code args}. */
    private List<String> clientCommand(String tool, String... args) {
        List<String> command = new ArrayList<>(
                List.of(binDir.resolve(tool).toString(), "-h", "127.0.0.1", "-p", Integer.toString(port), "-U", USER));
        command.addAll(List.of(args));
        return command;
    }

    /** Starts postgres on the data directory and waits until it accepts connections. */
    private void launch() throws IOException, InterruptedException {
        List<String> command = asUser(List.of(
                binDir.resolve("postgres").toString(),
                "-D",
                dataDir.toString(),
                "-p",
                Integer.toString(port),
                "-h",
                "127.0.0.1",
                "-c",
                "unix_socket_directories=",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=50"));
        process = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
                .start();
        waitUntilAccepting(Duration.ofSeconds(60));
    }

    /**
     * Takes the database away as an outage would (fast shutdown: open connections are terminated), keeping its
     * data for {@link #startAgain()}.
     */
    void stopKeepingData() throws IOException, InterruptedException {
        if (process == null) {
            return;
        }
        run(
                List.of(binDir.resolve("pg_ctl").toString(), "-D", dataDir.toString(), "-m", "fast", "-w", "stop"),
                Duration.ofSeconds(60));
        Processes.stopTree(process, Duration.ofSeconds(30));
        process = null;
    }

    /** Brings a stopped database back on the same port with the same data. */
    void startAgain() throws IOException, InterruptedException {
        if (process == null) {
            launch();
        }
    }

    private void waitUntilAccepting(Duration timeout) throws IOException, InterruptedException {
        Instant deadline = Instant.now().plus(timeout);
        while (Instant.now().isBefore(deadline)) {
            if (!process.isAlive()) {
                throw new IOException("postgres exited with " + process.exitValue() + "; see " + logFile);
            }
            Process ready = new ProcessBuilder(clientCommand("pg_isready", "-d", "postgres"))
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            if (ready.waitFor(10, TimeUnit.SECONDS) && ready.exitValue() == 0) {
                return;
            }
            ready.destroyForcibly();
            process.waitFor(200, TimeUnit.MILLISECONDS); // poll interval, returns early if postgres dies
        }
        throw new IOException(
                "postgres did not accept connections on port " + port + " within " + timeout + "; see " + logFile);
    }

    private void run(List<String> command, Duration timeout) throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder(asUser(command))
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
        builder.environment().put("PGPASSWORD", PASSWORD);
        Process child = builder.start();
        if (!child.waitFor(timeout.toSeconds(), TimeUnit.SECONDS)) {
            child.destroyForcibly();
            throw new IOException("Timed out: " + String.join(" ", command) + "; see " + logFile);
        }
        if (child.exitValue() != 0) {
            throw new IOException(
                    "Failed (exit " + child.exitValue() + "): " + String.join(" ", command) + "; see " + logFile);
        }
    }

    /** As root: runuser -u postgres -- command (PostgreSQL refuses to run as root). */
    private List<String> asUser(List<String> command) {
        if (!asRoot) {
            return command;
        }
        List<String> wrapped = new ArrayList<>(List.of("runuser", "-u", OS_USER, "--"));
        wrapped.addAll(command);
        return wrapped;
    }

    @Override
    public void close() {
        if (process != null) {
            try {
                // Fast shutdown: roll back open transactions, don't wait for clients.
                run(
                        List.of(
                                binDir.resolve("pg_ctl").toString(),
                                "-D",
                                dataDir.toString(),
                                "-m",
                                "fast",
                                "-w",
                                "stop"),
                        Duration.ofSeconds(60));
            } catch (IOException | InterruptedException e) {
                System.err.println("[anvil-it] pg_ctl stop failed, killing postgres: " + e.getMessage());
            }
            Processes.stopTree(process, Duration.ofSeconds(30));
            process = null;
        }
        if (tempDataParent != null) {
            try {
                deleteRecursively(tempDataParent);
            } catch (IOException e) {
                System.err.println("[anvil-it] could not delete " + tempDataParent + ": " + e.getMessage());
            }
            tempDataParent = null;
        }
    }

    /** Whether the unprivileged OS user can enter {@code directory} (every ancestor needs search permission). */
    private static boolean traversableByPostgres(Path directory) throws IOException, InterruptedException {
        Process probe = new ProcessBuilder("runuser", "-u", OS_USER, "--", "test", "-x", directory.toString())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        return probe.waitFor(30, TimeUnit.SECONDS) && probe.exitValue() == 0;
    }

    /** Highest installed Debian PostgreSQL (/usr/lib/postgresql/N/bin), or -Danvil.it.pg.bin. */
    private static Path findBinDir() throws IOException {
        String configured = System.getProperty("anvil.it.pg.bin");
        if (configured != null && !configured.isBlank()) {
            return Path.of(configured);
        }
        Path root = Path.of("/usr/lib/postgresql");
        if (Files.isDirectory(root)) {
            try (Stream<Path> versions = Files.list(root)) {
                var best = versions.filter(dir -> Files.isExecutable(dir.resolve("bin/initdb")))
                        .max(Comparator.comparingInt(
                                dir -> parseVersion(dir.getFileName().toString())));
                if (best.isPresent()) {
                    return best.get().resolve("bin");
                }
            }
        }
        throw new IOException("No PostgreSQL server binaries found under /usr/lib/postgresql/*/bin; install "
                + "Debian's postgresql package (bin/anvil test does it when run as root) or set -Danvil.it.pg.bin");
    }

    private static int parseVersion(String name) {
        try {
            return Integer.parseInt(name);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    static void deleteRecursively(Path path) throws IOException {
        if (!Files.exists(path)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(path)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    Map<String, String> environment() {
        return Map.of("ANVIL_DB_URL", jdbcUrl(), "ANVIL_DB_USER", USER, "ANVIL_DB_PASSWORD", PASSWORD);
    }
}
