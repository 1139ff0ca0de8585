package dev.anvil.api.openai;

import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.container.ContainerResponseContext;
import jakarta.ws.rs.container.ContainerResponseFilter;
import jakarta.ws.rs.ext.Provider;

/**
 * Puts {@link CostRouting}'s decision into the response's headers ({@code X-Anvil-Routed-Model},
 * {@code X-Anvil-Route-Reason}, {@code X-Anvil-Cascade}, {@code X-Anvil-Cascade-Check}), on answers and refusals
 * alike, from the request attributes routing set; requests no router chose carry none.
 */
@Provider
public class RouteHeadersFilter implements ContainerResponseFilter {

    private static final String[] HEADERS = {
        CostRouting.MODEL_HEADER, CostRouting.REASON_HEADER, CostRouting.CASCADE_HEADER, CostRouting.CHECK_HEADER
    };

    @Override
    public void filter(ContainerRequestContext request, ContainerResponseContext response) {
        for (String header : HEADERS) {
            if (request.getProperty(CostRouting.ATTRIBUTE + header) instanceof String value) {
                response.getHeaders().putSingle(header, value);
            }
        }
    }
}
