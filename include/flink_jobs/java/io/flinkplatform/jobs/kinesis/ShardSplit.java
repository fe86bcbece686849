package io.flinkplatform.jobs.kinesis;

import java.io.IOException;
import java.time.Instant;
import java.util.Objects;

import javax.annotation.Nullable;

import org.apache.flink.api.connector.source.SourceSplit;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.core.memory.DataOutputView;

import software.amazon.awssdk.services.kinesis.model.GetShardIteratorRequest;
import software.amazon.awssdk.services.kinesis.model.ShardIteratorType;

/**
 * One shard of the stream and where to start reading it. Immutable; the split id is the
 * shard id.
 *
 * <p>Starting positions: {@code TRIM_HORIZON} (the oldest record kept), {@code AT_TIMESTAMP}
 * (the first record that arrived at or after the timestamp: what {@code LATEST} is resolved
 * to, see {@link ShardEnumerator}) and {@code AFTER_SEQUENCE_NUMBER} (the split of a
 * checkpoint: the reader resumes after the last record it emitted).
 */
final class ShardSplit implements SourceSplit {
    enum Start { TRIM_HORIZON, AT_TIMESTAMP, AFTER_SEQUENCE_NUMBER }

    private final String shardId;
    private final Start start;
    private final long timestampMillis;
    @Nullable private final String sequenceNumber;

    private ShardSplit(String shardId, Start start, long timestampMillis,
            @Nullable String sequenceNumber) {
        this.shardId = Objects.requireNonNull(shardId);
        this.start = Objects.requireNonNull(start);
        this.timestampMillis = timestampMillis;
        this.sequenceNumber = sequenceNumber;
    }

    static ShardSplit trimHorizon(String shardId) {
        return new ShardSplit(shardId, Start.TRIM_HORIZON, -1, null);
    }

    static ShardSplit atTimestamp(String shardId, long timestampMillis) {
        return new ShardSplit(shardId, Start.AT_TIMESTAMP, timestampMillis, null);
    }

    static ShardSplit afterSequenceNumber(String shardId, String sequenceNumber) {
        return new ShardSplit(shardId, Start.AFTER_SEQUENCE_NUMBER, -1,
                Objects.requireNonNull(sequenceNumber));
    }

    @Override
    public String splitId() {
        return shardId;
    }

    String shardId() {
        return shardId;
    }

    Start start() {
        return start;
    }

    /**
     * Fills in ShardIteratorType (and Timestamp / StartingSequenceNumber) of a
     * GetShardIterator request for this position.
     */
    GetShardIteratorRequest.Builder position(GetShardIteratorRequest.Builder request) {
        switch (start) {
            case TRIM_HORIZON:
                return request.shardIteratorType(ShardIteratorType.TRIM_HORIZON);
            case AT_TIMESTAMP:
                return request.shardIteratorType(ShardIteratorType.AT_TIMESTAMP)
                        .timestamp(Instant.ofEpochMilli(timestampMillis));
            default:
                return request.shardIteratorType(ShardIteratorType.AFTER_SEQUENCE_NUMBER)
                        .startingSequenceNumber(sequenceNumber);
        }
    }

    /**
     * The shard's index (shard ids are {@code shardId-000000000007}), or a hash for ids of
     * another form: spreads shards over readers deterministically.
     */
    static int shardIndex(String shardId) {
        int dash = shardId.lastIndexOf('-');
        try {
            return (int) (Long.parseLong(shardId.substring(dash + 1)) & Integer.MAX_VALUE);
        } catch (NumberFormatException e) {
            return shardId.hashCode() & Integer.MAX_VALUE;
        }
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof ShardSplit)) {
            return false;
        }
        ShardSplit other = (ShardSplit) o;
        return shardId.equals(other.shardId) && start == other.start
                && timestampMillis == other.timestampMillis
                && Objects.equals(sequenceNumber, other.sequenceNumber);
    }

    @Override
    public int hashCode() {
        return Objects.hash(shardId, start, timestampMillis, sequenceNumber);
    }

    @Override
    public String toString() {
        switch (start) {
            case AT_TIMESTAMP:
                return shardId + "@AT_TIMESTAMP(" + Instant.ofEpochMilli(timestampMillis) + ")";
            case AFTER_SEQUENCE_NUMBER:
                return shardId + "@AFTER_SEQUENCE_NUMBER(" + sequenceNumber + ")";
            default:
                return shardId + "@TRIM_HORIZON";
        }
    }

    /** Versioned split serializer (checkpoints and savepoints; version 1). */
    static final class Serializer implements SimpleVersionedSerializer<ShardSplit> {
        static final Serializer INSTANCE = new Serializer();
        private static final int VERSION = 1;

        @Override
        public int getVersion() {
            return VERSION;
        }

        @Override
        public byte[] serialize(ShardSplit split) throws IOException {
            DataOutputSerializer out = new DataOutputSerializer(64);
            write(split, out);
            return out.getCopyOfBuffer();
        }

        @Override
        public ShardSplit deserialize(int version, byte[] serialized) throws IOException {
            return read(version, new DataInputDeserializer(serialized));
        }

        static void write(ShardSplit split, DataOutputView out) throws IOException {
            out.writeUTF(split.shardId);
            out.writeByte(split.start.ordinal());
            out.writeLong(split.timestampMillis);
            out.writeBoolean(split.sequenceNumber != null);
            if (split.sequenceNumber != null) {
                out.writeUTF(split.sequenceNumber);
            }
        }

        static ShardSplit read(int version, DataInputView in) throws IOException {
            if (version != VERSION) {
                throw new IOException("unknown platform-kinesis split version " + version
                        + " (this connector reads version " + VERSION + ")");
            }
            String shardId = in.readUTF();
            int start = in.readByte();
            if (start < 0 || start >= Start.values().length) {
                throw new IOException("corrupt platform-kinesis split of " + shardId
                        + ": starting position " + start);
            }
            long timestamp = in.readLong();
            String sequence = in.readBoolean() ? in.readUTF() : null;
            return new ShardSplit(shardId, Start.values()[start], timestamp, sequence);
        }
    }
}
