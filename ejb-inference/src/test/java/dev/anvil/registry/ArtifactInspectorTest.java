package dev.anvil.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.engine.GgufFile;
import dev.anvil.engine.Llama2cHeader;
import dev.anvil.engine.LlamaModel;
import dev.anvil.engine.UnsupportedModelException;
import dev.anvil.registry.domain.ArtifactFormat;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ArtifactInspectorTest {

    private final ArtifactInspector inspector = new ArtifactInspector();

    @TempDir
    Path tmp;

    @Test
    void measuresStories260K() {
        ArtifactFacts f = inspector.inspect(TestFiles.storiesGguf().toString(), null, null);
        assertEquals(ArtifactFormat.GGUF, f.format());
        assertEquals(TestFiles.STORIES_SHA256, f.sha256());
        assertEquals(TestFiles.STORIES_SIZE, f.sizeBytes());
        assertEquals("llama", f.architecture());
        assertEquals("F32", f.quantization());
        assertEquals(TestFiles.STORIES_PARAMETERS, f.parameterCount());
        assertEquals(TestFiles.storiesGguf().toString(), f.path());
    }

    @Test
    void measuresQuantizedReferenceModelAndAcceptsMatchingChecksumInAnyCase() {
        Path ref = TestFiles.referenceModel("ref-spm-q8_0.gguf");
        ArtifactFacts f = inspector.inspect(ref.toString(), ArtifactFormat.GGUF, TestFiles.REF_Q8_SHA256);
        assertEquals(TestFiles.REF_Q8_SHA256, f.sha256());
        assertEquals("Q8_0", f.quantization());
        assertEquals("llama", f.architecture());
        assertEquals(TestFiles.REF_Q8_PARAMETERS, f.parameterCount());
        assertEquals(21_485_632, f.sizeBytes());
    }

    @Test
    void hashMatchesAnIndependentDigestAcrossBufferBoundaries() throws Exception {
        // 2.5 buffers of random data: exercises the streaming loop's partial last read.
        byte[] data = new byte[(1 << 20) * 5 / 2 + 17];
        new Random(42).nextBytes(data);
        Path file = Files.write(tmp.resolve("blob.bin"), data);
        ArtifactInspector.Digest d = ArtifactInspector.sha256(file);
        assertEquals(
                java.util.HexFormat.of()
                        .formatHex(java.security.MessageDigest.getInstance("SHA-256")
                                .digest(data)),
                d.hex());
        assertEquals(data.length, d.size());
    }

    @Test
    void wrongChecksumIsRefusedWithBothValues() {
        String wrong = "0".repeat(64);
        RegistryException e = assertThrows(
                RegistryException.class,
                () -> inspector.inspect(TestFiles.storiesGguf().toString(), null, wrong));
        assertEquals(RegistryException.Kind.BAD_REQUEST, e.kind());
        assertEquals("checksum_mismatch", e.code());
        assertEquals("sha256", e.param());
        assertTrue(e.getMessage().contains(wrong) && e.getMessage().contains(TestFiles.STORIES_SHA256), e.getMessage());
    }

    @Test
    void missingRelativeAndDirectoryPathsAreRefused() {
        RegistryException e = assertThrows(
                RegistryException.class,
                () -> inspector.inspect(tmp.resolve("nope.gguf").toString(), null, null));
        assertEquals("artifact_not_found", e.code());
        assertTrue(e.getMessage().contains("no file at"), e.getMessage());
        e = assertThrows(RegistryException.class, () -> inspector.inspect("models/stories260K.gguf", null, null));
        assertTrue(e.getMessage().contains("must be absolute"), e.getMessage());
        e = assertThrows(RegistryException.class, () -> inspector.inspect(tmp.toString(), null, null));
        assertTrue(e.getMessage().contains("not a regular file"), e.getMessage());
        e = assertThrows(RegistryException.class, () -> inspector.inspect(" ", null, null));
        assertEquals("path", e.param());
        e = assertThrows(RegistryException.class, () -> inspector.inspect("/tmp/bad\0name", null, null));
        assertEquals(RegistryException.Kind.BAD_REQUEST, e.kind());
    }

    @Test
    void garbagePosingAsGgufIsRefused() throws IOException {
        byte[] noise = new byte[4096];
        new Random(1).nextBytes(noise);
        Path garbage = Files.write(tmp.resolve("model.gguf"), noise);
        RegistryException e =
                assertThrows(RegistryException.class, () -> inspector.inspect(garbage.toString(), null, null));
        assertEquals(RegistryException.Kind.BAD_REQUEST, e.kind());
        assertEquals("unreadable_artifact", e.code());
        assertTrue(e.getMessage().contains("not a GGUF file"), e.getMessage());
        assertTrue(e.getMessage().contains("LLAMA2C"), e.getMessage());
    }

    @Test
    void ggufMagicWithCorruptHeaderIsRefused() throws IOException {
        // Valid magic and version, then an absurd metadata count.
        ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {'G', 'G', 'U', 'F'}).putInt(3).putLong(1).putLong(1L << 40);
        Path corrupt = Files.write(tmp.resolve("corrupt.gguf"), b.array());
        RegistryException e =
                assertThrows(RegistryException.class, () -> inspector.inspect(corrupt.toString(), null, null));
        assertEquals("unreadable_artifact", e.code());
        assertTrue(e.getMessage().startsWith("cannot read " + corrupt + " as a GGUF model: "), e.getMessage());
    }

    @Test
    void truncatedGgufIsRefused() throws IOException {
        byte[] whole = Files.readAllBytes(TestFiles.storiesGguf());
        Path truncated = Files.write(tmp.resolve("truncated.gguf"), Arrays.copyOf(whole, whole.length / 2));
        RegistryException e =
                assertThrows(RegistryException.class, () -> inspector.inspect(truncated.toString(), null, null));
        assertEquals("unreadable_artifact", e.code());
        assertTrue(e.getMessage().contains("outside the file") || e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void measuresLlama2cCheckpointWhenNamed() {
        Path bin = TestFiles.storiesLlama2c();
        ArtifactFacts f = inspector.inspect(bin.toString(), ArtifactFormat.LLAMA2C, null);
        assertEquals(ArtifactFormat.LLAMA2C, f.format());
        assertEquals("llama", f.architecture());
        assertEquals("F32", f.quantization());
        // dim 64, hidden 172, 5 layers, 8 heads, 4 kv heads, vocab 512 (shared classifier): the weights
        // add up to 260,032 floats; the file also holds 4,096 floats of RoPE tables, which are not parameters.
        assertEquals(260_032, f.parameterCount());
        assertEquals(1_056_540, f.sizeBytes());
        assertEquals("b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696", f.sha256());
    }

    @Test
    void llama2cCheckpointWithoutFormatGetsAHint() {
        RegistryException e = assertThrows(
                RegistryException.class,
                () -> inspector.inspect(TestFiles.storiesLlama2c().toString(), null, null));
        assertTrue(e.getMessage().contains("pass format LLAMA2C"), e.getMessage());
    }

    @Test
    void truncatedLlama2cAndFormatMismatchAreRefused() throws IOException {
        byte[] whole = Files.readAllBytes(TestFiles.storiesLlama2c());
        Path truncated = Files.write(tmp.resolve("truncated.bin"), Arrays.copyOf(whole, whole.length - 4));
        RegistryException e = assertThrows(
                RegistryException.class, () -> inspector.inspect(truncated.toString(), ArtifactFormat.LLAMA2C, null));
        assertTrue(e.getMessage().contains("1056536 bytes but its llama2.c header describes 1056540"), e.getMessage());

        e = assertThrows(
                RegistryException.class,
                () -> inspector.inspect(TestFiles.storiesGguf().toString(), ArtifactFormat.LLAMA2C, null));
        assertEquals("format_mismatch", e.code());

        Path tiny = Files.write(tmp.resolve("tiny.bin"), new byte[] {1, 2, 3});
        e = assertThrows(
                RegistryException.class, () -> inspector.inspect(tiny.toString(), ArtifactFormat.LLAMA2C, null));
        assertTrue(e.getMessage().contains("shorter than the 28-byte llama2.c header"), e.getMessage());
    }

    @Test
    void configuredRootsConfineRegistrableFiles() throws IOException {
        Path allowed = Files.createDirectories(tmp.resolve("models"));
        Path inside = Files.copy(TestFiles.storiesGguf(), allowed.resolve("stories.gguf"));
        Path outsideDir = Files.createDirectories(tmp.resolve("elsewhere"));
        Path outside = Files.copy(TestFiles.storiesGguf(), outsideDir.resolve("stories.gguf"));
        Path escape = Files.createSymbolicLink(allowed.resolve("escape.gguf"), outside);
        ArtifactInspector confined = new ArtifactInspector();
        confined.artifactRoots = java.util.Optional.of(" /does/not/exist , " + allowed + " ");

        assertEquals(
                TestFiles.STORIES_SHA256,
                confined.inspect(inside.toString(), null, null).sha256());
        RegistryException e =
                assertThrows(RegistryException.class, () -> confined.inspect(outside.toString(), null, null));
        assertEquals("path_not_allowed", e.code());
        assertTrue(e.getMessage().contains(allowed.toString()), e.getMessage());
        // A link inside the root pointing outside it is judged by where it really leads.
        assertEquals(
                "path_not_allowed",
                assertThrows(RegistryException.class, () -> confined.inspect(escape.toString(), null, null))
                        .code());
        // Unset or blank: any readable file.
        ArtifactInspector open = new ArtifactInspector();
        open.artifactRoots = java.util.Optional.of(" ");
        assertEquals(
                TestFiles.STORIES_SHA256,
                open.inspect(outside.toString(), null, null).sha256());
    }

    @Test
    void aWorkingChatTemplateIsAccepted() throws IOException {
        Path chatml = TemplatedGguf.copy(
                TestFiles.storiesGguf(),
                tmp.resolve("chatml.gguf"),
                "{% for m in messages %}"
                        + "{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}"
                        + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}");
        assertEquals(
                TestFiles.STORIES_PARAMETERS,
                inspector.inspect(chatml.toString(), null, null).parameterCount());
    }

    @Test
    void aBrokenChatTemplateIsRefusedAtRegistration() throws IOException {
        for (String[] broken : new String[][] {
            {"{% for m in messages %}{{ m['content'] }}", "Missing end tag"},
            {"{{ messages[0]['content'] + }}", "Error parsing"},
            {"{% include 'chat.j2' %}", "'include' is disabled"},
            {"{{ raise_exception('not a chat model') }}", "not a chat model"},
            {
                "{% for a in range(100000) %}{% for b in range(100000) %}{{ a }}{% endfor %}{% endfor %}",
                "exceeded a limit"
            }
        }) {
            Path file = TemplatedGguf.copy(
                    TestFiles.storiesGguf(), tmp.resolve("broken-" + broken[1].hashCode() + ".gguf"), broken[0]);
            RegistryException e = assertThrows(
                    RegistryException.class, () -> inspector.inspect(file.toString(), null, null), broken[0]);
            assertEquals(RegistryException.Kind.BAD_REQUEST, e.kind());
            assertEquals("invalid_chat_template", e.code(), e.getMessage());
            assertTrue(
                    e.getMessage().contains("tokenizer.chat_template")
                            && e.getMessage().contains(broken[1]),
                    e.getMessage());
        }
    }

    @Test
    void aGgufTheEngineCannotServeIsRefusedAtRegistration() throws IOException {
        // No tokenizer: the header is fine, but nothing could tokenize a prompt for it.
        Path noTokenizer = tmp.resolve("no-tokenizer.gguf");
        try (dev.anvil.engine.GgufFile in = dev.anvil.engine.GgufFile.open(TestFiles.storiesGguf());
                dev.anvil.engine.GgufWriter out = new dev.anvil.engine.GgufWriter(noTokenizer)) {
            out.putString("general.architecture", "llama");
            for (String key : new String[] {
                "llama.context_length",
                "llama.embedding_length",
                "llama.feed_forward_length",
                "llama.attention.head_count",
                "llama.attention.head_count_kv",
                "llama.block_count",
                "llama.rope.dimension_count"
            }) {
                out.putUInt32(key, in.getInt(key));
            }
            for (dev.anvil.engine.GgufFile.Tensor t : in.tensors().values())
                out.addTensor(t.name(), t.type(), t.shape());
            for (dev.anvil.engine.GgufFile.Tensor t : in.tensors().values()) {
                out.beginTensor(t.name());
                byte[] bytes = t.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                out.write(bytes, 0, bytes.length);
            }
        }
        RegistryException e =
                assertThrows(RegistryException.class, () -> inspector.inspect(noTokenizer.toString(), null, null));
        assertEquals("unreadable_artifact", e.code());
        assertTrue(e.getMessage().contains("no tokenizer"), e.getMessage());
    }

    @Test
    void theRegistryRefusesWhatTheEngineRefusesForTheSameReason() throws IOException {
        byte[] gguf = Files.readAllBytes(TestFiles.storiesGguf());
        byte[] badMagic = gguf.clone();
        badMagic[0] = 'X';
        assertSameRefusal(Files.write(tmp.resolve("bad-magic.gguf"), badMagic), null, "not a GGUF file");
        byte[] version7 = gguf.clone();
        ByteBuffer.wrap(version7).order(ByteOrder.LITTLE_ENDIAN).putInt(4, 7);
        assertSameRefusal(Files.write(tmp.resolve("v7.gguf"), version7), ArtifactFormat.GGUF, "GGUF version 7");

        byte[] llama2c = Files.readAllBytes(TestFiles.storiesLlama2c());
        // dim 64 with 7 heads: no whole head size.
        assertSameRefusal(
                llama2cWith(llama2c, 3, 7, "7-heads.bin"), ArtifactFormat.LLAMA2C, "not divisible by 7 heads");
        // no layers at all
        assertSameRefusal(llama2cWith(llama2c, 2, 0, "0-layers.bin"), ArtifactFormat.LLAMA2C, "n_layers 0");
        // 8 query heads over 3 key/value heads
        assertSameRefusal(llama2cWith(llama2c, 4, 3, "3-kv-heads.bin"), ArtifactFormat.LLAMA2C, "not a multiple");
        // a context length beyond what the engine accepts
        assertSameRefusal(llama2cWith(llama2c, 6, 1 << 23, "long.bin"), ArtifactFormat.LLAMA2C, "seq_len 8388608");
        // a header for more layers than the file holds
        assertSameRefusal(llama2cWith(llama2c, 2, 6, "6-layers.bin"), ArtifactFormat.LLAMA2C, "(truncated)");
    }

    private Path llama2cWith(byte[] checkpoint, int field, int value, String name) throws IOException {
        byte[] mutant = checkpoint.clone();
        ByteBuffer.wrap(mutant).order(ByteOrder.LITTLE_ENDIAN).putInt(4 * field, value);
        return Files.write(tmp.resolve(name), mutant);
    }

    /**
     * The engine's loader refuses {@code file}; its header reader (the one both the loader and registration use)
     * gives a reason containing {@code expected}, and registration refuses the file with that same reason.
     */
    private void assertSameRefusal(Path file, ArtifactFormat format, String expected) {
        java.util.concurrent.ThreadFactory compute =
                Thread.ofPlatform().daemon().factory();
        assertThrows(
                UnsupportedModelException.class,
                () -> LlamaModel.load(file, compute, 1).close());
        UnsupportedModelException engine = assertThrows(
                UnsupportedModelException.class,
                () -> {
                    if (format == ArtifactFormat.LLAMA2C) Llama2cHeader.read(file);
                    else GgufFile.open(file).close();
                },
                file.toString());
        String reason = engine.getMessage().substring((file + ": ").length());
        assertTrue(engine.getMessage().startsWith(file + ": ") && reason.contains(expected), engine.getMessage());
        RegistryException registry =
                assertThrows(RegistryException.class, () -> inspector.inspect(file.toString(), format, null));
        assertEquals("unreadable_artifact", registry.code());
        assertTrue(registry.getMessage().contains(": " + reason), registry.getMessage() + " vs " + reason);
    }
}
