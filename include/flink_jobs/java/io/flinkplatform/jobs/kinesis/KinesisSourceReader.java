package io.flinkplatform.jobs.kinesis;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.connector.source.SourceOutput;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.connector.base.source.reader.RecordEmitter;
import org.apache.flink.connector.base.source.reader.SingleThreadMultiplexSourceReaderBase;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.table.data.RowData;
import org.apache.flink.util.Collector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import software.amazon.awssdk.services.kinesis.model.Record;

/**
 * Reader of the shards assigned to one subtask: a single fetcher thread polls them all
 * ({@link ShardSplitReader}); this class turns records into rows in the task thread.
 *
 * <p>Each record's data is one message for the table format's DeserializationSchema (its
 * collector variant: a format may emit no row, or several); rows carry the record's
 * ApproximateArrivalTimestamp as their timestamp. The split state is the sequence number of
 * the last record whose rows were emitted, so a checkpoint resumes right after it.
 *
 * <p>Metrics (reader metric group): {@code millisBehindLatest}, the maximum over this
 * reader's shards of the last GetRecords response's MillisBehindLatest (-1 before the first
 * response); numRecordsIn and friends come from Flink.
 */
final class KinesisSourceReader extends SingleThreadMultiplexSourceReaderBase<
        Record, RowData, ShardSplit, KinesisSourceReader.ShardState> {
    private static final Logger LOG = LoggerFactory.getLogger(KinesisSourceReader.class);

    private final Map<String, Long> millisBehindLatest;

    KinesisSourceReader(KinesisClientSettings client, KinesisSource.Settings settings,
            DeserializationSchema<RowData> deserializer, SourceReaderContext context) {
        this(client, settings, deserializer, context, new ConcurrentHashMap<>());
    }

    private KinesisSourceReader(KinesisClientSettings client, KinesisSource.Settings settings,
            DeserializationSchema<RowData> deserializer, SourceReaderContext context,
            Map<String, Long> millisBehindLatest) {
        super(() -> new ShardSplitReader(client, settings, millisBehindLatest),
                new Emitter(deserializer), context.getConfiguration(), context);
        this.millisBehindLatest = millisBehindLatest;
        context.metricGroup().gauge("millisBehindLatest", (Gauge<Long>) () ->
                millisBehindLatest.values().stream().mapToLong(Long::longValue).max().orElse(-1L));
    }

    @Override
    protected void onSplitFinished(Map<String, ShardState> finished) {
        for (ShardState state : finished.values()) {
            millisBehindLatest.remove(state.split.shardId());
            LOG.info("platform-kinesis: shard {} is closed and fully read (last sequence number {})",
                    state.split.shardId(), state.lastSequenceNumber);
        }
    }

    @Override
    protected ShardState initializedState(ShardSplit split) {
        return new ShardState(split);
    }

    @Override
    protected ShardSplit toSplitType(String splitId, ShardState state) {
        return state.toSplit();
    }

    /** Mutable state of a split in the reader: the last emitted sequence number. */
    static final class ShardState {
        final ShardSplit split;
        String lastSequenceNumber;

        ShardState(ShardSplit split) {
            this.split = split;
        }

        ShardSplit toSplit() {
            return lastSequenceNumber == null ? split
                    : ShardSplit.afterSequenceNumber(split.shardId(), lastSequenceNumber);
        }
    }

    /** Task thread: record data -> rows (timestamped by arrival) -> position update. */
    static final class Emitter implements RecordEmitter<Record, RowData, ShardState> {
        private final DeserializationSchema<RowData> deserializer;
        private final TimestampedCollector collector = new TimestampedCollector();

        Emitter(DeserializationSchema<RowData> deserializer) {
            this.deserializer = deserializer;
        }

        @Override
        public void emitRecord(Record record, SourceOutput<RowData> output, ShardState state)
                throws Exception {
            collector.output = output;
            collector.timestamp = record.approximateArrivalTimestamp() == null ? Long.MIN_VALUE
                    : record.approximateArrivalTimestamp().toEpochMilli();
            deserializer.deserialize(record.data().asByteArrayUnsafe(), collector);
            state.lastSequenceNumber = record.sequenceNumber();
        }
    }

    private static final class TimestampedCollector implements Collector<RowData> {
        SourceOutput<RowData> output;
        long timestamp;

        @Override
        public void collect(RowData row) {
            if (timestamp == Long.MIN_VALUE) {
                output.collect(row);
            } else {
                output.collect(row, timestamp);
            }
        }

        @Override
        public void close() {
        }
    }
}
