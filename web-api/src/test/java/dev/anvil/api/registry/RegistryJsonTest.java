package dev.anvil.api.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.registry.ModelVersionInfo;
import dev.anvil.registry.RegistryException;
import dev.anvil.registry.TransitionInfo;
import dev.anvil.registry.domain.ArtifactFormat;
import dev.anvil.registry.domain.Stage;
import jakarta.json.bind.Jsonb;
import jakarta.json.bind.JsonbBuilder;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** The registry's JSON shapes as JSON-B (Yasson, WildFly's default) writes and reads them. */
class RegistryJsonTest {

    private static final Jsonb JSONB = JsonbBuilder.create();

    @AfterAll
    static void close() throws Exception {
        JSONB.close();
    }

    @Test
    void registrationEntryHasAnExplicitNullFrom() {
        TransitionInfo registered = new TransitionInfo(
                "m", "1.0.0", null, Stage.NONE, "alice", Instant.parse("2026-01-02T03:04:05.123456Z"), "registered");
        String json = JSONB.toJson(TransitionJson.of(registered));
        assertEquals(
                "{\"model\":\"m\",\"version\":\"1.0.0\",\"from\":null,\"to\":\"NONE\",\"actor\":\"alice\","
                        + "\"at\":\"2026-01-02T03:04:05.123456Z\",\"reason\":\"registered\"}",
                json);
    }

    @Test
    void versionCarriesTheMeasuredFacts() {
        ModelVersionInfo v = new ModelVersionInfo(
                "m",
                "1.0.0",
                null,
                "/m.gguf",
                ArtifactFormat.GGUF,
                "a".repeat(64),
                1185376,
                "llama",
                "F32",
                292800,
                Stage.PRODUCTION,
                Instant.parse("2026-01-01T00:00:00Z"),
                "alice",
                Instant.parse("2026-01-02T00:00:00Z"),
                "bob");
        String json = JSONB.toJson(ModelVersionJson.of(v));
        assertTrue(
                json.startsWith(
                        "{\"model\":\"m\",\"version\":\"1.0.0\",\"description\":null,\"stage\":\"PRODUCTION\",\"path\":\"/m.gguf\",\"format\":\"GGUF\""),
                json);
        assertTrue(
                json.contains("\"sizeBytes\":1185376")
                        && json.contains("\"parameterCount\":292800")
                        && json.contains("\"quantization\":\"F32\"")
                        && json.contains("\"promotedBy\":\"bob\""),
                json);
    }

    @Test
    void requestsAreReadFromJson() {
        RegisterVersionRequest r = JSONB.fromJson(
                "{\"version\":\"1.2.3\",\"path\":\"/x.gguf\",\"sha256\":\"ab\",\"tags\":[\"a\"]," + "\"unknown\":1}",
                RegisterVersionRequest.class);
        assertEquals("1.2.3", r.version());
        assertEquals("/x.gguf", r.path());
        assertEquals("ab", r.sha256());
        assertEquals(List.of("a"), r.tags());
        assertNull(r.format());
        StageChangeRequest s = JSONB.fromJson("{\"stage\":\"PRODUCTION\",\"reason\":\"go\"}", StageChangeRequest.class);
        assertEquals("PRODUCTION", s.stage());
        assertEquals("go", s.reason());
    }

    @Test
    void failureKindsMapToStatusesAndErrorTypes() {
        assertEquals(400, dev.anvil.api.error.ServiceExceptionMapper.status(RegistryException.Kind.BAD_REQUEST));
        assertEquals(404, dev.anvil.api.error.ServiceExceptionMapper.status(RegistryException.Kind.NOT_FOUND));
        assertEquals(409, dev.anvil.api.error.ServiceExceptionMapper.status(RegistryException.Kind.CONFLICT));
        assertEquals(503, dev.anvil.api.error.ServiceExceptionMapper.status(RegistryException.Kind.UNAVAILABLE));
        assertEquals(
                "invalid_request_error",
                dev.anvil.api.error.ServiceExceptionMapper.type(RegistryException.Kind.BAD_REQUEST));
        assertEquals(
                "not_found_error", dev.anvil.api.error.ServiceExceptionMapper.type(RegistryException.Kind.NOT_FOUND));
        assertEquals(
                "conflict_error", dev.anvil.api.error.ServiceExceptionMapper.type(RegistryException.Kind.CONFLICT));
        assertEquals(
                "service_unavailable_error",
                dev.anvil.api.error.ServiceExceptionMapper.type(RegistryException.Kind.UNAVAILABLE));
    }

    @Test
    void errorBodyCarriesMessageParamAndCode() {
        String json = JSONB.toJson(dev.anvil.api.ApiErrors.body(
                dev.anvil.api.error.ServiceExceptionMapper.type(RegistryException.Kind.CONFLICT),
                "model m already has a version 1.0.0",
                "version",
                "version_exists"));
        assertEquals(
                "{\"error\":{\"message\":\"model m already has a version 1.0.0\",\"type\":\"conflict_error\","
                        + "\"param\":\"version\",\"code\":\"version_exists\"}}",
                json);
    }
}
