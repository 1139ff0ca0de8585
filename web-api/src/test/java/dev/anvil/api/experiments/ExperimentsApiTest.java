package dev.anvil.api.experiments;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.api.ApiException;
import dev.anvil.experiments.CreateExperimentCommand;
import dev.anvil.experiments.ExperimentException;
import jakarta.json.bind.Jsonb;
import jakarta.json.bind.JsonbBuilder;
import org.junit.jupiter.api.Test;

class ExperimentsApiTest {

    @Test
    void failureKindsMapToStatuses() {
        // (Building a Response needs a JAX-RS runtime; the status and type tables are what the mapper adds.)
        assertEquals(409, dev.anvil.api.error.ServiceExceptionMapper.status(ExperimentException.Kind.CONFLICT));
        assertEquals(400, dev.anvil.api.error.ServiceExceptionMapper.status(ExperimentException.Kind.BAD_REQUEST));
        assertEquals(
                "conflict_error", dev.anvil.api.error.ServiceExceptionMapper.type(ExperimentException.Kind.CONFLICT));
        assertEquals(404, dev.anvil.api.error.ServiceExceptionMapper.status(ExperimentException.Kind.NOT_FOUND));
        assertEquals(503, dev.anvil.api.error.ServiceExceptionMapper.status(ExperimentException.Kind.UNAVAILABLE));
    }

    @Test
    void createRequestMapsToCommand() {
        String json = """
                {"name":"e1","model":"m","strategy":"AB","primaryMetric":"error_rate","minimumSample":50,
                 "variants":[{"name":"a","modelVersion":"1.0.0","weightPercent":60,"control":true},
                             {"name":"b","modelVersion":"1.1.0","weightPercent":40,"temperature":0.2}]}""";
        try (Jsonb jsonb = JsonbBuilder.create()) {
            ExperimentRequests.Create request = jsonb.fromJson(json, ExperimentRequests.Create.class);
            CreateExperimentCommand c = ExperimentsResource.command(request);
            assertEquals("e1", c.name());
            assertEquals(50, c.minimumSample());
            assertEquals(2, c.variants().size());
            assertTrue(c.variants().get(0).control());
            assertFalse(c.variants().get(1).control(), "absent control flag means not the control");
            assertEquals(0.2, c.variants().get(1).temperature());
            ExperimentRequests.Feedback f =
                    jsonb.fromJson("{\"response_id\":\"chatcmpl-1\",\"rating\":-1}", ExperimentRequests.Feedback.class);
            assertEquals("chatcmpl-1", f.responseId());
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        assertThrows(ApiException.class, () -> ApiException.requireBody(null));
        assertThrows(
                ApiException.class,
                () -> ExperimentsResource.command(new ExperimentRequests.Create(
                        "e",
                        "m",
                        "AB",
                        null,
                        "cost",
                        null,
                        null,
                        null,
                        null,
                        null,
                        java.util.Arrays.asList((ExperimentRequests.Variant) null))));
        assertEquals(
                null,
                ExperimentsResource.command(new ExperimentRequests.Create(
                                "e", "m", "AB", null, "cost", null, null, null, null, null, null))
                        .variants());
    }
}
