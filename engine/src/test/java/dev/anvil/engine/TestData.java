package dev.anvil.engine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Locates the shared reference data and reads the llama.cpp reference outputs (JSON lines). */
final class TestData {
    private TestData() {}

    /** The shared directory; a missing directory fails the test run instead of silently skipping it. */
    static Path sharedDir() {
        Path dir = Path.of(System.getProperty("anvil.shared.dir", "../../shared"))
                .toAbsolutePath()
                .normalize();
        if (!Files.isDirectory(dir.resolve("reference/outputs"))) {
            throw new IllegalStateException("shared reference data not found at " + dir
                    + " (set -Danvil.shared.dir to the directory holding models/ and reference/)");
        }
        return dir;
    }

    static Path stories260KGguf() {
        return sharedDir().resolve("models/stories260K.gguf");
    }

    static Path stories260KBin() {
        return sharedDir().resolve("models/stories260K.bin");
    }

    /** One reference prompt: its tokens, llama.cpp's greedy steps with top-5 logits, and all logits of step 0. */
    record Reference(
            String prompt,
            int[] promptTokens,
            int[] stepTokens,
            int[][] top5Ids,
            float[][] top5Logits,
            float[] firstStepLogits) {
        /** Reference gap between the best and second-best logit at step i. */
        float gap(int i) {
            return top5Logits[i][0] - top5Logits[i][1];
        }
    }

    @SuppressWarnings("unchecked")
    static List<Reference> references(String model) throws IOException {
        List<Reference> out = new ArrayList<>();
        for (String line : Files.readAllLines(sharedDir().resolve("reference/outputs/" + model + ".jsonl"))) {
            if (line.isBlank()) continue;
            Map<String, Object> o = (Map<String, Object>) new Json(line).value();
            List<Object> steps = (List<Object>) o.get("steps");
            int n = steps.size();
            int[] tokens = new int[n];
            int[][] ids = new int[n][];
            float[][] logits = new float[n][];
            for (int i = 0; i < n; i++) {
                Map<String, Object> s = (Map<String, Object>) steps.get(i);
                tokens[i] = ((Number) s.get("token")).intValue();
                List<Object> top = (List<Object>) s.get("top5");
                ids[i] = new int[top.size()];
                logits[i] = new float[top.size()];
                for (int j = 0; j < top.size(); j++) {
                    List<Object> pair = (List<Object>) top.get(j);
                    ids[i][j] = ((Number) pair.get(0)).intValue();
                    logits[i][j] = ((Number) pair.get(1)).floatValue();
                }
            }
            List<Object> pt = (List<Object>) o.get("prompt_tokens");
            List<Object> fl = (List<Object>) o.get("first_step_logits");
            int[] prompt = new int[pt.size()];
            for (int i = 0; i < prompt.length; i++) prompt[i] = ((Number) pt.get(i)).intValue();
            float[] first = new float[fl.size()];
            for (int i = 0; i < first.length; i++) first[i] = ((Number) fl.get(i)).floatValue();
            out.add(new Reference((String) o.get("prompt"), prompt, tokens, ids, logits, first));
        }
        if (out.isEmpty()) throw new IllegalStateException("no reference prompts for " + model);
        return out;
    }

    /** Minimal JSON reader for the reference files (objects, arrays, strings, numbers, literals). */
    static final class Json {
        private final String s;
        private int i;

        Json(String s) {
            this.s = s;
        }

        Object value() {
            skip();
            char c = s.charAt(i);
            return switch (c) {
                case '{' -> object();
                case '[' -> array();
                case '"' -> string();
                case 't' -> literal("true", Boolean.TRUE);
                case 'f' -> literal("false", Boolean.FALSE);
                case 'n' -> literal("null", null);
                default -> number();
            };
        }

        private Object literal(String word, Object v) {
            if (!s.startsWith(word, i)) throw new IllegalArgumentException("bad JSON at " + i);
            i += word.length();
            return v;
        }

        private Map<String, Object> object() {
            Map<String, Object> m = new LinkedHashMap<>();
            i++;
            skip();
            if (s.charAt(i) == '}') {
                i++;
                return m;
            }
            while (true) {
                skip();
                String k = string();
                skip();
                expect(':');
                m.put(k, value());
                skip();
                if (s.charAt(i) == ',') {
                    i++;
                    continue;
                }
                expect('}');
                return m;
            }
        }

        private List<Object> array() {
            List<Object> a = new ArrayList<>();
            i++;
            skip();
            if (s.charAt(i) == ']') {
                i++;
                return a;
            }
            while (true) {
                a.add(value());
                skip();
                if (s.charAt(i) == ',') {
                    i++;
                    continue;
                }
                expect(']');
                return a;
            }
        }

        private String string() {
            expect('"');
            StringBuilder b = new StringBuilder();
            while (true) {
                char c = s.charAt(i++);
                if (c == '"') return b.toString();
                if (c != '\\') {
                    b.append(c);
                    continue;
                }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n' -> b.append('\n');
                    case 't' -> b.append('\t');
                    case 'r' -> b.append('\r');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'u' -> {
                        b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        i += 4;
                    }
                    default -> b.append(e);
                }
            }
        }

        private Double number() {
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
            return Double.parseDouble(s.substring(start, i));
        }

        private void expect(char c) {
            if (s.charAt(i) != c) throw new IllegalArgumentException("expected '" + c + "' at " + i + " in JSON");
            i++;
        }

        private void skip() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
        }
    }
}
