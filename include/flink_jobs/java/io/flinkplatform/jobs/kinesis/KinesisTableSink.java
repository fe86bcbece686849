package io.flinkplatform.jobs.kinesis;

import javax.annotation.Nullable;

import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.format.EncodingFormat;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.sink.SinkV2Provider;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.LogicalType;

/** Write side of {@code platform-kinesis}: insert-only rows to a {@link KinesisSink}. */
final class KinesisTableSink implements DynamicTableSink {
    private final KinesisClientSettings client;
    private final EncodingFormat<SerializationSchema<RowData>> format;
    private final DataType physicalType;
    private final int partitionKeyIndex;
    @Nullable private final LogicalType partitionKeyType;
    private final KinesisSink.Settings settings;

    KinesisTableSink(KinesisClientSettings client, EncodingFormat<SerializationSchema<RowData>> format,
            DataType physicalType, int partitionKeyIndex, @Nullable LogicalType partitionKeyType,
            KinesisSink.Settings settings) {
        this.client = client;
        this.format = format;
        this.physicalType = physicalType;
        this.partitionKeyIndex = partitionKeyIndex;
        this.partitionKeyType = partitionKeyType;
        this.settings = settings;
    }

    @Override
    public ChangelogMode getChangelogMode(ChangelogMode requestedMode) {
        return ChangelogMode.insertOnly();
    }

    @Override
    public SinkRuntimeProvider getSinkRuntimeProvider(Context context) {
        SerializationSchema<RowData> serializer = format.createRuntimeEncoder(context, physicalType);
        return SinkV2Provider.of(new KinesisSink(client, serializer, partitionKeyIndex,
                partitionKeyType, settings));
    }

    @Override
    public DynamicTableSink copy() {
        return new KinesisTableSink(client, format, physicalType, partitionKeyIndex,
                partitionKeyType, settings);
    }

    @Override
    public String asSummaryString() {
        return "platform-kinesis(" + client.streamArn() + ")";
    }
}
