package dev.anvil.api.drift;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.anvil.drift.DriftFeature;
import java.util.Arrays;
import java.util.List;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.junit.jupiter.api.Test;

class DriftJsonTest {

    @Test
    void theOpenApiEnumerationOfFeaturesIsEveryFeatureTheApiReturns() throws Exception {
        Schema schema = DriftJson.Feature.class.getDeclaredField("feature").getAnnotation(Schema.class);
        assertNotNull(schema, "the feature field documents its values");
        List<String> returned =
                Arrays.stream(DriftFeature.values()).map(DriftFeature::wireName).toList();
        assertEquals(returned, List.of(schema.enumeration()));
    }
}
