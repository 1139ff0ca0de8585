package dev.anvil.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import jakarta.ws.rs.core.MultivaluedHashMap;
import org.junit.jupiter.api.Test;

class EndpointTemplateTest {

    @Test
    void theConcreteEndpointFillsInThePathParametersAsTheResourceReceivedThem() {
        MultivaluedHashMap<String, String> params = new MultivaluedHashMap<>();
        params.add("name", "stories260k");
        params.add("version", "1.0.0");
        assertEquals(
                "/api/registry/models/stories260k/versions/1.0.0/stage",
                EndpointTemplate.concrete("/api/registry/models/{name}/versions/{version}/stage", params));
        params.add("id", "a/b");
        assertEquals("/v1/models/a/b", EndpointTemplate.concrete("/v1/models/{id: .+}", params));
        assertEquals("/api/gateway/audit", EndpointTemplate.concrete("/api/gateway/audit", params));
        assertEquals("/x/{missing}", EndpointTemplate.concrete("/x/{missing}", params));
    }
}
