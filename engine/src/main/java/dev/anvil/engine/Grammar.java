package dev.anvil.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A context-free grammar in GBNF, the notation llama.cpp's grammars use, compiled for {@link GrammarState}'s
 * pushdown matcher. Immutable and thread-safe; {@link #parse} is the only way in.
 *
 * <pre>
 * root   ::= "{" ws pair ("," ws pair)* "}"      # rules: name ::= alternatives; newlines are spaces
 * pair   ::= [a-z]+ ":" ws ([0-9]{1,3} | "null") # literals, classes, ranges, groups, repetition
 * ws     ::= [ \t\n]{0,4}                        # {m}, {m,}, {m,n}, *, +, ?; [^...] negates; . is any character
 * </pre>
 *
 * Escapes in literals and classes: {@code \n \r \t \\ \" \[ \] \- \^ \/ \xHH \\uHHHH \UHHHHHHHH}. Characters are
 * Unicode code points. A rule ends where the next {@code name ::=} begins, so rules may span lines freely.
 *
 * <p>Compiled form: one flat program of elements, each an alternative's sequence of terminals ({@code TERM}: a
 * character class) and rule references ({@code REF}) closed by {@code END}; a rule is the list of its alternatives'
 * start positions. Groups and repetitions become rules of their own, as llama.cpp does: {@code x*} is
 * {@code r ::= x r | ε}, {@code x{m,n}} is m copies of x then a chain of n-m optional ones. Left recursion (a rule that
 * can reach itself without consuming a character) would make the matcher expand forever, so it is refused here.
 * Every size is bounded by {@link Limits}; a violation is a {@link GrammarException} naming line and column.
 */
public final class Grammar {

    /**
     * Bounds on what a grammar may cost.
     *
     * @param maxSourceChars most characters of GBNF text
     * @param maxRules       most rules after expansion (groups and repetitions make rules)
     * @param maxElements    most compiled elements
     * @param maxNesting     deepest nesting of parentheses
     * @param maxRepetition  largest count in {@code {m,n}}
     * @param maxStackDepth  deepest matcher stack at run time: parses nested deeper are dropped (not allowed)
     * @param maxStacks      most simultaneous parses (ambiguity) at run time: more are dropped
     */
    public record Limits(
            int maxSourceChars,
            int maxRules,
            int maxElements,
            int maxNesting,
            int maxRepetition,
            int maxStackDepth,
            int maxStacks) {
        public static final Limits DEFAULT = new Limits(1 << 20, 1 << 15, 1 << 20, 64, 2048, 512, 256);

        public Limits {
            if (maxSourceChars < 1
                    || maxRules < 1
                    || maxElements < 1
                    || maxNesting < 1
                    || maxRepetition < 1
                    || maxStackDepth < 1
                    || maxStacks < 1) throw new IllegalArgumentException("grammar limits must all be >= 1");
        }
    }

    /** A grammar that cannot be parsed or compiled; {@link #line()}/{@link #column()} are 1-based, 0 when unknown. */
    public static final class GrammarException extends IllegalArgumentException {
        private final int line, column;

        GrammarException(String message, int line, int column) {
            super(line > 0 ? message + " (line " + line + ", column " + column + ")" : message);
            this.line = line;
            this.column = column;
        }

        public int line() {
            return line;
        }

        public int column() {
            return column;
        }
    }

    static final byte END = 0, TERM = 1, REF = 2;

    /** Element kinds and arguments (class index for TERM, rule id for REF). */
    final byte[] kind;

    final int[] arg;
    /** Start positions of each rule's alternatives. */
    final int[][] ruleAlts;
    /** Character classes: sorted, merged inclusive ranges [lo0, hi0, lo1, hi1, ...]. */
    final int[][] classes;
    /** ASCII membership of each class as two 64-bit words, the fast path of {@link #matches}. */
    final long[] asciiLow, asciiHigh;

    final String[] ruleNames;
    final int root;
    final Limits limits;
    private final String source;

    private Grammar(
            byte[] kind,
            int[] arg,
            int[][] ruleAlts,
            int[][] classes,
            String[] ruleNames,
            int root,
            Limits limits,
            String source) {
        this.kind = kind;
        this.arg = arg;
        this.ruleAlts = ruleAlts;
        this.classes = classes;
        this.ruleNames = ruleNames;
        this.root = root;
        this.limits = limits;
        this.source = source;
        asciiLow = new long[classes.length];
        asciiHigh = new long[classes.length];
        for (int c = 0; c < classes.length; c++) {
            int[] r = classes[c];
            for (int i = 0; i < r.length; i += 2)
                for (int cp = r[i]; cp <= Math.min(r[i + 1], 127); cp++) {
                    if (cp < 64) asciiLow[c] |= 1L << cp;
                    else asciiHigh[c] |= 1L << (cp - 64);
                }
        }
    }

    /** Parses GBNF with the {@link Limits#DEFAULT} bounds; the start rule is {@code root}. */
    public static Grammar parse(String gbnf) {
        return parse(gbnf, Limits.DEFAULT);
    }

    public static Grammar parse(String gbnf, Limits limits) {
        if (gbnf == null) throw new GrammarException("the grammar is null", 0, 0);
        if (gbnf.length() > limits.maxSourceChars())
            throw new GrammarException(
                    "the grammar has " + gbnf.length() + " characters, more than the limit of "
                            + limits.maxSourceChars(),
                    0,
                    0);
        return new Parser(gbnf, limits).parse();
    }

    /** The GBNF text this grammar was parsed from. */
    public String source() {
        return source;
    }

    public Limits limits() {
        return limits;
    }

    /** Number of rules after expansion. */
    public int ruleCount() {
        return ruleAlts.length;
    }

    boolean matches(int cls, int cp) {
        if (cp < 64) return (asciiLow[cls] >>> cp & 1) != 0;
        if (cp < 128) return (asciiHigh[cls] >>> (cp - 64) & 1) != 0;
        int[] r = classes[cls];
        int lo = 0, hi = r.length / 2 - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (cp < r[2 * mid]) hi = mid - 1;
            else if (cp > r[2 * mid + 1]) lo = mid + 1;
            else return true;
        }
        return false;
    }

    /** Whether class {@code cls} holds any code point in [from, to]. */
    boolean intersects(int cls, int from, int to) {
        int[] r = classes[cls];
        for (int i = 0; i < r.length; i += 2) if (r[i] <= to && r[i + 1] >= from) return true;
        return false;
    }

    // ------------------------------------------------------------------------------------------------
    // Parsing

    /** An item of an alternative while parsing: a class (TERM) or a rule (REF), by index. */
    private record Item(byte kind, int arg) {}

    private static final class Parser {
        private final String src;
        private final Limits limits;
        private int pos;
        private final Map<String, Integer> ruleIds = new LinkedHashMap<>();
        private final List<String> names = new ArrayList<>();
        private final List<List<List<Item>>> rules = new ArrayList<>();
        private final Map<Integer, Integer> firstUse = new HashMap<>(); // rule id → source offset of a reference
        private final List<int[]> classList = new ArrayList<>();
        private final Map<String, Integer> classIds = new HashMap<>();
        private int elements;

        Parser(String src, Limits limits) {
            this.src = src;
            this.limits = limits;
        }

        Grammar parse() {
            skipSpace();
            if (pos >= src.length()) throw error("the grammar is empty", pos);
            while (pos < src.length()) {
                int at = pos;
                String name = name();
                skipSpace();
                if (!src.startsWith("::=", pos)) throw error("expected '::=' after rule name '" + name + "'", pos);
                pos += 3;
                int id = ruleId(name);
                if (rules.get(id) != null) throw error("rule '" + name + "' is defined twice", at);
                rules.set(id, List.of()); // defined (placeholder while its body parses)
                rules.set(id, alternatives(0, name));
                skipSpace();
            }
            for (int id = 0; id < rules.size(); id++)
                if (rules.get(id) == null)
                    throw error("rule '" + names.get(id) + "' is used but not defined", firstUse.get(id));
            Integer root = ruleIds.get("root");
            if (root == null) throw new GrammarException("the grammar has no 'root' rule", 0, 0);
            checkLeftRecursion();
            return compile(root);
        }

        private int ruleId(String name) {
            Integer id = ruleIds.get(name);
            if (id != null) return id;
            return newRule(name, null);
        }

        private int newRule(String name, List<List<Item>> body) {
            if (rules.size() >= limits.maxRules())
                throw error("the grammar needs more than " + limits.maxRules() + " rules", pos);
            int id = rules.size();
            rules.add(body);
            names.add(name);
            if (!ruleIds.containsKey(name)) ruleIds.put(name, id);
            return id;
        }

        /** A rule made by the parser (group, repetition); named after the rule it appears in. */
        private int synthetic(String owner, List<List<Item>> body) {
            int id = newRule(owner + "#" + rules.size(), body);
            for (List<Item> alt : body) count(alt.size() + 1);
            return id;
        }

        private void count(int n) {
            elements += n;
            if (elements > limits.maxElements())
                throw error("the grammar compiles to more than " + limits.maxElements() + " elements", pos);
        }

        private List<List<Item>> alternatives(int depth, String owner) {
            List<List<Item>> alts = new ArrayList<>();
            alts.add(sequence(depth, owner));
            while (true) {
                skipSpace();
                if (pos < src.length() && src.charAt(pos) == '|') {
                    pos++;
                    alts.add(sequence(depth, owner));
                } else break;
            }
            for (List<Item> alt : alts) count(alt.size() + 1);
            return alts;
        }

        private List<Item> sequence(int depth, String owner) {
            List<Item> seq = new ArrayList<>();
            while (true) {
                skipSpace();
                if (pos >= src.length()) break;
                char c = src.charAt(pos);
                if (c == '|' || c == ')') break;
                if (isWordChar(c) && startsRule()) break;
                int itemStart = seq.size();
                int at = pos;
                if (c == '"') {
                    pos++;
                    while (true) {
                        if (pos >= src.length()) throw error("unterminated string literal", at);
                        if (src.charAt(pos) == '"') {
                            pos++;
                            break;
                        }
                        int cp = character(at);
                        seq.add(new Item(TERM, classOf(new int[] {cp, cp})));
                    }
                } else if (c == '[') {
                    seq.add(new Item(TERM, charClass()));
                } else if (c == '.') {
                    pos++;
                    seq.add(new Item(TERM, classOf(new int[] {0, 0x10FFFF})));
                } else if (c == '(') {
                    if (depth + 1 > limits.maxNesting())
                        throw error("groups are nested deeper than " + limits.maxNesting(), pos);
                    pos++;
                    List<List<Item>> body = alternatives(depth + 1, owner);
                    skipSpace();
                    if (pos >= src.length() || src.charAt(pos) != ')') throw error("expected ')'", pos);
                    pos++;
                    seq.add(new Item(REF, synthetic(owner, body)));
                } else if (isWordChar(c)) {
                    String ref = name();
                    int id = ruleId(ref);
                    firstUse.putIfAbsent(id, at);
                    seq.add(new Item(REF, id));
                } else if (c == '*' || c == '+' || c == '?' || c == '{') {
                    throw error("repetition '" + c + "' has nothing to repeat", pos);
                } else {
                    throw error("unexpected character '" + c + "'", pos);
                }
                skipSpace();
                if (pos < src.length()) {
                    char op = src.charAt(pos);
                    int min = -1, max = -1;
                    if (op == '*') {
                        min = 0;
                        pos++;
                    } else if (op == '+') {
                        min = 1;
                        pos++;
                    } else if (op == '?') {
                        min = 0;
                        max = 1;
                        pos++;
                    } else if (op == '{') {
                        int brace = pos++;
                        skipSpace();
                        min = number(brace);
                        skipSpace();
                        max = min;
                        if (pos < src.length() && src.charAt(pos) == ',') {
                            pos++;
                            skipSpace();
                            max = pos < src.length() && Character.isDigit(src.charAt(pos)) ? number(brace) : -1;
                            skipSpace();
                        }
                        if (pos >= src.length() || src.charAt(pos) != '}') throw error("expected '}'", pos);
                        pos++;
                        if (max >= 0 && max < min) throw error("repetition {" + min + "," + max + "} is empty", brace);
                    }
                    if (min >= 0) {
                        if (itemStart == seq.size()) throw error("repetition of an empty literal", pos - 1);
                        List<Item> unit = new ArrayList<>(seq.subList(itemStart, seq.size()));
                        seq.subList(itemStart, seq.size()).clear();
                        repeat(seq, unit, min, max, owner);
                    }
                }
            }
            return seq;
        }

        /** Appends {@code unit{min,max}} (max -1: unbounded) to {@code seq}. */
        private void repeat(List<Item> seq, List<Item> unit, int min, int max, String owner) {
            Item x = unit.size() == 1 ? unit.getFirst() : new Item(REF, synthetic(owner, List.of(unit)));
            for (int i = 0; i < min; i++) seq.add(x);
            count(min);
            if (max < 0) {
                // r ::= x r | ε
                int r = newRule(owner + "#" + rules.size(), null);
                rules.set(r, List.of(List.of(x, new Item(REF, r)), List.of()));
                count(5);
                seq.add(new Item(REF, r));
            } else if (max > min) {
                // A chain of optional copies, built from its end: o_k ::= x o_{k+1} | ε, o_last ::= x | ε.
                int next = synthetic(owner, List.of(List.of(x), List.of()));
                for (int k = max - min - 1; k > 0; k--)
                    next = synthetic(owner, List.of(List.of(x, new Item(REF, next)), List.of()));
                seq.add(new Item(REF, next));
            }
        }

        private int number(int at) {
            int start = pos;
            while (pos < src.length() && Character.isDigit(src.charAt(pos))) pos++;
            if (start == pos) throw error("expected a number in '{...}'", pos);
            if (pos - start > 9) throw error("repetition count too large", at);
            int n = Integer.parseInt(src, start, pos, 10);
            if (n > limits.maxRepetition())
                throw error("repetition count " + n + " exceeds the limit of " + limits.maxRepetition(), at);
            return n;
        }

        private int charClass() {
            int at = pos++;
            boolean negated = pos < src.length() && src.charAt(pos) == '^';
            if (negated) pos++;
            List<int[]> ranges = new ArrayList<>();
            while (true) {
                if (pos >= src.length()) throw error("unterminated character class", at);
                if (src.charAt(pos) == ']') {
                    pos++;
                    break;
                }
                int lo = character(at), hi = lo;
                if (pos + 1 < src.length() && src.charAt(pos) == '-' && src.charAt(pos + 1) != ']') {
                    pos++;
                    hi = character(at);
                    if (hi < lo) throw error("character range is reversed", pos - 1);
                }
                ranges.add(new int[] {lo, hi});
            }
            if (ranges.isEmpty() && !negated) throw error("empty character class", at);
            int[] merged = merge(ranges);
            if (negated) merged = complement(merged);
            if (merged.length == 0) throw error("character class matches nothing", at);
            return classOf(merged);
        }

        private int classOf(int[] ranges) {
            String key = Arrays.toString(ranges);
            Integer id = classIds.get(key);
            if (id != null) return id;
            classList.add(ranges);
            classIds.put(key, classList.size() - 1);
            return classList.size() - 1;
        }

        /** One character of a literal or class, escapes resolved. */
        private int character(int literalStart) {
            if (pos >= src.length()) throw error("unterminated literal", literalStart);
            int cp = src.codePointAt(pos);
            if (cp != '\\') {
                pos += Character.charCount(cp);
                return cp;
            }
            int at = pos;
            pos++;
            if (pos >= src.length()) throw error("unterminated escape", at);
            char e = src.charAt(pos++);
            return switch (e) {
                case 'n' -> '\n';
                case 'r' -> '\r';
                case 't' -> '\t';
                case '\\', '"', '[', ']', '-', '^', '/', '\'' -> e;
                case 'x' -> hex(2, at);
                case 'u' -> hex(4, at);
                case 'U' -> hex(8, at);
                default -> throw error("unknown escape '\\" + e + "'", at);
            };
        }

        private int hex(int digits, int at) {
            if (pos + digits > src.length()) throw error("incomplete hexadecimal escape", at);
            int v = 0;
            for (int i = 0; i < digits; i++) {
                int d = Character.digit(src.charAt(pos++), 16);
                if (d < 0) throw error("bad hexadecimal escape", at);
                v = v << 4 | d;
            }
            if (v > 0x10FFFF || v < 0) throw error("escape is beyond U+10FFFF", at);
            return v;
        }

        private String name() {
            int start = pos;
            while (pos < src.length() && isWordChar(src.charAt(pos))) pos++;
            if (start == pos) throw error("expected a rule name", pos);
            return src.substring(start, pos);
        }

        /** Whether a word at {@code pos} is followed by {@code ::=} (the next rule begins). */
        private boolean startsRule() {
            int p = pos;
            while (p < src.length() && isWordChar(src.charAt(p))) p++;
            while (p < src.length() && (src.charAt(p) == ' ' || src.charAt(p) == '\t')) p++;
            return src.startsWith("::=", p);
        }

        private static boolean isWordChar(char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        }

        private void skipSpace() {
            while (pos < src.length()) {
                char c = src.charAt(pos);
                if (c == ' ' || c == '\t' || c == '\n' || c == '\r') pos++;
                else if (c == '#') {
                    while (pos < src.length() && src.charAt(pos) != '\n') pos++;
                } else break;
            }
        }

        private GrammarException error(String message, int offset) {
            int line = 1, column = 1;
            for (int i = 0; i < Math.min(offset, src.length()); i++) {
                if (src.charAt(i) == '\n') {
                    line++;
                    column = 1;
                } else column++;
            }
            return new GrammarException(message, line, column);
        }

        /**
         * Refuses rules that can reach themselves before consuming a character: the matcher expands references
         * eagerly and would never stop. A rule is nullable when some alternative is all nullable items.
         */
        private void checkLeftRecursion() {
            int n = rules.size();
            boolean[] nullable = new boolean[n];
            for (boolean changed = true; changed; ) {
                changed = false;
                for (int r = 0; r < n; r++) {
                    if (nullable[r]) continue;
                    for (List<Item> alt : rules.get(r)) {
                        boolean all = true;
                        for (Item it : alt)
                            if (it.kind() == TERM || !nullable[it.arg()]) {
                                all = false;
                                break;
                            }
                        if (all) {
                            nullable[r] = true;
                            changed = true;
                            break;
                        }
                    }
                }
            }
            // Iterative DFS over "r may start with r'" edges; a back edge is left recursion.
            byte[] color = new byte[n];
            int[] stack = new int[n], edge = new int[n];
            List<int[]> leftRefs = new ArrayList<>(n);
            for (int r = 0; r < n; r++) leftRefs.add(null);
            for (int start = 0; start < n; start++) {
                if (color[start] != 0) continue;
                int sp = 0;
                edge[0] = 0;
                stack[0] = start;
                color[start] = 1;
                leftRefs.set(start, leftRefs(rules.get(start), nullable));
                while (sp >= 0) {
                    int r = stack[sp];
                    int[] refs = leftRefs.get(r);
                    if (edge[sp] < refs.length) {
                        int to = refs[edge[sp]++];
                        if (color[to] == 1) {
                            String name = names.get(to);
                            String shown = name.contains("#") ? name.substring(0, name.indexOf('#')) : name;
                            throw new GrammarException(
                                    "rule '" + shown + "' can recurse without consuming input (left recursion, or a"
                                            + " repetition of something that may be empty)",
                                    0,
                                    0);
                        }
                        if (color[to] == 0) {
                            color[to] = 1;
                            leftRefs.set(to, leftRefs(rules.get(to), nullable));
                            stack[++sp] = to;
                            edge[sp] = 0;
                        }
                    } else {
                        color[r] = 2;
                        sp--;
                    }
                }
            }
        }

        private static int[] leftRefs(List<List<Item>> alts, boolean[] nullable) {
            List<Integer> out = new ArrayList<>();
            for (List<Item> alt : alts) {
                for (Item it : alt) {
                    if (it.kind() == TERM) break;
                    out.add(it.arg());
                    if (!nullable[it.arg()]) break;
                }
            }
            return out.stream().mapToInt(Integer::intValue).toArray();
        }

        private Grammar compile(int root) {
            int total = 0;
            for (List<List<Item>> r : rules) for (List<Item> alt : r) total += alt.size() + 1;
            byte[] kind = new byte[total];
            int[] arg = new int[total];
            int[][] alts = new int[rules.size()][];
            int p = 0;
            for (int r = 0; r < rules.size(); r++) {
                List<List<Item>> body = rules.get(r);
                alts[r] = new int[body.size()];
                for (int a = 0; a < body.size(); a++) {
                    alts[r][a] = p;
                    for (Item it : body.get(a)) {
                        kind[p] = it.kind();
                        arg[p++] = it.arg();
                    }
                    kind[p++] = END;
                }
            }
            return new Grammar(
                    kind, arg, alts, classList.toArray(int[][]::new), names.toArray(String[]::new), root, limits, src);
        }
    }

    private static int[] merge(List<int[]> ranges) {
        ranges.sort((a, b) -> Integer.compare(a[0], b[0]));
        int[] out = new int[ranges.size() * 2];
        int n = 0;
        for (int[] r : ranges) {
            if (n > 0 && r[0] <= out[n - 1] + 1) out[n - 1] = Math.max(out[n - 1], r[1]);
            else {
                out[n++] = r[0];
                out[n++] = r[1];
            }
        }
        return Arrays.copyOf(out, n);
    }

    private static int[] complement(int[] merged) {
        int[] out = new int[merged.length + 2];
        int n = 0, next = 0;
        for (int i = 0; i < merged.length; i += 2) {
            if (merged[i] > next) {
                out[n++] = next;
                out[n++] = merged[i] - 1;
            }
            next = merged[i + 1] + 1;
        }
        if (next <= 0x10FFFF) {
            out[n++] = next;
            out[n++] = 0x10FFFF;
        }
        return Arrays.copyOf(out, n);
    }
}
