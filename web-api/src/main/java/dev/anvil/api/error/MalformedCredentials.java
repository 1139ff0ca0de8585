package dev.anvil.api.error;

import io.undertow.server.HttpHandler;
import io.undertow.server.HttpServerExchange;
import io.undertow.servlet.ServletExtension;
import io.undertow.servlet.api.DeploymentInfo;
import io.undertow.util.Headers;
import jakarta.servlet.ServletContext;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * An {@code Authorization: Basic} header that is not base64 of {@code user:password} made Elytron's BASIC mechanism
 * throw while authenticating proactively (before any filter or JAX-RS mapper runs), and Undertow answered 500 with an
 * HTML page. This handler runs before the security handlers (an outer handler of the deployment, registered as a
 * {@link ServletExtension}) and answers such a header with the 401 the admin API gives for missing credentials, in
 * OpenAI's error shape. Well-formed credentials, and every other header, pass untouched: who may call what is
 * decided where it was (Elytron, {@code AdminAccessFilter}, {@code ApiKeyFilter}).
 */
public class MalformedCredentials implements ServletExtension {

    private static final String BODY =
            "{\"error\":{\"message\":\"the Authorization header holds malformed Basic credentials: "
                    + "expected 'Basic ' and the base64 of user:password\",\"type\":\"invalid_request_error\",\"param\":null,"
                    + "\"code\":\"invalid_authorization_header\"}}";
    private static final String CHALLENGE = "Basic realm=\"anvil\", charset=\"UTF-8\"";

    @Override
    public void handleDeployment(DeploymentInfo deployment, ServletContext servletContext) {
        deployment.addOuterHandlerChainWrapper(Refusal::new);
    }

    /** Whether Elytron's BASIC mechanism could read the header: base64 (padding optional) of text with a colon. */
    static boolean wellFormed(String authorization) {
        String value = authorization.strip();
        if (value.length() < 5 || !value.regionMatches(true, 0, "Basic", 0, 5)) return true; // not Basic: not ours
        if (value.length() > 5 && !Character.isWhitespace(value.charAt(5)))
            return true; // e.g. "Basically": another scheme
        String token = value.substring(5).strip();
        try {
            byte[] decoded = Base64.getDecoder().decode(token);
            return !token.isEmpty() && new String(decoded, StandardCharsets.UTF_8).indexOf(':') >= 0;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static final class Refusal implements HttpHandler {
        private final HttpHandler next;

        Refusal(HttpHandler next) {
            this.next = next;
        }

        @Override
        public void handleRequest(HttpServerExchange exchange) throws Exception {
            for (String authorization : exchange.getRequestHeaders().get(Headers.AUTHORIZATION) == null
                    ? java.util.List.<String>of()
                    : exchange.getRequestHeaders().get(Headers.AUTHORIZATION)) {
                if (!wellFormed(authorization)) {
                    exchange.setStatusCode(401);
                    exchange.getResponseHeaders().put(Headers.WWW_AUTHENTICATE, CHALLENGE);
                    exchange.getResponseHeaders().put(Headers.CONTENT_TYPE, "application/json");
                    exchange.getResponseSender().send(BODY, StandardCharsets.UTF_8);
                    return;
                }
            }
            next.handleRequest(exchange);
        }
    }
}
