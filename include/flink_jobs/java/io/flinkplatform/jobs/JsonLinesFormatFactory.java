package io.flinkplatform.jobs;

import java.util.Collections;
import java.util.Set;

import org.apache.flink.api.common.serialization.BulkWriter;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.connector.file.table.factories.BulkWriterFormatFactory;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.format.EncodingFormat;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.factories.DynamicTableFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.RowType;

/**
 * File-sink format {@code 'format' = 'json-lines'}: one flat JSON object per row and line,
 * written straight from the row into a buffer ({@link JsonLinesWriter}).
 *
 * <p>The text is what Flink's {@code json} format writes with
 * {@code json.encode.decimal-as-plain-number}, except that {@code TIMESTAMP(p)} columns are
 * written as {@code CAST(ts AS STRING)} does ({@code yyyy-MM-dd HH:mm:ss.SSS} for p = 3).
 * As a bulk format, part files roll and commit on every checkpoint (exactly-once).
 * Supported column types: the flat scalar types the jobs write; any other fails at planning.
 */
public class JsonLinesFormatFactory implements BulkWriterFormatFactory {
    public static final String IDENTIFIER = "json-lines";

    @Override
    public EncodingFormat<BulkWriter.Factory<RowData>> createEncodingFormat(
            DynamicTableFactory.Context context, ReadableConfig formatOptions) {
        FactoryUtil.validateFactoryOptions(this, formatOptions);
        return new EncodingFormat<BulkWriter.Factory<RowData>>() {
            @Override
            public BulkWriter.Factory<RowData> createRuntimeEncoder(
                    DynamicTableSink.Context sinkContext, DataType physicalType) {
                RowType rowType = (RowType) physicalType.getLogicalType();
                new JsonLinesWriter(rowType, null); // unsupported columns fail at planning
                return out -> new JsonLinesWriter(rowType, out);
            }

            @Override
            public ChangelogMode getChangelogMode() {
                return ChangelogMode.insertOnly();
            }
        };
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
        return Collections.emptySet();
    }
}
