package io.flinkplatform.jobs;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.util.BufferRecycler;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.util.RecyclerPool;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.data.DecimalData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.data.binary.BinaryStringData;
import org.apache.flink.table.types.logical.DecimalType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.LogicalTypeRoot;
import org.apache.flink.table.types.logical.RowType;

/**
 * One JSON event line to one typed row, parsed once, with the syntax and type checks of
 * {@code streaming_events/schema.py} (the reference the tests compare against).
 *
 * <p>Columns are JSON paths ({@code amount}, {@code location.lat}: one nesting level) of
 * type STRING, DOUBLE, DECIMAL, BIGINT, INT or BOOLEAN, plus two optional special columns:
 * {@code line} (the raw text) and {@code parse_problem}: NULL, or the first problem in
 * column order, named as schema.py names it: {@code bad_json}, {@code not_an_object},
 * {@code missing_field:<name>} (absent or JSON null), {@code bad_type:<name>} (STRING needs
 * a JSON string, DOUBLE/DECIMAL a JSON number, BIGINT/INT an integer; booleans are not
 * numbers). A nested column that is absent or mistyped is {@code missing_field:<parent>},
 * checked after every top-level field. Optional columns are filled when valid and never
 * reported; mistyped values are NULL. Known difference: Python's json accepts NaN and
 * Infinity, Jackson does not (bad_json).
 *
 * <p>A third special column, {@code rowtime} (TIMESTAMP_LTZ(3)), mirrors the epoch
 * milliseconds of the BIGINT column named by {@code rowtimeOf} (epoch 0 when it is NULL,
 * as {@code TO_TIMESTAMP_LTZ(COALESCE(col, 0), 3)}): a source can declare its watermark on
 * it, with no Calc (and no copy of every column) between the scan and the watermark.
 */
final class EventRowParser {
    static final String LINE = "line";
    static final String PROBLEM = "parse_problem";
    static final String ROWTIME = "rowtime";
    private static final int ABSENT = 0, OK = 1, BAD = 2;
    private static final int STRING = 0, DOUBLE = 1, DECIMAL = 2, BIGINT = 3, INT = 4, BOOLEAN = 5;
    private static final StringData BAD_JSON = StringData.fromString("bad_json");
    private static final StringData NOT_AN_OBJECT = StringData.fromString("not_an_object");

    private final int arity;
    private final int lineSlot;
    private final int problemSlot;
    private final int rowtimeSlot;
    private final int rowtimeSource;
    private final int[] kind;
    private final int[] precision;
    private final int[] scale;
    private final Map<String, Integer> topSlots = new HashMap<>();
    private final Map<String, Integer> parentIndex = new HashMap<>();
    private final List<Map<String, Integer>> childSlots = new ArrayList<>();
    /** Top-level checks in column order: a slot (>= 0) or a parent (-1 - its index). */
    private final int[] topChecks;
    private final StringData[] missing;
    private final StringData[] badType;
    /** Required nested slots in column order, and their parent's missing_field reason. */
    private final int[] nestedRequired;
    private final StringData[] nestedMissing;
    private final JsonFactory factory = JsonFactory.builder().recyclerPool(new OneBufferPool()).build();

    EventRowParser(RowType rowType, Set<String> optional) {
        this(rowType, optional, "");
    }

    EventRowParser(RowType rowType, Set<String> optional, String rowtimeOf) {
        List<String> names = rowType.getFieldNames();
        arity = names.size();
        kind = new int[arity];
        precision = new int[arity];
        scale = new int[arity];
        int line = -1, problem = -1, rowtime = -1;
        Map<String, Integer> checks = new LinkedHashMap<>();
        List<Integer> nested = new ArrayList<>();
        List<StringData> nestedReasons = new ArrayList<>();
        for (int i = 0; i < arity; i++) {
            String name = names.get(i);
            LogicalType type = rowType.getTypeAt(i);
            if (name.equals(ROWTIME)) {
                if (type.getTypeRoot() != LogicalTypeRoot.TIMESTAMP_WITH_LOCAL_TIME_ZONE) {
                    throw new ValidationException("event-json: column 'rowtime' must be TIMESTAMP_LTZ(3)");
                }
                rowtime = i;
                continue;
            }
            if (name.equals(LINE) || name.equals(PROBLEM)) {
                if (kind(name, type) != STRING) {
                    throw new ValidationException("event-json: column '" + name + "' must be STRING");
                }
                if (name.equals(LINE)) line = i; else problem = i;
                continue;
            }
            kind[i] = kind(name, type);
            if (kind[i] == DECIMAL) {
                precision[i] = ((DecimalType) type).getPrecision();
                scale[i] = ((DecimalType) type).getScale();
            }
            String[] path = name.split("\\.");
            if (path.length > 2) {
                throw new ValidationException(
                        "event-json: column '" + name + "': at most one nesting level (parent.field)");
            }
            if (path.length == 1) {
                topSlots.put(name, i);
                if (!optional.contains(name)) checks.putIfAbsent(name, i);
                continue;
            }
            Integer parent = parentIndex.get(path[0]);
            if (parent == null) {
                parent = childSlots.size();
                parentIndex.put(path[0], parent);
                childSlots.add(new HashMap<>());
                checks.putIfAbsent(path[0], -1 - parent);
            }
            childSlots.get(parent).put(path[1], i);
            if (!optional.contains(name)) {
                nested.add(i);
                nestedReasons.add(StringData.fromString("missing_field:" + path[0]));
            }
        }
        lineSlot = line;
        problemSlot = problem;
        rowtimeSlot = rowtime;
        rowtimeSource = rowtime < 0 ? -1 : names.indexOf(rowtimeOf);
        if (rowtime >= 0 && (rowtimeSource < 0 || kind[rowtimeSource] != BIGINT)) {
            throw new ValidationException("event-json: column 'rowtime' needs option "
                    + "'event-json.rowtime-of' naming a BIGINT column of epoch milliseconds");
        }
        topChecks = checks.values().stream().mapToInt(Integer::intValue).toArray();
        String[] checkNames = checks.keySet().toArray(new String[0]);
        missing = Arrays.stream(checkNames).map(n -> StringData.fromString("missing_field:" + n))
                .toArray(StringData[]::new);
        badType = Arrays.stream(checkNames).map(n -> StringData.fromString("bad_type:" + n))
                .toArray(StringData[]::new);
        nestedRequired = nested.stream().mapToInt(Integer::intValue).toArray();
        nestedMissing = nestedReasons.toArray(new StringData[0]);
    }

    private static int kind(String name, LogicalType type) {
        switch (type.getTypeRoot()) {
            case CHAR: case VARCHAR: return STRING;
            case DOUBLE: return DOUBLE;
            case DECIMAL: return DECIMAL;
            case BIGINT: return BIGINT;
            case INTEGER: return INT;
            case BOOLEAN: return BOOLEAN;
            default:
                throw new ValidationException("event-json: column '" + name + "' has type " + type
                        + "; use STRING, DOUBLE, DECIMAL, BIGINT, INT or BOOLEAN");
        }
    }

    /** The row of one line (never null: an unparsable line has only line and parse_problem). */
    GenericRowData parse(byte[] bytes) {
        GenericRowData row = new GenericRowData(arity);
        if (lineSlot >= 0) row.setField(lineSlot, BinaryStringData.fromBytes(bytes));
        int[] state = new int[arity];
        int[] parentState = new int[childSlots.size()];
        StringData problem;
        try (JsonParser parser = factory.createParser(bytes)) {
            JsonToken first = parser.nextToken();
            if (first == JsonToken.START_OBJECT) {
                readObject(parser, row, state, parentState);
                problem = parser.nextToken() == null ? problemOf(state, parentState) : BAD_JSON;
            } else if (first == null) {
                problem = BAD_JSON;
            } else {
                parser.skipChildren();
                problem = parser.nextToken() == null ? NOT_AN_OBJECT : BAD_JSON;
            }
        } catch (IOException | RuntimeException malformed) {
            problem = BAD_JSON;
        }
        if (problemSlot >= 0) row.setField(problemSlot, problem);
        if (rowtimeSlot >= 0) {
            Object millis = row.getField(rowtimeSource);
            row.setField(rowtimeSlot, TimestampData.fromEpochMillis(millis == null ? 0L : (Long) millis));
        }
        return row;
    }

    private StringData problemOf(int[] state, int[] parentState) {
        for (int c = 0; c < topChecks.length; c++) {
            int s = topChecks[c] >= 0 ? state[topChecks[c]] : parentState[-1 - topChecks[c]];
            if (s == ABSENT) return missing[c];
            if (s == BAD) return badType[c];
        }
        for (int n = 0; n < nestedRequired.length; n++) {
            if (state[nestedRequired[n]] != OK) return nestedMissing[n];
        }
        return null;
    }

    private void readObject(JsonParser parser, GenericRowData row, int[] state, int[] parentState)
            throws IOException {
        JsonToken token;
        while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
            String name = parser.currentName();
            JsonToken value = parser.nextToken();
            Integer slot = topSlots.get(name);
            Integer parent = slot == null ? parentIndex.get(name) : null;
            if (slot != null) {
                read(parser, value, slot, row, state);
            } else if (parent != null) {
                Map<String, Integer> children = childSlots.get(parent);
                for (int child : children.values()) {
                    state[child] = ABSENT; // a repeated key replaces the earlier object, as in Python
                    row.setField(child, null);
                }
                if (value == JsonToken.START_OBJECT) {
                    parentState[parent] = OK;
                    readChildren(parser, children, row, state);
                    continue;
                }
                parentState[parent] = value == JsonToken.VALUE_NULL ? ABSENT : BAD;
            }
            parser.skipChildren();
        }
        if (token != JsonToken.END_OBJECT) throw new IOException("unterminated object");
    }

    private void readChildren(JsonParser parser, Map<String, Integer> children, GenericRowData row,
            int[] state) throws IOException {
        JsonToken token;
        while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
            Integer slot = children.get(parser.currentName());
            JsonToken value = parser.nextToken();
            if (slot != null) read(parser, value, slot, row, state);
            parser.skipChildren();
        }
        if (token != JsonToken.END_OBJECT) throw new IOException("unterminated object");
    }

    private void read(JsonParser parser, JsonToken token, int slot, GenericRowData row, int[] state)
            throws IOException {
        Object value = token == JsonToken.VALUE_NULL ? null : convert(parser, token, slot);
        state[slot] = token == JsonToken.VALUE_NULL ? ABSENT : value == null ? BAD : OK;
        row.setField(slot, value);
    }

    private Object convert(JsonParser parser, JsonToken token, int slot) throws IOException {
        boolean number = token == JsonToken.VALUE_NUMBER_INT || token == JsonToken.VALUE_NUMBER_FLOAT;
        switch (kind[slot]) {
            case STRING: return token == JsonToken.VALUE_STRING ? text(parser) : null;
            case DOUBLE: return number ? parser.getDoubleValue() : null;
            case DECIMAL: return number ? decimal(parser, precision[slot], scale[slot]) : null;
            case BIGINT:
                return token == JsonToken.VALUE_NUMBER_INT
                        && parser.getNumberType() != JsonParser.NumberType.BIG_INTEGER
                        ? parser.getLongValue() : null;
            case INT:
                return token == JsonToken.VALUE_NUMBER_INT
                        && parser.getNumberType() == JsonParser.NumberType.INT
                        ? parser.getIntValue() : null;
            default:
                return token == JsonToken.VALUE_TRUE ? Boolean.TRUE
                        : token == JsonToken.VALUE_FALSE ? Boolean.FALSE : null;
        }
    }

    /** UTF-8 bytes straight from the parser's characters (ASCII fast path, no String). */
    private static StringData text(JsonParser parser) throws IOException {
        char[] chars = parser.getTextCharacters();
        int offset = parser.getTextOffset(), length = parser.getTextLength();
        byte[] out = new byte[length];
        for (int i = 0; i < length; i++) {
            char c = chars[offset + i];
            if (c >= 0x80) return StringData.fromString(new String(chars, offset, length));
            out[i] = (byte) c;
        }
        return BinaryStringData.fromBytes(out);
    }

    /** DECIMAL(p, s) of a JSON number, rounded HALF_UP like CAST; NULL when it does not fit. */
    private static DecimalData decimal(JsonParser parser, int precision, int scale) throws IOException {
        if (precision <= 18) {
            char[] chars = parser.getTextCharacters();
            int i = parser.getTextOffset(), end = i + parser.getTextLength();
            boolean negative = chars[i] == '-';
            long unscaled = 0;
            int digits = 0, fraction = -1;
            for (i = negative ? i + 1 : i; i < end; i++) {
                char c = chars[i];
                if (c == '.' && fraction < 0) {
                    fraction = 0;
                } else if (c >= '0' && c <= '9') {
                    unscaled = unscaled * 10 + (c - '0');
                    if (++digits > 18) break;
                    if (fraction >= 0) fraction++;
                } else {
                    digits = Integer.MAX_VALUE; // exponent: the exact path below
                    break;
                }
            }
            fraction = Math.max(fraction, 0);
            if (digits <= 18 && fraction <= scale && digits + scale - fraction <= precision) {
                for (int k = fraction; k < scale; k++) unscaled *= 10;
                return DecimalData.fromUnscaledLong(negative ? -unscaled : unscaled, precision, scale);
            }
        }
        return DecimalData.fromBigDecimal(parser.getDecimalValue(), precision, scale);
    }

    /** Jackson's buffers, kept for this parser's single task thread (no ThreadLocal lookup). */
    private static final class OneBufferPool implements RecyclerPool<BufferRecycler> {
        private static final long serialVersionUID = 1L;
        private transient BufferRecycler cached;

        @Override
        public BufferRecycler acquirePooled() {
            BufferRecycler recycler = cached;
            cached = null;
            return recycler != null ? recycler : new BufferRecycler();
        }

        @Override
        public void releasePooled(BufferRecycler recycler) {
            cached = recycler;
        }
    }
}
