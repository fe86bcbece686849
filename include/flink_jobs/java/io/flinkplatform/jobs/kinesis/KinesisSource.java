package io.flinkplatform.jobs.kinesis;

import java.io.Serializable;
import java.util.Collections;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.table.data.RowData;
import org.apache.flink.util.UserCodeClassLoader;

import io.flinkplatform.jobs.kinesis.KinesisConnectorOptions.InitialPosition;

/**
 * FLIP-27 source of a Kinesis data stream: one split per shard, polled with GetRecords.
 *
 * <p>The {@link ShardEnumerator} (JobManager) lists the shards and assigns each to a reader;
 * each {@link KinesisSourceReader} (TaskManager) polls its shards in one fetcher thread and
 * turns every record's data into rows with the table format's DeserializationSchema.
 * Positions are checkpointed per shard (the last emitted sequence number), so with Flink's
 * checkpoints every record is processed exactly once. Unbounded.
 */
public final class KinesisSource
        implements Source<RowData, ShardSplit, EnumeratorState>, ResultTypeQueryable<RowData> {
    private static final long serialVersionUID = 1L;

    private final KinesisClientSettings client;
    private final Settings settings;
    private final DeserializationSchema<RowData> deserializer;

    KinesisSource(KinesisClientSettings client, Settings settings,
            DeserializationSchema<RowData> deserializer) {
        this.client = client;
        this.settings = settings;
        this.deserializer = deserializer;
    }

    @Override
    public Boundedness getBoundedness() {
        return Boundedness.CONTINUOUS_UNBOUNDED;
    }

    @Override
    public SourceReader<RowData, ShardSplit> createReader(SourceReaderContext context)
            throws Exception {
        deserializer.open(new DeserializationSchema.InitializationContext() {
            @Override
            public MetricGroup getMetricGroup() {
                return context.metricGroup().addGroup("deserializer");
            }

            @Override
            public UserCodeClassLoader getUserCodeClassLoader() {
                return context.getUserCodeClassLoader();
            }
        });
        return new KinesisSourceReader(client, settings, deserializer, context);
    }

    @Override
    public SplitEnumerator<ShardSplit, EnumeratorState> createEnumerator(
            SplitEnumeratorContext<ShardSplit> context) {
        EnumeratorState fresh = new EnumeratorState(EnumeratorState.NO_TIMESTAMP, false,
                Collections.emptySet(), Collections.emptyList());
        return new ShardEnumerator(context, client, settings, fresh, false);
    }

    @Override
    public SplitEnumerator<ShardSplit, EnumeratorState> restoreEnumerator(
            SplitEnumeratorContext<ShardSplit> context, EnumeratorState checkpoint) {
        return new ShardEnumerator(context, client, settings, checkpoint, true);
    }

    @Override
    public SimpleVersionedSerializer<ShardSplit> getSplitSerializer() {
        return ShardSplit.Serializer.INSTANCE;
    }

    @Override
    public SimpleVersionedSerializer<EnumeratorState> getEnumeratorCheckpointSerializer() {
        return EnumeratorState.Serializer.INSTANCE;
    }

    @Override
    public TypeInformation<RowData> getProducedType() {
        return deserializer.getProducedType();
    }

    /** The source options (validated by the factory). */
    static final class Settings implements Serializable {
        private static final long serialVersionUID = 1L;
        final InitialPosition initialPosition;
        /** Epoch ms for AT_TIMESTAMP, else unused. */
        final long initialTimestamp;
        final long discoveryIntervalMillis;
        final int getRecordsMax;
        final long idleIntervalMillis;

        Settings(InitialPosition initialPosition, long initialTimestamp,
                long discoveryIntervalMillis, int getRecordsMax, long idleIntervalMillis) {
            this.initialPosition = initialPosition;
            this.initialTimestamp = initialTimestamp;
            this.discoveryIntervalMillis = discoveryIntervalMillis;
            this.getRecordsMax = getRecordsMax;
            this.idleIntervalMillis = idleIntervalMillis;
        }
    }
}
