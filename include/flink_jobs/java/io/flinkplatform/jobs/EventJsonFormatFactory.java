package io.flinkplatform.jobs;

import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.Collectors;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.format.DecodingFormat;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.factories.DeserializationFormatFactory;
import org.apache.flink.table.factories.DynamicTableFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.RowType;

/**
 * Table format {@code 'format' = 'event-json'}: each record (file line, Kinesis record) is
 * one JSON event, parsed once into typed columns named by their JSON paths, with
 * {@code line} and {@code parse_problem} (see {@link EventRowParser}). Malformed records are
 * rows with a problem, never errors: the jobs route them to the dead letter.
 *
 * <p>Options: {@code event-json.optional-fields}, comma-separated paths that may be absent;
 * {@code event-json.rowtime-of}, the BIGINT column the {@code rowtime} column mirrors.
 */
public class EventJsonFormatFactory implements DeserializationFormatFactory {
    public static final String IDENTIFIER = "event-json";
    public static final ConfigOption<String> OPTIONAL_FIELDS = ConfigOptions.key("optional-fields")
            .stringType().defaultValue("")
            .withDescription("Comma-separated JSON paths that may be absent (never a dead-letter reason).");
    public static final ConfigOption<String> ROWTIME_OF = ConfigOptions.key("rowtime-of")
            .stringType().defaultValue("")
            .withDescription("BIGINT column (epoch ms) that the TIMESTAMP_LTZ(3) column 'rowtime' mirrors.");

    @Override
    public DecodingFormat<DeserializationSchema<RowData>> createDecodingFormat(
            DynamicTableFactory.Context context, ReadableConfig formatOptions) {
        FactoryUtil.validateFactoryOptions(this, formatOptions);
        Set<String> optional = optionalFields(formatOptions.get(OPTIONAL_FIELDS));
        String rowtimeOf = formatOptions.get(ROWTIME_OF);
        return new DecodingFormat<DeserializationSchema<RowData>>() {
            @Override
            public DeserializationSchema<RowData> createRuntimeDecoder(
                    DynamicTableSource.Context sourceContext, DataType physicalType) {
                RowType rowType = (RowType) physicalType.getLogicalType();
                new EventRowParser(rowType, optional, rowtimeOf); // bad columns fail at planning
                return new Schema(rowType, optional, rowtimeOf,
                        sourceContext.createTypeInformation(physicalType));
            }

            @Override
            public ChangelogMode getChangelogMode() {
                return ChangelogMode.insertOnly();
            }
        };
    }

    static Set<String> optionalFields(String commaSeparated) {
        return Arrays.stream(commaSeparated.split(",")).map(String::trim).filter(s -> !s.isEmpty())
                .collect(Collectors.toCollection(HashSet::new));
    }

    @Override
    public String factoryIdentifier() {
        return IDENTIFIER;
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        return Collections.emptySet();
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        return new HashSet<>(Arrays.asList(OPTIONAL_FIELDS, ROWTIME_OF));
    }

    /** The runtime decoder: one {@link EventRowParser} per task. */
    static final class Schema implements DeserializationSchema<RowData> {
        private static final long serialVersionUID = 1L;
        private final RowType rowType;
        private final HashSet<String> optional;
        private final String rowtimeOf;
        private final TypeInformation<RowData> producedType;
        private transient EventRowParser parser;

        Schema(RowType rowType, Set<String> optional, String rowtimeOf,
                TypeInformation<RowData> producedType) {
            this.rowType = rowType;
            this.optional = new HashSet<>(optional);
            this.rowtimeOf = rowtimeOf;
            this.producedType = producedType;
        }

        @Override
        public RowData deserialize(byte[] message) {
            if (parser == null) parser = new EventRowParser(rowType, optional, rowtimeOf);
            return parser.parse(message);
        }

        @Override
        public boolean isEndOfStream(RowData nextElement) {
            return false;
        }

        @Override
        public TypeInformation<RowData> getProducedType() {
            return producedType;
        }
    }
}
