package dev.anvil.serving.tools;

import jakarta.json.Json;
import jakarta.json.JsonException;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;
import jakarta.json.JsonString;
import jakarta.json.JsonValue;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Reads a model's answer, as it is generated, into text and tool calls in the family's {@link ToolCallSyntax}. Text is
 * released as soon as it cannot be the start of a call marker (a marker split across tokens never leaks); a call is
 * announced ({@link CallStart}) once its name is read and is one of the request's tools, then its arguments follow as
 * they are generated ({@link Arguments}: fragments of the JSON text, which concatenated are exactly the call's
 * {@code function.arguments}). {@link #parse} runs the same reader over a whole answer, so a plain response and a stream
 * of the same text agree.
 *
 * <p>What is not a well-formed call is text: a marker followed by something else, a call to a function the request did
 * not declare, JSON that is not a call object. Where that becomes clear before the call was announced, the held text is
 * released as content as written; a call that breaks after it was announced (the answer ends inside it, its arguments
 * are not a JSON object) makes the answer {@linkplain #malformed() malformed}: when it is the first call, a plain
 * response answers the whole text as content; a stream (which cannot take back what it sent) sends the rest as
 * content. Whitespace between text and
 * a call, and after the last call, is dropped; an answer without calls is released exactly as generated. Calls that
 * were complete before a later one broke stand, in both answers.
 *
 * <p>Not thread-safe: one per choice. Work per character is constant (no rescanning), so a long answer costs linear
 * time.
 */
public final class ToolCallStream {

    /** What the reader releases. */
    public sealed interface Event permits Content, CallStart, Arguments {}

    /** Answer text that is not part of a call. */
    public record Content(String text) implements Event {}

    /** A call begins: its position among the answer's calls, a fresh id, the function's name. */
    public record CallStart(int index, String id, String name) implements Event {}

    /** More of call {@code index}'s arguments (JSON text). */
    public record Arguments(int index, String fragment) implements Event {}

    /** A completed call. */
    public record Call(String id, String name, String arguments) {}

    /**
     * A whole answer read: {@code content} (null when there is none beside the calls) and the calls; a malformed answer
     * is all content and no calls.
     */
    public record Parsed(String content, List<Call> calls) {}

    private enum Mode {
        /** Plain text; markers are looked for. */
        TEXT,
        /** Inside a call region (after a marker or a leading opener). */
        CALLS,
        /** The call limit was reached: the rest is dropped. */
        DISCARD,
        /** A call broke after it was announced: the rest is text. */
        BROKEN
    }

    /** Where a call region is, between objects. */
    private enum Region {
        /** Mistral after its marker: the array's {@code [}. */
        ARRAY_OPEN,
        /** Scanning a call object. */
        OBJECT,
        /** Mistral: {@code ,} (another object) or {@code ]}. */
        ARRAY_NEXT,
        /** Hermes: {@code </tool_call>}. */
        CLOSE_TAG,
        /** Generic, after its opening brace: {@code "tool_calls": [}. */
        GENERIC_HEAD,
        /** Generic, after the array: the closing brace. */
        GENERIC_TAIL
    }

    private static final String GENERIC_KEY = "\"tool_calls\"";

    private static final String HERMES_CLOSE = "</tool_call>";

    private final ToolCallSyntax syntax;
    private final Set<String> toolNames;
    private final int maxCalls;
    private final StringBuilder text = new StringBuilder();
    /** Text before this index has been released or consumed by a call. */
    private int released;

    private Mode mode = Mode.TEXT;
    private Region region;
    private boolean sawNonBlank;
    /** Where the current call region began (its marker, or the leading whitespace before a leading opener). */
    private int regionStart;

    private int closeMatched;
    /** Generic head: characters of the key matched, then 1 (before ':') and 2 (before '['). */
    private int headMatched, headPhase;
    /** Calls completed in the current region. */
    private int callsInRegion;

    private ObjectScanner object;
    /** The current call's index once announced, else -1. */
    private int announced = -1;

    private String announcedId;
    private int argumentsSent;
    private final List<Call> calls = new ArrayList<>();
    private boolean malformed;
    private boolean finished;
    private List<Event> out;

    /**
     * @param syntax    the family's syntax
     * @param toolNames the functions the request declares (a call to another name is text)
     * @param maxCalls  at most this many calls are read (1 without {@code parallel_tool_calls}); what follows is dropped
     */
    public ToolCallStream(ToolCallSyntax syntax, Set<String> toolNames, int maxCalls) {
        this.syntax = syntax;
        this.toolNames = Set.copyOf(toolNames);
        this.maxCalls = Math.max(1, maxCalls);
    }

    /** Reads a whole answer. */
    public static Parsed parse(ToolCallSyntax syntax, Set<String> toolNames, int maxCalls, String answer) {
        ToolCallStream s = new ToolCallStream(syntax, toolNames, maxCalls);
        StringBuilder content = new StringBuilder();
        List<Event> events = new ArrayList<>(s.feed(answer));
        events.addAll(s.finish());
        for (Event e : events) if (e instanceof Content c) content.append(c.text());
        // An answer whose first call broke is text as generated; calls completed before a later one broke stand, as
        // they do in a stream (which sent them), with the rest as text.
        if (s.calls.isEmpty()) return new Parsed(s.malformed ? answer : content.toString(), List.of());
        return new Parsed(content.isEmpty() ? null : content.toString(), List.copyOf(s.calls));
    }

    /** The calls completed so far. */
    public List<Call> calls() {
        return List.copyOf(calls);
    }

    /** Whether a call was announced (a stream has sent tool-call deltas). */
    public boolean announcedAny() {
        return !calls.isEmpty() || announced >= 0;
    }

    /** Whether a call broke after it was announced. */
    public boolean malformed() {
        return malformed;
    }

    /** Reads more of the answer; returns what it releases. */
    public List<Event> feed(String more) {
        if (finished) throw new IllegalStateException("the answer has ended");
        out = new ArrayList<>();
        int from = text.length();
        text.append(more);
        for (int i = from; i < text.length(); i++) step(i);
        if (mode == Mode.TEXT) releaseText(false);
        else if (mode == Mode.CALLS) sendArguments();
        else if (mode == Mode.BROKEN) releaseAll();
        return out;
    }

    /** The answer has ended: releases what was held. */
    public List<Event> finish() {
        if (finished) return List.of();
        finished = true;
        out = new ArrayList<>();
        switch (mode) {
            case TEXT -> releaseText(true);
            case CALLS -> {
                if (announced >= 0) {
                    malformed = true; // the answer ended inside an announced call
                } else if (callsInRegion > 0 || !calls.isEmpty()) {
                    // The answer ended after a complete call, before the region's end (a Hermes closing tag, the
                    // array's
                    // ']', a cut-off next call that was not announced yet, after a marker or in the same region): the
                    // calls stand, the rest is dropped.
                    released = text.length();
                } else {
                    releaseFrom(regionStart);
                }
            }
            case BROKEN -> releaseAll();
            case DISCARD -> {}
        }
        return out;
    }

    // ---- the character loop

    private void step(int i) {
        char c = text.charAt(i);
        switch (mode) {
            case TEXT -> text(i, c);
            case CALLS -> call(i, c);
            case DISCARD, BROKEN -> {}
        }
    }

    private void text(int i, char c) {
        if (!sawNonBlank && !Character.isWhitespace(c)) {
            sawNonBlank = true;
            if (!syntax.leading.isEmpty() && syntax.leading.charAt(0) == c && calls.isEmpty()) {
                regionStart = released; // the leading whitespace goes back with the text if this is no call
                if (syntax == ToolCallSyntax.GENERIC) {
                    enterRegion(Region.GENERIC_HEAD);
                    headMatched = headPhase = 0;
                    return;
                }
                enterRegion(syntax == ToolCallSyntax.MISTRAL ? Region.ARRAY_OPEN : Region.OBJECT);
                call(i, c);
                return;
            }
        }
        for (String marker : syntax.markers) {
            int start = i + 1 - marker.length();
            if (start >= released && matches(start, marker, marker.length())) {
                // The text before the marker goes out; the whitespace just before it belongs to the call region
                // (dropped with a call, given back if this turns out to be none).
                int cut = trimEnd(start);
                releaseUpTo(cut);
                regionStart = cut;
                enterRegion(syntax == ToolCallSyntax.MISTRAL ? Region.ARRAY_OPEN : Region.OBJECT);
                return;
            }
        }
    }

    private void enterRegion(Region r) {
        mode = Mode.CALLS;
        callsInRegion = 0;
        region = r;
        object = r == Region.OBJECT ? new ObjectScanner() : null;
    }

    private void call(int i, char c) {
        switch (region) {
            case ARRAY_OPEN -> {
                if (Character.isWhitespace(c)) return;
                if (c == '[') {
                    region = Region.OBJECT;
                    object = new ObjectScanner();
                } else {
                    notACall(i);
                }
            }
            case OBJECT -> {
                ObjectScanner.Result r = object.accept(c);
                if (r == ObjectScanner.Result.FAILED) {
                    notACall(i);
                    return;
                }
                if (object.name != null && announced < 0 && toolNames.contains(object.name)) announce();
                if (r == ObjectScanner.Result.DONE) completeCall(i);
            }
            case ARRAY_NEXT -> {
                if (Character.isWhitespace(c)) return;
                if (c == ',') {
                    region = Region.OBJECT;
                    object = new ObjectScanner();
                } else if (c == ']') {
                    if (syntax == ToolCallSyntax.GENERIC) region = Region.GENERIC_TAIL;
                    else leaveRegion(i + 1);
                } else {
                    strayAfterCall(i);
                }
            }
            case GENERIC_HEAD -> genericHead(i, c);
            case GENERIC_TAIL -> {
                if (Character.isWhitespace(c)) return;
                if (c == '}') leaveRegion(i + 1);
                else strayAfterCall(i);
            }
            case CLOSE_TAG -> {
                if (closeMatched == 0 && Character.isWhitespace(c)) return;
                if (c == HERMES_CLOSE.charAt(closeMatched)) {
                    if (++closeMatched == HERMES_CLOSE.length()) leaveRegion(i + 1);
                } else {
                    strayAfterCall(i);
                }
            }
        }
    }

    /** The generic answer's opening after its brace: {@code "tool_calls"}, a colon, the array's bracket. */
    private void genericHead(int i, char c) {
        boolean blank = Character.isWhitespace(c);
        switch (headPhase) {
            case 0 -> {
                if (blank && headMatched == 0) return;
                if (c != GENERIC_KEY.charAt(headMatched)) notACall(i);
                else if (++headMatched == GENERIC_KEY.length()) headPhase = 1;
            }
            case 1 -> {
                if (blank) return;
                if (c == ':') headPhase = 2;
                else notACall(i);
            }
            default -> {
                if (blank) return;
                if (c == '[') {
                    region = Region.OBJECT;
                    object = new ObjectScanner();
                } else {
                    notACall(i);
                }
            }
        }
    }

    private void announce() {
        announced = calls.size();
        announcedId = syntax.newCallId();
        argumentsSent = 0;
        out.add(new CallStart(announced, announcedId, object.name));
    }

    private void completeCall(int i) {
        String name = object.name;
        if (name == null || !toolNames.contains(name)) {
            notACall(i);
            return;
        }
        String arguments = object.arguments();
        if (!isJsonObject(arguments)) {
            broken(i + 1);
            return;
        }
        sendArguments();
        if (object.argumentsQuoted || object.argumentsStart < 0) {
            // Arguments given as a JSON string, or none: they are only known now.
            out.add(new Arguments(announced, arguments.substring(argumentsSent)));
        }
        calls.add(new Call(announcedId, name, arguments));
        callsInRegion++;
        announced = -1;
        object = null;
        regionStart = i + 1; // a later failure in this region gives back only what follows this call
        if (calls.size() >= maxCalls) {
            mode = Mode.DISCARD;
            released = text.length();
            return;
        }
        switch (syntax) {
            case HERMES -> {
                region = Region.CLOSE_TAG;
                closeMatched = 0;
            }
            case MISTRAL, GENERIC -> region = Region.ARRAY_NEXT;
            default -> leaveRegion(i + 1);
        }
    }

    /** The region ended after {@code end}: back to text (whitespace after it is dropped). */
    private void leaveRegion(int end) {
        mode = Mode.TEXT;
        released = end;
        sawNonBlank = true;
    }

    /** Text that follows a complete call where the syntax expects more of the region: it is text. */
    private void strayAfterCall(int i) {
        leaveRegion(i);
        text(i, text.charAt(i));
    }

    /** What looked like the start of a call is not one. */
    private void notACall(int i) {
        if (announced >= 0) {
            broken(i);
            return;
        }
        mode = Mode.TEXT;
        sawNonBlank = true;
        object = null;
        // The held text is released as written; the character that decided it is looked at again as text.
        releaseFrom(regionStart);
        text(i, text.charAt(i));
    }

    private void broken(int from) {
        malformed = true;
        announced = -1;
        mode = Mode.BROKEN;
        released = from;
    }

    // ---- releasing

    private void sendArguments() {
        if (announced < 0 || object == null || object.argumentsQuoted) return;
        String sofar = object.argumentsSoFar();
        if (sofar.length() > argumentsSent) {
            out.add(new Arguments(announced, sofar.substring(argumentsSent)));
            argumentsSent = sofar.length();
        }
    }

    /** Releases text up to what may still be the start of a marker, or trailing whitespace that may precede a call. */
    private void releaseText(boolean end) {
        int upTo = text.length();
        if (end) {
            if (!calls.isEmpty()) upTo = trimEnd(upTo);
        } else {
            upTo = Math.min(upTo, text.length() - partialMarker());
            upTo = trimEnd(upTo);
        }
        releaseUpTo(upTo);
        if (end) released = text.length();
    }

    private void releaseUpTo(int upTo) {
        if (upTo > released) {
            out.add(new Content(text.substring(released, upTo)));
            released = upTo;
        }
    }

    private void releaseFrom(int from) {
        released = Math.min(released, from);
        if (mode == Mode.TEXT) return; // text mode releases on its own schedule
        releaseAll();
    }

    private void releaseAll() {
        if (text.length() > released) out.add(new Content(text.substring(released)));
        released = text.length();
    }

    /** The end of the text before {@code end} without its trailing whitespace (never before {@link #released}). */
    private int trimEnd(int end) {
        int e = end;
        while (e > released && Character.isWhitespace(text.charAt(e - 1))) e--;
        return e;
    }

    /** Whether the text at {@code at} holds the first {@code length} characters of {@code marker}. */
    private boolean matches(int at, String marker, int length) {
        if (at < 0 || at + length > text.length()) return false;
        for (int k = 0; k < length; k++) if (text.charAt(at + k) != marker.charAt(k)) return false;
        return true;
    }

    /** Length of the longest end of the text that is a proper prefix of a marker. */
    private int partialMarker() {
        int best = 0;
        for (String marker : syntax.markers) {
            for (int len = Math.min(marker.length() - 1, text.length() - released); len > best; len--) {
                if (matches(text.length() - len, marker, len)) {
                    best = len;
                    break;
                }
            }
        }
        if (!sawNonBlank && !syntax.leading.isEmpty()) best = text.length() - released; // may still open a call
        return best;
    }

    private static boolean isJsonObject(String json) {
        return readObject(json) != null;
    }

    private static JsonObject readObject(String json) {
        try (JsonReader r = Json.createReader(new StringReader(json))) {
            JsonValue v = r.readValue();
            return v instanceof JsonObject o ? o : null;
        } catch (JsonException | IllegalStateException e) {
            return null;
        }
    }

    /**
     * Scans one call object character by character: {@code {"name": "...", "arguments": {...}}} with the keys in any
     * order ({@code parameters} is read as {@code arguments}; other keys such as {@code id} or {@code type} are
     * skipped). It checks the object's structure, not every JSON detail of the arguments: those are parsed when the
     * object is complete.
     */
    static final class ObjectScanner {
        enum Result {
            MORE,
            DONE,
            FAILED
        }

        private enum State {
            OPEN,
            KEY_OR_END,
            KEY,
            COLON,
            VALUE,
            STRING_VALUE,
            RAW_VALUE,
            AFTER_VALUE,
            AFTER_COMMA
        }

        private State state = State.OPEN;
        private final StringBuilder token = new StringBuilder();
        private boolean escape;
        private String key;
        String name;
        private final StringBuilder arguments = new StringBuilder();
        int argumentsStart = -1;
        boolean argumentsQuoted;
        private String quotedArguments;
        /** Raw value scan: nesting depth, inside a string, and whether the value is a primitive (ends at a delimiter). */
        private int depth;

        private boolean inString, primitive, capturing;

        Result accept(char c) {
            return switch (state) {
                case OPEN -> {
                    if (Character.isWhitespace(c)) yield Result.MORE;
                    if (c != '{') yield Result.FAILED;
                    state = State.KEY_OR_END;
                    yield Result.MORE;
                }
                case KEY_OR_END, AFTER_COMMA -> {
                    if (Character.isWhitespace(c)) yield Result.MORE;
                    if (c == '}' && state == State.KEY_OR_END) yield Result.DONE;
                    if (c != '"') yield Result.FAILED;
                    token.setLength(0);
                    state = State.KEY;
                    yield Result.MORE;
                }
                case KEY -> {
                    if (stringChar(c)) yield Result.MORE;
                    key = unescape(token);
                    if (key == null) yield Result.FAILED;
                    state = State.COLON;
                    yield Result.MORE;
                }
                case COLON -> {
                    if (Character.isWhitespace(c)) yield Result.MORE;
                    if (c != ':') yield Result.FAILED;
                    state = State.VALUE;
                    yield Result.MORE;
                }
                case VALUE -> value(c);
                case STRING_VALUE -> {
                    if (stringChar(c)) yield Result.MORE;
                    String value = unescape(token);
                    if (value == null) yield Result.FAILED;
                    if (key.equals("name")) name = value;
                    else {
                        argumentsQuoted = true;
                        quotedArguments = value;
                    }
                    state = State.AFTER_VALUE;
                    yield Result.MORE;
                }
                case RAW_VALUE -> raw(c);
                case AFTER_VALUE -> {
                    if (Character.isWhitespace(c)) yield Result.MORE;
                    if (c == ',') {
                        state = State.AFTER_COMMA;
                        yield Result.MORE;
                    }
                    yield c == '}' ? Result.DONE : Result.FAILED;
                }
            };
        }

        private Result value(char c) {
            if (Character.isWhitespace(c)) return Result.MORE;
            boolean isArguments = key.equals("arguments") || key.equals("parameters");
            if (key.equals("name") || (isArguments && c == '"')) {
                if (c != '"') return Result.FAILED;
                token.setLength(0);
                state = State.STRING_VALUE;
                return Result.MORE;
            }
            if (isArguments) {
                if (c != '{') return Result.FAILED;
                arguments.setLength(0);
                argumentsStart = 0;
                argumentsQuoted = false;
            }
            capturing = isArguments;
            depth = 0;
            inString = false;
            escape = false;
            primitive = c != '{' && c != '[' && c != '"';
            state = State.RAW_VALUE;
            return raw(c);
        }

        /** One character of a value that is skipped or captured as written. */
        private Result raw(char c) {
            if (primitive) {
                if (c == ',' || c == '}' || Character.isWhitespace(c)) {
                    state = State.AFTER_VALUE;
                    return accept(c);
                }
                if (c == '{' || c == '[' || c == ']' || c == '"' || c == ':') return Result.FAILED;
                return Result.MORE;
            }
            if (capturing) arguments.append(c);
            if (inString) {
                if (escape) escape = false;
                else if (c == '\\') escape = true;
                else if (c == '"') inString = false;
                if (depth == 0 && !inString) state = State.AFTER_VALUE; // a string value ended
                return Result.MORE;
            }
            switch (c) {
                case '"' -> inString = true;
                case '{', '[' -> depth++;
                case '}', ']' -> {
                    if (--depth == 0) state = State.AFTER_VALUE;
                }
                default -> {}
            }
            return Result.MORE;
        }

        /** A character of a string being read into {@link #token}; false at its closing quote. */
        private boolean stringChar(char c) {
            if (escape) {
                escape = false;
                token.append(c);
                return true;
            }
            if (c == '\\') {
                escape = true;
                token.append(c);
                return true;
            }
            if (c == '"') return false;
            token.append(c);
            return true;
        }

        /** The captured arguments so far (as written). */
        String argumentsSoFar() {
            return arguments.toString();
        }

        /** The complete arguments' JSON text: as written, decoded from a JSON string, or {@code {}} when absent. */
        String arguments() {
            if (argumentsQuoted) return quotedArguments;
            return argumentsStart < 0 ? "{}" : arguments.toString();
        }

        /** A JSON string's body decoded, or null when its escapes are invalid. */
        private static String unescape(CharSequence body) {
            try (JsonReader r = Json.createReader(new StringReader("\"" + body + "\""))) {
                return ((JsonString) r.readValue()).getString();
            } catch (JsonException | IllegalStateException | ClassCastException e) {
                return null;
            }
        }
    }
}
