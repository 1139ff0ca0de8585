package dev.anvil.api;

import jakarta.ws.rs.Path;
import jakarta.ws.rs.container.ResourceInfo;
import jakarta.ws.rs.core.MultivaluedMap;
import java.lang.reflect.Method;

/**
 * The endpoint a request invoked, as its path template ({@code /api/registry/models/{name}}): what metrics, usage
 * rows and audit rows name, never the raw request path (which a caller spells as it likes: matrix parameters,
 * percent-encoding, extra slashes).
 */
public final class EndpointTemplate {

    /** What {@link #of(ResourceInfo)} answers when no resource method matched (404, 405). */
    public static final String UNMATCHED = "unmatched";

    private EndpointTemplate() {}

    /** The matched resource method's template, or {@link #UNMATCHED}. */
    public static String of(ResourceInfo resource) {
        Class<?> type = resource == null ? null : resource.getResourceClass();
        Method method = resource == null ? null : resource.getResourceMethod();
        return type == null || method == null ? UNMATCHED : of(type, method);
    }

    /**
     * The invoked endpoint with its path parameters filled in as the resource received them (decoded), e.g.
     * {@code /api/registry/models/stories260k/versions/1.0.0/stage}: the same text however the caller spelled the path.
     */
    public static String concrete(String template, MultivaluedMap<String, String> pathParameters) {
        if (template.indexOf('{') < 0) {
            return template;
        }
        StringBuilder out = new StringBuilder(template.length() + 32);
        int at = 0;
        while (at < template.length()) {
            int open = template.indexOf('{', at);
            if (open < 0) {
                out.append(template, at, template.length());
                break;
            }
            int close = template.indexOf('}', open);
            out.append(template, at, open);
            String spec = template.substring(open + 1, close);
            int colon = spec.indexOf(':');
            String name = (colon < 0 ? spec : spec.substring(0, colon)).strip();
            String value = pathParameters == null ? null : pathParameters.getFirst(name);
            out.append(value == null ? "{" + name + "}" : value);
            at = close + 1;
        }
        return out.toString();
    }

    public static String of(Class<?> type, Method method) {
        String template = join(pathOf(type.getAnnotation(Path.class)), pathOf(method.getAnnotation(Path.class)));
        return template.isEmpty() ? "/" : template;
    }

    private static String pathOf(Path path) {
        return path == null ? "" : path.value();
    }

    private static String join(String left, String right) {
        if (right.isEmpty() || right.equals("/")) {
            return left;
        }
        String trimmedLeft = left.endsWith("/") ? left.substring(0, left.length() - 1) : left;
        return trimmedLeft + (right.startsWith("/") ? right : "/" + right);
    }
}
