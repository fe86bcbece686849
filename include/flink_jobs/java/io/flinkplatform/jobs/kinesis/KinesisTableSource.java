package io.flinkplatform.jobs.kinesis;

import javax.annotation.Nullable;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.DataStreamSource;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.ProviderContext;
import org.apache.flink.table.connector.format.DecodingFormat;
import org.apache.flink.table.connector.source.DataStreamScanProvider;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.connector.source.ScanTableSource;
import org.apache.flink.table.connector.source.abilities.SupportsWatermarkPushDown;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.DataType;

/**
 * Scan side of {@code platform-kinesis}: insert-only, unbounded, a {@link KinesisSource}.
 *
 * <p>The table's WATERMARK clause is pushed into the source, so watermarks are generated per
 * shard and the reader emits the smallest: a reader catching up on a backlog reads shard by
 * shard in large batches, and one watermark over all its records would run ahead of the
 * shard read last and make its records late. With {@code table.exec.source.idle-timeout} set,
 * a shard without records stops holding the watermark back.
 */
final class KinesisTableSource implements ScanTableSource, SupportsWatermarkPushDown {
    private final KinesisClientSettings client;
    private final KinesisSource.Settings settings;
    private final DecodingFormat<DeserializationSchema<RowData>> format;
    private final DataType physicalType;
    private final String tableName;
    @Nullable private WatermarkStrategy<RowData> watermarks;

    KinesisTableSource(KinesisClientSettings client, KinesisSource.Settings settings,
            DecodingFormat<DeserializationSchema<RowData>> format, DataType physicalType,
            String tableName, @Nullable WatermarkStrategy<RowData> watermarks) {
        this.client = client;
        this.settings = settings;
        this.format = format;
        this.physicalType = physicalType;
        this.tableName = tableName;
        this.watermarks = watermarks;
    }

    @Override
    public ChangelogMode getChangelogMode() {
        return ChangelogMode.insertOnly();
    }

    @Override
    public void applyWatermark(WatermarkStrategy<RowData> watermarkStrategy) {
        this.watermarks = watermarkStrategy;
    }

    @Override
    public ScanRuntimeProvider getScanRuntimeProvider(ScanContext context) {
        KinesisSource source = new KinesisSource(client, settings,
                format.createRuntimeDecoder(context, physicalType));
        WatermarkStrategy<RowData> strategy =
                watermarks == null ? WatermarkStrategy.noWatermarks() : watermarks;
        String name = "Source: " + tableName;
        return new DataStreamScanProvider() {
            @Override
            public DataStream<RowData> produceDataStream(ProviderContext provider,
                    StreamExecutionEnvironment env) {
                DataStreamSource<RowData> stream = env.fromSource(source, strategy, name);
                provider.generateUid("platform-kinesis-source").ifPresent(stream::uid);
                return stream;
            }

            @Override
            public boolean isBounded() {
                return false;
            }
        };
    }

    @Override
    public DynamicTableSource copy() {
        return new KinesisTableSource(client, settings, format, physicalType, tableName,
                watermarks);
    }

    @Override
    public String asSummaryString() {
        return "platform-kinesis(" + client.streamArn() + ")";
    }
}
