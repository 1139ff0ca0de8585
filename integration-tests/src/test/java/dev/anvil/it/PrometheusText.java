package dev.anvil.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reading application metrics from a server's {@code /metrics} (Prometheus text format) in integration tests. */
public final class PrometheusText {

    private PrometheusText() {}

    /** The server's application-scope metrics text. */
    public static String application(AnvilServer server) {
        HttpResult r = server.get("/metrics?scope=application");
        assertEquals(200, r.status(), r::toString);
        return r.body();
    }

    /**
     * Sum of every series of {@code name} in {@code metrics} whose labels contain each of {@code labels} (e.g.
     * {@code model="x"}); an AssertionError when there is none.
     */
    public static double sum(String metrics, String name, String... labels) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "(\\{[^}]*})? ([-0-9.eE+]+|NaN)$")
                .matcher(metrics);
        double total = 0;
        boolean found = false;
        while (m.find()) {
            String l = m.group(1) == null ? "" : m.group(1);
            boolean all = true;
            for (String label : labels) all &= l.contains(label);
            if (!all) continue;
            found = true;
            total += Double.parseDouble(m.group(2));
        }
        if (!found) throw new AssertionError("no series " + name + " " + List.of(labels) + " in /metrics");
        return total;
    }

    /** {@link #sum(String, String, String...)} over {@code server}'s application metrics now. */
    public static double sum(AnvilServer server, String name, String... labels) {
        try {
            return sum(application(server), name, labels);
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + " of " + server.baseUri(), e);
        }
    }
}
