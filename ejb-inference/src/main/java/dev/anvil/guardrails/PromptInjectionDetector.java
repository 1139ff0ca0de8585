package dev.anvil.guardrails;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Recognises the common shapes of prompt injection: instructions to ignore or override earlier instructions,
 * requests to reveal the system prompt, "jailbreak" persona switches, and chat-template role markup typed into
 * a message (which would let user text impersonate the system turn). A policy can add its own patterns.
 * A heuristic, not a proof: it catches the phrasings attacks reuse, and says which one it matched.
 */
public final class PromptInjectionDetector {

    /** A named pattern; the name is what errors and logs report. */
    public record Rule(String name, Pattern pattern) {}

    private static final int FLAGS = Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE;

    static final List<Rule> BUILT_IN = List.of(
            new Rule(
                    "ignore_previous_instructions",
                    Pattern.compile(
                            "\\b(?:ignore|disregard|forget|override|skip)\\s+(?:all\\s+|any\\s+|every\\s+)?(?:of\\s+)?(?:the\\s+|your\\s+|my\\s+)?"
                                    + "(?:previous|prior|preceding|above|earlier|original|system)\\s+"
                                    + "(?:instructions?|prompts?|rules|directions|guidelines|messages?)",
                            FLAGS)),
            new Rule(
                    "reveal_system_prompt",
                    Pattern.compile(
                            "\\b(?:reveal|show|print|repeat|output|leak|disclose|tell\\s+me)\\s+(?:me\\s+)?(?:your|the)\\s+"
                                    + "(?:full\\s+|exact\\s+|hidden\\s+|secret\\s+|initial\\s+|original\\s+)?"
                                    + "(?:system\\s+prompt|system\\s+message|hidden\\s+instructions|initial\\s+instructions)",
                            FLAGS)),
            new Rule(
                    "jailbreak_persona",
                    Pattern.compile(
                            "\\b(?:you\\s+are\\s+now|act\\s+as|pretend\\s+to\\s+be|from\\s+now\\s+on\\s+you\\s+are)\\s+(?:an?\\s+)?"
                                    + "(?:DAN|jailbroken|unfiltered|unrestricted|uncensored)\\b|\\bdeveloper\\s+mode\\s+enabled\\b",
                            FLAGS)),
            new Rule(
                    "no_restrictions",
                    Pattern.compile(
                            "\\b(?:without|ignore|bypass)\\s+(?:any\\s+|all\\s+|your\\s+)?(?:safety\\s+|content\\s+)?"
                                    + "(?:restrictions|filters|guardrails|safety\\s+guidelines)\\b",
                            FLAGS)),
            new Rule(
                    "role_markup",
                    Pattern.compile(
                            "<\\|im_start\\|>|<\\|im_end\\|>|<\\|start_header_id\\|>|<<SYS>>|\\[/?INST]|<\\|system\\|>")));

    private final List<Rule> rules;

    private PromptInjectionDetector(List<Rule> rules) {
        this.rules = rules;
    }

    /** The built-in rules plus {@code extraPatterns} (regular expressions, matched case-insensitively). */
    public static PromptInjectionDetector withExtraPatterns(List<String> extraPatterns, String key) {
        List<Rule> all = new ArrayList<>(BUILT_IN);
        int i = 0;
        for (String p : extraPatterns) {
            if (p == null || p.isBlank()) continue;
            try {
                all.add(new Rule("custom_" + (++i), Pattern.compile(p.trim(), FLAGS)));
            } catch (PatternSyntaxException e) {
                throw new IllegalArgumentException(
                        key + ": '" + p + "' is not a valid regular expression: " + e.getDescription());
            }
        }
        return new PromptInjectionDetector(List.copyOf(all));
    }

    /** The first rule {@code text} matches, or null. */
    public Rule match(String text) {
        if (text == null || text.isEmpty()) return null;
        for (Rule r : rules) {
            Matcher m = r.pattern().matcher(text);
            if (m.find()) return r;
        }
        return null;
    }
}
