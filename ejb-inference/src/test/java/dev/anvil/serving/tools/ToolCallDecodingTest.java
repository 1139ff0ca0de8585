package dev.anvil.serving.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.engine.Batch;
import dev.anvil.engine.Generation;
import dev.anvil.engine.GrammarConstraint;
import dev.anvil.engine.Json;
import dev.anvil.engine.KvCachePool;
import dev.anvil.engine.LlamaModel;
import dev.anvil.engine.SamplingParams;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The real tiny model (stories260K, which knows nothing of tools) decoding under each syntax's forced tool grammar:
 * whatever it samples, the answer reads back as calls to the allowed functions whose arguments follow the schemas.
 */
class ToolCallDecodingTest {

    static final Path STORIES = Path.of("../models/stories260K.gguf");
    static final String CITY = """
            {"type": "object", "properties": {"city": {"type": "string", "enum": ["Paris", "Rome"]}},
             "required": ["city"], "additionalProperties": false}""";
    static final String UNIT = """
            {"type": "object", "properties": {"unit": {"type": "string", "enum": ["celsius", "kelvin"]},
             "days": {"type": "integer", "minimum": 1, "maximum": 7}}, "required": ["unit", "days"],
             "additionalProperties": false}""";

    @ParameterizedTest
    @EnumSource(ToolCallSyntax.class)
    void forcedCallsOfTheTinyModelAreValid(ToolCallSyntax syntax) throws Exception {
        assertTrue(Files.isRegularFile(STORIES), STORIES.toAbsolutePath().toString());
        List<ToolGrammar.Function> functions =
                List.of(new ToolGrammar.Function("get_weather", CITY), new ToolGrammar.Function("get_unit", UNIT));
        try (LlamaModel model = LlamaModel.load(STORIES, Thread.ofPlatform().factory(), 1)) {
            int[] prompt = model.tokenizer().encodeWithSpecials("User: What is the weather?\nAssistant:", true);
            for (boolean parallel : new boolean[] {false, true}) {
                for (long seed = 0; seed < 4; seed++) {
                    SamplingParams sampling =
                            seed == 0 ? SamplingParams.GREEDY : SamplingParams.DEFAULTS.withSeed(seed);
                    // One call completes the grammar; with parallel calls this model (which never chose to end) goes on
                    // calling until max_tokens cuts it: the complete calls stand.
                    boolean single = !parallel || syntax == ToolCallSyntax.LLAMA3;
                    String text = generate(
                            model, prompt, sampling, ToolGrammar.constraint(syntax, functions, parallel, true), single);
                    ToolCallStream.Parsed parsed =
                            ToolCallStream.parse(syntax, Set.of("get_weather", "get_unit"), parallel ? 128 : 1, text);
                    assertTrue(parsed.calls().size() >= 1, syntax + " seed " + seed + ": " + text);
                    if (!parallel || syntax == ToolCallSyntax.LLAMA3)
                        assertEquals(1, parsed.calls().size(), text);
                    for (ToolCallStream.Call call : parsed.calls()) assertValid(call, text);
                }
            }
        }
    }

    static void assertValid(ToolCallStream.Call call, String text) {
        @SuppressWarnings("unchecked")
        Map<String, Object> args = (Map<String, Object>) Json.parse(call.arguments());
        switch (call.name()) {
            case "get_weather" -> {
                assertEquals(Set.of("city"), args.keySet(), text);
                assertTrue(List.of("Paris", "Rome").contains(args.get("city")), text);
            }
            case "get_unit" -> {
                assertEquals(Set.of("unit", "days"), args.keySet(), text);
                assertTrue(List.of("celsius", "kelvin").contains(args.get("unit")), text);
                int days = ((Number) args.get("days")).intValue();
                assertTrue(days >= 1 && days <= 7, text);
            }
            default -> throw new AssertionError("an undeclared function: " + text);
        }
    }

    static String generate(
            LlamaModel model, int[] prompt, SamplingParams sampling, GrammarConstraint grammar, boolean completes)
            throws Exception {
        KvCachePool kv = model.newKvCachePool(8 << 20);
        KvCachePool.Sequence seq = kv.newSequence();
        Generation gen = new Generation(model.tokenizer(), prompt, sampling, 400, List.of(), grammar);
        kv.reserve(seq, prompt.length);
        float[] logits = model.forward(new Batch().add(new Batch.Entry(seq, 0, prompt, true)))
                .logits(0, prompt.length - 1);
        StringBuilder text = new StringBuilder();
        while (true) {
            Generation.Step step = gen.next(logits);
            text.append(step.text());
            if (step.finished()) {
                if (completes)
                    assertEquals(Generation.FinishReason.GRAMMAR, step.finish(), "the grammar completed: " + text);
                break;
            }
            kv.reserve(seq, seq.length() + 1);
            logits = model.forward(new Batch().add(seq, seq.length(), step.token()))
                    .logits(0);
        }
        kv.free(seq);
        return text.toString();
    }
}
