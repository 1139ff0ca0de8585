package dev.anvil.tools.server;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.OptionalDouble;

/**
 * The samples of a Prometheus text exposition (what the server's {@code /metrics} answers), read by metric name and
 * labels. Labels are selected as Prometheus writes them, {@code key="value"} (e.g. {@code model="stories260k"}); a
 * sample matches when it has every selected label with exactly that value, whatever its other labels.
 *
 * <p>Reads version 0.0.4 of the format: {@code #} lines and blank lines are skipped, label values may hold any
 * character ({@code {name}} of a path template, escaped {@code \"}, {@code \\}, {@code \n}), a trailing comma may end
 * the label set, values may be {@code NaN} or {@code ±Inf}, a timestamp may follow the value. Anything else is refused
 * with the line it is on.
 */
public final class MetricSamples {

    /** One sample line: {@code name{labels} value}. */
    public record Sample(String name, Map<String, String> labels, double value) {

        /** Whether this sample has every label of {@code selected} with the same value. */
        public boolean has(Map<String, String> selected) {
            for (Map.Entry<String, String> e : selected.entrySet()) {
                if (!e.getValue().equals(labels.get(e.getKey()))) return false;
            }
            return true;
        }
    }

    private final List<Sample> samples;

    private MetricSamples(List<Sample> samples) {
        this.samples = samples;
    }

    /** Reads every sample of {@code text}; {@link IllegalArgumentException} naming the line that is not one. */
    public static MetricSamples parse(String text) {
        List<Sample> samples = new ArrayList<>();
        int number = 0;
        for (String line : text.split("\n", -1)) {
            number++;
            String l = line.strip();
            if (l.isEmpty() || l.startsWith("#")) continue;
            try {
                samples.add(new LineReader(l).sample());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(
                        "line " + number + " is not a Prometheus sample (" + e.getMessage() + "): " + l, e);
            }
        }
        return new MetricSamples(Collections.unmodifiableList(samples));
    }

    /** Every sample, in the order of the text. */
    public List<Sample> all() {
        return samples;
    }

    /** The samples named {@code name} with the {@code key="value"} labels given. */
    public List<Sample> matching(String name, String... labels) {
        Map<String, String> selected = selection(labels);
        return samples.stream()
                .filter(s -> s.name().equals(name) && s.has(selected))
                .toList();
    }

    /** Whether a sample named {@code name} has the labels given. */
    public boolean contains(String name, String... labels) {
        return !matching(name, labels).isEmpty();
    }

    /** The value of the first sample named {@code name} with the labels given; empty when there is none. */
    public OptionalDouble first(String name, String... labels) {
        List<Sample> found = matching(name, labels);
        return found.isEmpty()
                ? OptionalDouble.empty()
                : OptionalDouble.of(found.getFirst().value());
    }

    /** The sum over every sample named {@code name} with the labels given; {@link NoSuchElementException} when none. */
    public double sum(String name, String... labels) {
        List<Sample> found = matching(name, labels);
        if (found.isEmpty()) throw new NoSuchElementException("no sample " + name + " with " + List.of(labels));
        return found.stream().mapToDouble(Sample::value).sum();
    }

    /** {@code key="value"} selectors as a map; {@link IllegalArgumentException} for one in another form. */
    static Map<String, String> selection(String... labels) {
        Map<String, String> selected = new LinkedHashMap<>();
        for (String label : labels) {
            LineReader r = new LineReader(label);
            r.label(selected);
            if (!r.atEnd()) throw new IllegalArgumentException("a label selector is key=\"value\", got: " + label);
        }
        return selected;
    }

    /** One line, read from left to right. */
    private static final class LineReader {
        private final String s;
        private int i;

        LineReader(String s) {
            this.s = s;
        }

        boolean atEnd() {
            return i == s.length();
        }

        Sample sample() {
            String name = name();
            Map<String, String> labels = new LinkedHashMap<>();
            if (peek('{')) {
                i++;
                while (!peek('}')) {
                    label(labels);
                    if (peek(',')) i++;
                    else if (!peek('}')) throw new IllegalArgumentException("expected ',' or '}' at " + i);
                }
                i++;
            }
            if (!peek(' ') && !peek('\t'))
                throw new IllegalArgumentException("expected a space before the value at " + i);
            String[] rest = s.substring(i).strip().split("[ \t]+");
            if (rest.length > 2)
                throw new IllegalArgumentException("more than a value and a timestamp after the labels");
            return new Sample(name, Collections.unmodifiableMap(labels), value(rest[0]));
        }

        void label(Map<String, String> into) {
            String key = name();
            if (!peek('=')) throw new IllegalArgumentException("expected '=' after label " + key);
            i++;
            if (!peek('"')) throw new IllegalArgumentException("expected '\"' to open the value of label " + key);
            i++;
            StringBuilder value = new StringBuilder();
            while (true) {
                if (atEnd()) throw new IllegalArgumentException("unterminated value of label " + key);
                char c = s.charAt(i++);
                if (c == '"') break;
                if (c == '\\') {
                    if (atEnd()) throw new IllegalArgumentException("unterminated escape in label " + key);
                    char e = s.charAt(i++);
                    value.append(e == 'n' ? '\n' : e);
                } else {
                    value.append(c);
                }
            }
            into.put(key, value.toString());
        }

        private String name() {
            int start = i;
            while (!atEnd() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_' || s.charAt(i) == ':'))
                i++;
            if (start == i) throw new IllegalArgumentException("expected a name at " + i);
            return s.substring(start, i);
        }

        private boolean peek(char c) {
            return !atEnd() && s.charAt(i) == c;
        }

        private static double value(String text) {
            return switch (text) {
                case "NaN" -> Double.NaN;
                case "+Inf", "Inf" -> Double.POSITIVE_INFINITY;
                case "-Inf" -> Double.NEGATIVE_INFINITY;
                default -> {
                    try {
                        yield Double.parseDouble(text);
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException("not a number: " + text);
                    }
                }
            };
        }
    }
}
