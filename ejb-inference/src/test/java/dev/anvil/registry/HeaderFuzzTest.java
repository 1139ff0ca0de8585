package dev.anvil.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.engine.Batch;
import dev.anvil.engine.KvCachePool;
import dev.anvil.engine.LlamaModel;
import dev.anvil.engine.UnsupportedModelException;
import dev.anvil.registry.domain.ArtifactFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Model files are input: thousands of seeded mutations of the real stories260K headers (GGUF and llama2.c) - counts,
 * lengths, value types, tensor dimensions and offsets set to edge values, random bytes, truncation, inserted and
 * removed bytes - must each be registered and loaded correctly, or refused with a message: by the registry's
 * inspection (400) and by the engine's loader ({@link UnsupportedModelException}). No other exception, no
 * OutOfMemoryError or StackOverflowError anywhere in the chain, no mutation slower than a few seconds, the file's
 * mapping unmapped and the compute threads stopped after every refusal. Deterministic: mutation {@code i} always
 * comes from {@code new Random(SEED + i)}, so a failure names the mutation that reproduces it.
 */
class HeaderFuzzTest {

    private static final long SEED = 0x5EED_12L;
    private static final int GGUF_MUTATIONS = 2000;
    private static final int LLAMA2C_MUTATIONS = 600;
    private static final long PER_MUTATION_SECONDS = 20;

    @TempDir
    static Path dir;

    private static ExecutorService runner;
    private static final AtomicInteger COMPUTE_THREADS = new AtomicInteger();
    private static final ThreadFactory COMPUTE = r -> {
        Thread t = new Thread(r, "fuzz-compute-" + COMPUTE_THREADS.incrementAndGet());
        t.setDaemon(true);
        return t;
    };

    private final ArtifactInspector inspector = new ArtifactInspector();

    @BeforeAll
    static void start() {
        runner = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "header-fuzz");
            t.setDaemon(true);
            return t;
        });
    }

    @AfterAll
    static void stop() {
        runner.shutdownNow();
    }

    /** Integer fields of a header: where they are and how wide (4 or 8 bytes), as the format defines them. */
    record Field(int offset, int width, String what) {}

    @Test
    void mutatedGgufHeadersLoadOrAreRefused() throws Exception {
        byte[] original = Files.readAllBytes(TestFiles.storiesGguf());
        List<Field> fields = ggufFields(original);
        int headerEnd =
                fields.stream().mapToInt(f -> f.offset() + f.width()).max().orElseThrow();
        assertTrue(fields.size() > 300, "the header walk found only " + fields.size() + " fields");
        int[] outcomes = new int[3];
        for (int i = 0; i < GGUF_MUTATIONS; i++) {
            Random random = new Random(SEED + i);
            StringBuilder how = new StringBuilder();
            byte[] mutant = mutateGguf(original, fields, headerEnd, random, how);
            outcomes[check(i, "gguf", mutant, null, how.toString())]++;
        }
        // Some mutations still load (a fuzzer that only produces garbage proves little), most are refused, and
        // registration and the engine never disagree (checked per mutation above).
        assertTrue(outcomes[0] > 50 && outcomes[1] == 0 && outcomes[2] > 500, Arrays.toString(outcomes));
    }

    @Test
    void mutatedLlama2cHeadersLoadOrAreRefused() throws Exception {
        byte[] original = Files.readAllBytes(TestFiles.storiesLlama2c());
        int[] outcomes = new int[3];
        for (int i = 0; i < LLAMA2C_MUTATIONS; i++) {
            Random random = new Random(SEED + 1_000_000 + i);
            StringBuilder how = new StringBuilder();
            byte[] mutant = mutateLlama2c(original, random, how);
            outcomes[check(i, "bin", mutant, ArtifactFormat.LLAMA2C, how.toString())]++;
        }
        assertTrue(outcomes[0] > 0 && outcomes[2] > 50, Arrays.toString(outcomes));
    }

    /**
     * Registers and loads one mutant. Returns 0 when it registered and loaded (and ran a token), 1 when registration
     * accepted it but the engine refused it, 2 when registration refused it.
     */
    private int check(int i, String extension, byte[] mutant, ArtifactFormat format, String how) throws Exception {
        Path file = dir.resolve("mutant-" + i + "." + extension);
        Files.write(file, mutant);
        String label = extension + " mutation " + i + " (" + how + ")";
        Future<Integer> run = runner.submit(() -> registerAndLoad(file, format, label));
        int outcome;
        try {
            outcome = run.get(PER_MUTATION_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            run.cancel(true);
            throw new AssertionError(label + " did not finish within " + PER_MUTATION_SECONDS + " s");
        } catch (java.util.concurrent.ExecutionException e) {
            throw new AssertionError(label + " failed: " + e.getCause(), e.getCause());
        }
        assertEquals(List.of(), mappingsOf(file), label + " left its mapping open");
        assertEquals(0, liveComputeThreads(), label + " left compute threads running");
        Files.delete(file);
        return outcome;
    }

    private int registerAndLoad(Path file, ArtifactFormat format, String label) throws Exception {
        boolean registered;
        String registrationRefusal = null;
        try {
            ArtifactFacts facts = inspector.inspect(file.toString(), format, null);
            assertTrue(facts.parameterCount() > 0, label);
            registered = true;
        } catch (RegistryException e) {
            assertEquals(RegistryException.Kind.BAD_REQUEST, e.kind(), label + ": " + e.getMessage());
            assertClearRefusal(e, label);
            registered = false;
            registrationRefusal = e.getMessage();
        }
        Path tokenizer =
                format == ArtifactFormat.LLAMA2C ? TestFiles.sharedDir().resolve("models/tok512.bin") : null;
        try (LlamaModel model = LlamaModel.load(file, tokenizer, COMPUTE, 2)) {
            model.tokenizer(); // serving needs it: a model without one is refused too
            KvCachePool kv = model.newKvCachePool(1 << 20);
            KvCachePool.Sequence seq = kv.newSequence();
            kv.reserve(seq, 1);
            float[] logits =
                    model.forward(new Batch().add(seq, 0, new int[] {0})).logits(0);
            assertEquals(model.config().vocabSize(), logits.length, label);
            kv.free(seq);
            String refusal = registrationRefusal;
            assertTrue(
                    registered || format == ArtifactFormat.LLAMA2C,
                    () -> label + ": the engine loads it but registration refused it: " + refusal);
            return registered ? 0 : 2;
        } catch (UnsupportedModelException e) {
            assertClearRefusal(e, label);
            if (format != ArtifactFormat.LLAMA2C) {
                assertTrue(!registered, label + ": registration accepted a file the engine refuses: " + e.getMessage());
            }
            return registered ? 1 : 2;
        }
    }

    private static void assertClearRefusal(Throwable refusal, String label) {
        String message = refusal.getMessage();
        assertTrue(message != null && message.length() > 20, label + ": refusal without a message: " + refusal);
        for (Throwable t = refusal; t != null; t = t.getCause()) {
            if (t instanceof VirtualMachineError) {
                throw new AssertionError(
                        label + ": " + t.getClass().getSimpleName() + " while reading the header", refusal);
            }
            if (t.getCause() == t) break;
        }
    }

    /** Lines of /proc/self/maps that map {@code file}. */
    private static List<String> mappingsOf(Path file) throws IOException {
        List<String> found = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            if (line.contains(file.getFileName().toString())) found.add(line);
        }
        return found;
    }

    private static long liveComputeThreads() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (true) {
            long live = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().startsWith("fuzz-compute-") && t.isAlive())
                    .count();
            // ComputePool.close() signals its workers; they exit on their own thread's time.
            if (live == 0 || System.nanoTime() > deadline) return live;
            Thread.onSpinWait();
        }
    }

    // --- GGUF ------------------------------------------------------------------------------------------------------

    /** Walks the real header (GGUF v3) and records every count, length, type, dimension and offset field. */
    static List<Field> ggufFields(byte[] file) {
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        List<Field> fields = new ArrayList<>();
        fields.add(new Field(4, 4, "version"));
        fields.add(new Field(8, 8, "tensor count"));
        fields.add(new Field(16, 8, "metadata count"));
        long tensors = b.getLong(8), kvs = b.getLong(16);
        b.position(24);
        for (long i = 0; i < kvs; i++) {
            String key = string(b, fields, "key length");
            fields.add(new Field(b.position(), 4, key + " type"));
            value(b, b.getInt(), fields, key);
        }
        for (long i = 0; i < tensors; i++) {
            String name = string(b, fields, "tensor name length");
            fields.add(new Field(b.position(), 4, name + " dimension count"));
            int dims = b.getInt();
            for (int d = 0; d < dims; d++) {
                fields.add(new Field(b.position(), 8, name + " dimension " + d));
                b.getLong();
            }
            fields.add(new Field(b.position(), 4, name + " type"));
            b.getInt();
            fields.add(new Field(b.position(), 8, name + " offset"));
            b.getLong();
        }
        return fields;
    }

    private static String string(ByteBuffer b, List<Field> fields, String what) {
        fields.add(new Field(b.position(), 8, what));
        int n = (int) b.getLong();
        byte[] bytes = new byte[n];
        b.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static void value(ByteBuffer b, int type, List<Field> fields, String key) {
        switch (type) {
            case 0, 1, 7 -> b.get();
            case 2, 3 -> b.getShort();
            case 4, 5, 6 -> {
                fields.add(new Field(b.position(), 4, key + " value"));
                b.getInt();
            }
            case 8 -> string(b, fields, key + " string length");
            case 9 -> {
                fields.add(new Field(b.position(), 4, key + " element type"));
                int element = b.getInt();
                fields.add(new Field(b.position(), 8, key + " element count"));
                long count = b.getLong();
                // Record the first elements of big arrays only: thousands of token strings add nothing new.
                for (long i = 0; i < count; i++) {
                    if (i < 8) value(b, element, fields, key + "[" + i + "]");
                    else value(b, element, new ArrayList<>(), key);
                }
            }
            case 10, 11, 12 -> {
                fields.add(new Field(b.position(), 8, key + " value"));
                b.getLong();
            }
            default -> throw new IllegalStateException("unknown type " + type + " in the original header");
        }
    }

    private static final long[] EDGE_VALUES = {
        0,
        1,
        2,
        3,
        4,
        7,
        8,
        9,
        12,
        13,
        31,
        32,
        255,
        256,
        65535,
        1 << 20,
        Integer.MAX_VALUE,
        Integer.MAX_VALUE + 1L,
        0xFFFF_FFFFL,
        1L << 32,
        1L << 40,
        Long.MAX_VALUE,
        Long.MIN_VALUE,
        -1,
        -2,
        Integer.MIN_VALUE
    };

    private static byte[] mutateGguf(
            byte[] original, List<Field> fields, int headerEnd, Random random, StringBuilder how) {
        byte[] m = original.clone();
        int kind = random.nextInt(10);
        switch (kind) {
            case 0, 1, 2, 3 -> { // a structural field set to an edge value, or nudged
                Field f = fields.get(random.nextInt(fields.size()));
                long current = f.width() == 4
                        ? ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN).getInt(f.offset())
                        : ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN).getLong(f.offset());
                long v = switch (random.nextInt(4)) {
                    case 0 -> current + 1;
                    case 1 -> current - 1;
                    case 2 -> current * 2 + random.nextInt(3);
                    default -> EDGE_VALUES[random.nextInt(EDGE_VALUES.length)];
                };
                put(m, f, v);
                how.append(f.what())
                        .append(" @")
                        .append(f.offset())
                        .append(": ")
                        .append(current)
                        .append(" -> ")
                        .append(v);
            }
            case 4 -> { // two fields at once
                for (int k = 0; k < 2; k++) {
                    Field f = fields.get(random.nextInt(fields.size()));
                    long v = EDGE_VALUES[random.nextInt(EDGE_VALUES.length)];
                    put(m, f, v);
                    how.append(f.what()).append(" -> ").append(v).append("; ");
                }
            }
            case 5, 6 -> { // random bytes in the header
                int n = 1 + random.nextInt(8);
                for (int k = 0; k < n; k++) {
                    int at = random.nextInt(headerEnd);
                    m[at] = (byte) random.nextInt(256);
                }
                how.append(n).append(" random header bytes");
            }
            case 7 -> { // truncation anywhere, mostly inside the header
                int length = random.nextBoolean() ? random.nextInt(headerEnd) : random.nextInt(m.length);
                how.append("truncated to ").append(length);
                return Arrays.copyOf(m, length);
            }
            case 8 -> { // bytes inserted into or removed from the header
                int at = 24 + random.nextInt(headerEnd - 24);
                int n = 1 + random.nextInt(16);
                byte[] out;
                if (random.nextBoolean()) {
                    out = new byte[m.length + n];
                    System.arraycopy(m, 0, out, 0, at);
                    for (int k = 0; k < n; k++) out[at + k] = (byte) random.nextInt(256);
                    System.arraycopy(m, at, out, at + n, m.length - at);
                    how.append(n).append(" bytes inserted at ").append(at);
                } else {
                    out = new byte[m.length - n];
                    System.arraycopy(m, 0, out, 0, at);
                    System.arraycopy(m, at + n, out, at, m.length - at - n);
                    how.append(n).append(" bytes removed at ").append(at);
                }
                return out;
            }
            default -> { // a value type or element type replaced (valid, invalid or nested array)
                List<Field> types =
                        fields.stream().filter(f -> f.what().endsWith("type")).toList();
                Field f = types.get(random.nextInt(types.size()));
                long v = random.nextInt(3) == 0 ? 9 : random.nextInt(40) - 4;
                put(m, f, v);
                how.append(f.what()).append(" -> ").append(v);
            }
        }
        return m;
    }

    private static void put(byte[] m, Field f, long v) {
        ByteBuffer b = ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN);
        if (f.width() == 4) b.putInt(f.offset(), (int) v);
        else b.putLong(f.offset(), v);
    }

    // --- llama2.c --------------------------------------------------------------------------------------------------

    private static final String[] LLAMA2C_FIELDS = {
        "dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"
    };

    private static byte[] mutateLlama2c(byte[] original, Random random, StringBuilder how) {
        byte[] m = original.clone();
        ByteBuffer b = ByteBuffer.wrap(m).order(ByteOrder.LITTLE_ENDIAN);
        switch (random.nextInt(6)) {
            case 0, 1, 2 -> {
                int field = random.nextInt(7);
                int current = b.getInt(field * 4);
                long v = switch (random.nextInt(4)) {
                    case 0 -> current + 1;
                    case 1 -> current - 1;
                    case 2 -> -current;
                    default -> EDGE_VALUES[random.nextInt(EDGE_VALUES.length)];
                };
                b.putInt(field * 4, (int) v);
                how.append(LLAMA2C_FIELDS[field])
                        .append(": ")
                        .append(current)
                        .append(" -> ")
                        .append((int) v);
            }
            case 3 -> {
                for (int k = 0; k < 2; k++) {
                    int field = random.nextInt(7);
                    int v = (int) EDGE_VALUES[random.nextInt(EDGE_VALUES.length)];
                    b.putInt(field * 4, v);
                    how.append(LLAMA2C_FIELDS[field]).append(" -> ").append(v).append("; ");
                }
            }
            case 4 -> {
                int length = random.nextBoolean() ? random.nextInt(64) : random.nextInt(m.length);
                how.append("truncated to ").append(length);
                return Arrays.copyOf(m, length);
            }
            default -> {
                int extra = 1 + random.nextInt(4096);
                how.append(extra).append(" bytes appended");
                return Arrays.copyOf(m, m.length + extra);
            }
        }
        return m;
    }
}
