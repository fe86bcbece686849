package io.flinkplatform.jobs;

import java.util.Optional;

import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.catalog.DataTypeFactory;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.functions.ScalarFunction;
import org.apache.flink.table.types.inference.TypeInference;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.logical.utils.LogicalTypeParser;

/**
 * {@code EVENT_ROW(line, 'ROW<...>', 'optional,paths')}: the {@code event-json} format as a
 * function, for lines that do not come from a connector (the generator source). Same
 * parser, same columns, same {@code parse_problem}.
 */
public class EventRow extends ScalarFunction {
    private transient String parsedType;
    private transient EventRowParser parser;

    public RowData eval(StringData line, String rowType, String optionalFields) {
        if (line == null) return null;
        if (!rowType.equals(parsedType)) {
            RowType type = (RowType) LogicalTypeParser.parse(rowType, getClass().getClassLoader());
            parser = new EventRowParser(type, EventJsonFormatFactory.optionalFields(optionalFields));
            parsedType = rowType;
        }
        return parser.parse(line.toBytes());
    }

    @Override
    public TypeInference getTypeInference(DataTypeFactory typeFactory) {
        return TypeInference.newBuilder()
                .typedArguments(DataTypes.STRING().bridgedTo(StringData.class), DataTypes.STRING(),
                        DataTypes.STRING())
                .outputTypeStrategy(call -> Optional.of(typeFactory.createDataType(
                        call.getArgumentValue(1, String.class).orElseThrow(() -> new ValidationException(
                                "EVENT_ROW: the row type (2nd argument) must be a string literal")))
                        .bridgedTo(RowData.class)))
                .build();
    }
}
