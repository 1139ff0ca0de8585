package dev.anvil.routing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.json.bind.JsonbBuilder;
import java.util.List;
import org.junit.jupiter.api.Test;

class RouterSpecTest {

    private static RouterSpec.Candidate model(String name) {
        return new RouterSpec.Candidate(name, null, null, null, null, null);
    }

    private static void assertProblem(RouterSpec spec, String name, String part) {
        List<String> problems = spec.problems(name, RouterSpec.Limits.DEFAULT);
        assertTrue(problems.stream().anyMatch(p -> p.contains(part)), problems + " should mention " + part);
    }

    @Test
    void aValidDefinitionHasNoProblems() {
        RouterSpec spec = new RouterSpec(
                List.of(new RouterSpec.Candidate("small", 100, 64, 0.4, 20, 5), model("large")),
                List.of(new RouterSpec.TenantPolicy("acme", List.of("large"))),
                new RouterSpec.Cascade(true, -1.2, true, false));
        assertEquals(List.of(), spec.problems("auto", RouterSpec.Limits.DEFAULT));
        assertEquals("large", spec.largest());
    }

    @Test
    void badDefinitionsSayWhatToFix() {
        assertProblem(new RouterSpec(null, null, null), "auto", "at least one model");
        assertProblem(new RouterSpec(List.of(model("auto")), null, null), "auto", "itself");
        assertProblem(new RouterSpec(List.of(model("a"), model("a")), null, null), "auto", "repeats");
        assertProblem(new RouterSpec(List.of(model("a@1.0.0")), null, null), "auto", "no '@version'");
        assertProblem(new RouterSpec(List.of(model("a")), null, null), "bad name!", "router name");
        assertProblem(
                new RouterSpec(List.of(new RouterSpec.Candidate("a", 0, null, null, null, null)), null, null),
                "auto",
                "maxPromptTokens must be at least 1");
        assertProblem(
                new RouterSpec(List.of(new RouterSpec.Candidate("a", null, null, 1.5, null, null)), null, null),
                "auto",
                "maxComplexity");
        assertProblem(
                new RouterSpec(List.of(model("a")), List.of(new RouterSpec.TenantPolicy("t", List.of("b"))), null),
                "auto",
                "not a candidate");
        assertProblem(
                new RouterSpec(List.of(model("a")), null, new RouterSpec.Cascade(true, null, null, null)),
                "auto",
                "two candidates");
        assertProblem(
                new RouterSpec(List.of(model("a"), model("b")), null, new RouterSpec.Cascade(true, 0.5, null, null)),
                "auto",
                "at most 0");
        List<RouterSpec.Candidate> many = new java.util.ArrayList<>();
        for (int i = 0; i <= RouterSpec.Limits.DEFAULT.maxCandidates(); i++) many.add(model("m" + i));
        assertProblem(new RouterSpec(many, null, null), "auto", "at most " + RouterSpec.Limits.DEFAULT.maxCandidates());
    }

    @Test
    void theStoredJsonReadsBackTheSame() throws Exception {
        RouterSpec spec = new RouterSpec(
                List.of(new RouterSpec.Candidate("small", 100, null, 0.4, 20, null), model("large")),
                List.of(new RouterSpec.TenantPolicy("acme", List.of("large"))),
                new RouterSpec.Cascade(true, -1.2, null, false));
        try (var jsonb = JsonbBuilder.create()) {
            String json = jsonb.toJson(spec);
            assertEquals(spec, RouterAdmin.parse(json));
        }
    }
}
