package io.flinkplatform.jobs;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.data.ArrayData;
import org.apache.flink.table.data.GenericArrayData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code JSON_FIELDS(line, 'a', 'b.c', ...)}: the text of the named scalar fields of a JSON
 * object line, parsed once (SQL's JSON_VALUE parses the whole line again for every field).
 *
 * <p>Returns an array with one element per path (dotted for nested objects): the field's
 * text exactly as written (numbers keep their digits), or NULL when the field is absent,
 * JSON null, an object or an array. Returns NULL when the line is not valid JSON (the
 * dead-letter reason {@code bad_json}) and all-NULL elements for JSON that is not an object.
 */
public class JsonFields extends ScalarFunction {
    private static final JsonFactory FACTORY = JsonFactory.builder().build();

    private transient String[] lastPaths;
    private transient Map<String, Integer> index;

    public @DataTypeHint(value = "ARRAY<STRING>", bridgedTo = ArrayData.class) ArrayData eval(
            @DataTypeHint(value = "STRING", bridgedTo = StringData.class) StringData line,
            String... paths) {
        if (line == null) {
            return null;
        }
        if (!Arrays.equals(paths, lastPaths)) {
            index = new HashMap<>();
            for (int i = 0; i < paths.length; i++) {
                index.put(paths[i], i);
            }
            lastPaths = paths.clone();
        }
        StringData[] values = new StringData[paths.length];
        try (JsonParser parser = FACTORY.createParser(line.toBytes())) {
            JsonToken first = parser.nextToken();
            if (first == JsonToken.START_OBJECT) {
                readObject(parser, "", values);
            } else if (first == null) {
                return null;
            } else {
                parser.skipChildren();
            }
            if (parser.nextToken() != null) {
                return null; // trailing content: not one JSON value
            }
        } catch (Exception malformed) {
            return null;
        }
        return new GenericArrayData(values);
    }

    private void readObject(JsonParser parser, String prefix, StringData[] values)
            throws java.io.IOException {
        JsonToken token;
        while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
            String path = prefix.isEmpty() ? parser.currentName() : prefix + parser.currentName();
            JsonToken value = parser.nextToken();
            if (value == JsonToken.START_OBJECT) {
                readObject(parser, path + ".", values);
            } else if (value == JsonToken.START_ARRAY) {
                parser.skipChildren();
            } else if (value != JsonToken.VALUE_NULL) {
                Integer slot = index.get(path);
                if (slot != null) {
                    values[slot] = StringData.fromString(parser.getText());
                }
            }
        }
        if (token != JsonToken.END_OBJECT) {
            throw new java.io.IOException("unterminated object");
        }
    }
}
