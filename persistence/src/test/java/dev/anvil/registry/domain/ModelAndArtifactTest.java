package dev.anvil.registry.domain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ModelAndArtifactTest {

    private static final Instant NOW = Instant.parse("2026-01-01T00:00:00Z");

    @Test
    void ownerDefaultsToCreatorAndTagsAreSortedAndDeduplicated() {
        Model m = new Model("stories-260k", "  TinyStories  ", " ", List.of("tiny", "llama", "tiny"), "alice", NOW);
        assertEquals("alice", m.owner());
        assertEquals("TinyStories", m.description());
        assertEquals(List.of("llama", "tiny"), List.copyOf(m.tags()));
        assertEquals("bob", new Model("m", null, "bob", null, "alice", NOW).owner());
        assertEquals(Set.of(), new Model("m", null, null, null, "alice", NOW).tags());
    }

    @Test
    void freeTextWithANulCharacterIsRefused() {
        // PostgreSQL cannot store U+0000; the field is named instead of the insert failing.
        InvalidRegistryFieldException e = assertThrows(
                InvalidRegistryFieldException.class, () -> new Model("m", "nul\u0000inside", null, null, "alice", NOW));
        assertEquals("description", e.field());
    }

    @Test
    void modelNamesMustBeUrlSafe() {
        for (String bad : new String[] {"", "-lead", "has space", "slash/name", "x".repeat(129), "ünï"}) {
            InvalidRegistryFieldException e = assertThrows(
                    InvalidRegistryFieldException.class, () -> new Model(bad, null, null, null, "alice", NOW), bad);
            assertEquals("name", e.field());
        }
        assertEquals("a".repeat(128), new Model("a".repeat(128), null, null, null, "a", NOW).name());
        assertThrows(InvalidRegistryFieldException.class, () -> new Model(null, null, null, null, "alice", NOW));
    }

    @Test
    void tagsAreValidatedAndBounded() {
        InvalidRegistryFieldException e = assertThrows(
                InvalidRegistryFieldException.class,
                () -> new Model("m", null, null, List.of("ok", "not ok"), "alice", NOW));
        assertEquals("tags", e.field());
        List<String> many = java.util.stream.IntStream.range(0, Model.MAX_TAGS + 1)
                .mapToObj(i -> "t" + i)
                .toList();
        assertThrows(InvalidRegistryFieldException.class, () -> new Model("m", null, null, many, "alice", NOW));
    }

    @Test
    void artifactChecksumMustBeLowercaseHex() {
        String sha = "0123456789abcdef".repeat(4);
        Artifact a = new Artifact("/m.gguf", ArtifactFormat.GGUF, sha, 10, "llama", "F32", 100);
        assertEquals(sha, a.sha256());
        InvalidRegistryFieldException e = assertThrows(
                InvalidRegistryFieldException.class,
                () -> new Artifact("/m.gguf", ArtifactFormat.GGUF, sha.toUpperCase(), 10, "llama", "F32", 100));
        assertEquals("sha256", e.field());
        assertEquals(sha, Artifact.normalizeSha256(" " + sha.toUpperCase() + " "));
        e = assertThrows(InvalidRegistryFieldException.class, () -> Artifact.normalizeSha256("abc"));
        assertTrue(e.getMessage().contains("64 hexadecimal"), e.getMessage());
    }

    @Test
    void artifactRejectsMissingOrNegativeFacts() {
        String sha = "f".repeat(64);
        assertThrows(
                InvalidRegistryFieldException.class,
                () -> new Artifact(" ", ArtifactFormat.GGUF, sha, 1, "llama", "F32", 1));
        assertThrows(
                InvalidRegistryFieldException.class,
                () -> new Artifact("/m", ArtifactFormat.GGUF, sha, -1, "llama", "F32", 1));
        assertThrows(
                InvalidRegistryFieldException.class,
                () -> new Artifact("/m", ArtifactFormat.GGUF, sha, 1, "", "F32", 1));
        assertThrows(
                InvalidRegistryFieldException.class,
                () -> new Artifact("/m", ArtifactFormat.GGUF, sha, 1, "llama", null, 1));
        assertThrows(
                InvalidRegistryFieldException.class,
                () -> new Artifact("/m", ArtifactFormat.GGUF, sha, 1, "llama", "F32", -5));
    }

    @Test
    void formatParsing() {
        assertEquals(ArtifactFormat.LLAMA2C, ArtifactFormat.parse("llama2c"));
        InvalidRegistryFieldException e =
                assertThrows(InvalidRegistryFieldException.class, () -> ArtifactFormat.parse("onnx"));
        assertEquals("format", e.field());
    }
}
