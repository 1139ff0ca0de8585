package dev.anvil.serving.chat;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.el.ExtendedSyntaxBuilder;
import com.hubspot.jinjava.el.TruthyTypeConverter;
import com.hubspot.jinjava.el.ext.ExtendedParser;
import com.hubspot.jinjava.el.ext.NamedParameterOperator;
import com.hubspot.jinjava.objects.collections.PyList;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import jinjava.de.odysseus.el.ExpressionFactoryImpl;
import jinjava.de.odysseus.el.tree.Bindings;
import jinjava.de.odysseus.el.tree.TreeStore;
import jinjava.de.odysseus.el.tree.impl.Builder;
import jinjava.de.odysseus.el.tree.impl.Cache;
import jinjava.de.odysseus.el.tree.impl.Parser;
import jinjava.de.odysseus.el.tree.impl.Scanner.ScanException;
import jinjava.de.odysseus.el.tree.impl.Scanner.Symbol;
import jinjava.de.odysseus.el.tree.impl.ast.AstDot;
import jinjava.de.odysseus.el.tree.impl.ast.AstNode;
import jinjava.de.odysseus.el.tree.impl.ast.AstParameters;
import jinjava.de.odysseus.el.tree.impl.ast.AstRightValue;
import jinjava.de.odysseus.el.tree.impl.ast.AstUnary;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELException;
import jinjava.javax.el.ExpressionFactory;

/**
 * Jinja expression syntax where jinjava's parser differs from Python Jinja's, in ways published chat templates rely
 * on:
 *
 * <ul>
 *   <li>{@code not} binds looser than comparisons and tests: {@code not tools is defined} is
 *       {@code not (tools is defined)} (jinjava reads {@code (not tools) is defined}, which is always true);</li>
 *   <li>a keyword argument's value is a whole expression: {@code namespace(i=messages|length - 1)} (jinjava applies
 *       {@code - 1} to the keyword argument itself);</li>
 *   <li>slices take a step: {@code messages[::-1]}, {@code s[1:-1:2]}.</li>
 * </ul>
 */
final class PythonExpressions {

    private PythonExpressions() {}

    /** A Jinjava whose expressions are parsed by {@link PythonParser}. */
    static Jinjava jinjava(JinjavaConfig config) {
        ExpressionFactory factory = new ExpressionFactoryImpl(
                new TreeStore(new PythonSyntaxBuilder(), new Cache(1000)), new TruthyTypeConverter());
        return new Jinjava(config) {
            @Override
            public ExpressionFactory getExpressionFactory() {
                return factory;
            }
        };
    }

    static final class PythonSyntaxBuilder extends ExtendedSyntaxBuilder {
        private static final long serialVersionUID = 1L;

        /** The features jinjava's own expression factory enables (juel's JEE6 profile). */
        PythonSyntaxBuilder() {
            super(Builder.Feature.METHOD_INVOCATIONS, Builder.Feature.VARARGS);
        }

        @Override
        protected Parser createParser(String expression) {
            return new PythonParser(this, expression);
        }
    }

    static final class PythonParser extends ExtendedParser {

        PythonParser(Builder context, String input) {
            super(context, input);
        }

        @Override
        protected AstNode unary(boolean required) throws ScanException, ParseException {
            if (getToken().getSymbol() == Symbol.NOT) {
                consumeToken();
                return createAstUnary(eq(true), AstUnary.NOT);
            }
            return super.unary(required);
        }

        @Override
        protected AstParameters params(Symbol left, Symbol right) throws ScanException, ParseException {
            consumeToken(left);
            List<AstNode> l = new ArrayList<>();
            AstNode v = argument(false);
            if (v != null) {
                l.add(v);
                while (getToken().getSymbol() == Symbol.COMMA) {
                    consumeToken();
                    // Python allows a trailing comma before the closing bracket
                    if (getToken().getSymbol() == right) break;
                    l.add(argument(true));
                }
            }
            consumeToken(right);
            return createAstParameters(l);
        }

        /** {@code name=expression} (a keyword argument) or an expression. */
        private AstNode argument(boolean required) throws ScanException, ParseException {
            if (getToken().getSymbol() == Symbol.IDENTIFIER
                    && "=".equals(lookahead(0).getImage())
                    && !"=".equals(lookahead(1).getImage())) {
                String name = consumeToken().getImage();
                consumeToken(); // '='
                return NamedParameterOperator.HANDLER.createAstNode(identifier(name), expr(true));
            }
            return expr(required);
        }

        @Override
        protected AstNode value() throws ScanException, ParseException {
            boolean lvalue = true;
            AstNode v = nonliteral();
            if (v == null) {
                v = literal();
                if (v == null) return null;
                lvalue = false;
            }
            while (true) {
                switch (getToken().getSymbol()) {
                    case DOT -> {
                        consumeToken();
                        String name = consumeToken(Symbol.IDENTIFIER).getImage();
                        AstDot dot = createAstDot(v, name, lvalue);
                        v = getToken().getSymbol() == Symbol.LPAREN
                                        && context.isEnabled(Builder.Feature.METHOD_INVOCATIONS)
                                ? createAstMethod(dot, params())
                                : dot;
                    }
                    case LBRACK -> {
                        consumeToken();
                        AstNode start = expr(false);
                        boolean strict = !context.isEnabled(Builder.Feature.NULL_PROPERTIES);
                        if (getToken().getSymbol() == Symbol.RBRACK) {
                            consumeToken();
                            var bracket = createAstBracket(v, start, lvalue, strict);
                            v = getToken().getSymbol() == Symbol.LPAREN
                                            && context.isEnabled(Builder.Feature.METHOD_INVOCATIONS)
                                    ? createAstMethod(bracket, params())
                                    : bracket;
                        } else {
                            consumeToken(Symbol.COLON);
                            AstNode stop = expr(false);
                            AstNode step = null;
                            if (getToken().getSymbol() == Symbol.COLON) {
                                consumeToken();
                                step = expr(false);
                            }
                            consumeToken(Symbol.RBRACK);
                            v = new AstSlice(v, start, stop, step);
                        }
                    }
                    default -> {
                        return v;
                    }
                }
            }
        }
    }

    /** Python's {@code seq[start:stop:step]} on lists and strings. */
    static final class AstSlice extends AstRightValue {
        private final AstNode base, start, stop, step;

        AstSlice(AstNode base, AstNode start, AstNode stop, AstNode step) {
            this.base = base;
            this.start = start;
            this.stop = stop;
            this.step = step;
        }

        @Override
        public Object eval(Bindings bindings, ELContext context) {
            Object value = base.eval(bindings, context);
            if (value == null) return null;
            List<?> items;
            String text = null;
            if (value instanceof String s) {
                text = s;
                items = null;
            } else if (value instanceof List<?> list) {
                items = list;
            } else if (value instanceof Iterable<?> iterable) {
                List<Object> copy = new ArrayList<>();
                iterable.forEach(copy::add);
                items = copy;
            } else if (value.getClass().isArray() && value instanceof Object[] array) {
                items = Arrays.asList(array);
            } else {
                throw new ELException("'" + value.getClass().getSimpleName() + "' object is not subscriptable");
            }
            int length = text != null ? text.length() : items.size();
            long by = index(step, bindings, context, 1);
            if (by == 0) throw new ELException("slice step cannot be zero");
            // A step longer than the sequence takes one element at most; clamped so that i += by cannot overflow.
            by = Math.max(-(length + 1L), Math.min(length + 1L, by));
            long from, to;
            if (by > 0) {
                from = bound(index(start, bindings, context, 0), length, 0, length);
                to = bound(index(stop, bindings, context, length), length, 0, length);
            } else {
                from = bound(index(start, bindings, context, length - 1L), length, -1, length - 1L);
                to = bound(index(stop, bindings, context, Long.MIN_VALUE), length, -1, length - 1L);
            }
            StringBuilder chars = text != null ? new StringBuilder() : null;
            List<Object> out = text != null ? null : new ArrayList<>();
            for (long i = from; by > 0 ? i < to : i > to; i += by) {
                if (chars != null) chars.append(text.charAt((int) i));
                else out.add(items.get((int) i));
            }
            return chars != null ? chars.toString() : new PyList(out);
        }

        /** Python's slice index normalisation: negative counts from the end, then clamped to [low, high]. */
        private static long bound(long index, int length, long low, long high) {
            if (index == Long.MIN_VALUE) return -1; // no stop with a negative step: down to the first element
            if (index < 0) index += length;
            return Math.max(low, Math.min(high, index));
        }

        private static long index(AstNode node, Bindings bindings, ELContext context, long fallback) {
            if (node == null) return fallback;
            Object v = node.eval(bindings, context);
            if (v == null) return fallback;
            if (v instanceof Number n) return n.longValue();
            throw new ELException("slice indices must be integers or None, got '" + v + "'");
        }

        @Override
        public void appendStructure(StringBuilder b, Bindings bindings) {
            base.appendStructure(b, bindings);
            b.append('[');
            if (start != null) start.appendStructure(b, bindings);
            b.append(':');
            if (stop != null) stop.appendStructure(b, bindings);
            if (step != null) {
                b.append(':');
                step.appendStructure(b, bindings);
            }
            b.append(']');
        }

        @Override
        public int getCardinality() {
            return 4;
        }

        @Override
        public AstNode getChild(int i) {
            return switch (i) {
                case 0 -> base;
                case 1 -> start;
                case 2 -> stop;
                case 3 -> step;
                default -> null;
            };
        }

        @Override
        public String toString() {
            return "[::]";
        }
    }
}
