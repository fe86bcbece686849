package io.flinkplatform.jobs.kinesis;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

/**
 * The enumerator's checkpoint: the shards it has turned into splits (so a restored job does
 * not read them again from their start), the splits not yet handed to a reader, and how the
 * initial position was resolved ({@code LATEST} becomes {@code AT_TIMESTAMP} of the first
 * start; it is kept until the first shard listing has used it).
 */
final class EnumeratorState {
    /** No timestamp: the initial position is not LATEST. */
    static final long NO_TIMESTAMP = -1L;

    private final long latestAsTimestamp;
    private final boolean initialDiscoveryDone;
    private final Set<String> knownShards;
    private final List<ShardSplit> unassigned;

    EnumeratorState(long latestAsTimestamp, boolean initialDiscoveryDone,
            Collection<String> knownShards, Collection<ShardSplit> unassigned) {
        this.latestAsTimestamp = latestAsTimestamp;
        this.initialDiscoveryDone = initialDiscoveryDone;
        this.knownShards = Collections.unmodifiableSet(new LinkedHashSet<>(knownShards));
        this.unassigned = Collections.unmodifiableList(new ArrayList<>(unassigned));
    }

    /** Epoch milliseconds that LATEST was resolved to, or {@link #NO_TIMESTAMP}. */
    long latestAsTimestamp() {
        return latestAsTimestamp;
    }

    boolean initialDiscoveryDone() {
        return initialDiscoveryDone;
    }

    Set<String> knownShards() {
        return knownShards;
    }

    List<ShardSplit> unassigned() {
        return unassigned;
    }

    @Override
    public String toString() {
        return "EnumeratorState{latestAsTimestamp=" + latestAsTimestamp + ", initialDiscoveryDone="
                + initialDiscoveryDone + ", knownShards=" + knownShards + ", unassigned="
                + unassigned + "}";
    }

    /** Versioned serializer of the enumerator checkpoint (version 1). */
    static final class Serializer implements SimpleVersionedSerializer<EnumeratorState> {
        static final Serializer INSTANCE = new Serializer();
        private static final int VERSION = 1;

        @Override
        public int getVersion() {
            return VERSION;
        }

        @Override
        public byte[] serialize(EnumeratorState state) throws IOException {
            DataOutputSerializer out = new DataOutputSerializer(256);
            out.writeLong(state.latestAsTimestamp);
            out.writeBoolean(state.initialDiscoveryDone);
            out.writeInt(state.knownShards.size());
            for (String shard : state.knownShards) {
                out.writeUTF(shard);
            }
            out.writeInt(ShardSplit.Serializer.INSTANCE.getVersion());
            out.writeInt(state.unassigned.size());
            for (ShardSplit split : state.unassigned) {
                ShardSplit.Serializer.write(split, out);
            }
            return out.getCopyOfBuffer();
        }

        @Override
        public EnumeratorState deserialize(int version, byte[] serialized) throws IOException {
            if (version != VERSION) {
                throw new IOException("unknown platform-kinesis enumerator state version "
                        + version + " (this connector reads version " + VERSION + ")");
            }
            DataInputDeserializer in = new DataInputDeserializer(serialized);
            long latestAsTimestamp = in.readLong();
            boolean initialDiscoveryDone = in.readBoolean();
            int shards = in.readInt();
            List<String> known = new ArrayList<>(shards);
            for (int i = 0; i < shards; i++) {
                known.add(in.readUTF());
            }
            int splitVersion = in.readInt();
            int splits = in.readInt();
            List<ShardSplit> unassigned = new ArrayList<>(splits);
            for (int i = 0; i < splits; i++) {
                unassigned.add(ShardSplit.Serializer.read(splitVersion, in));
            }
            return new EnumeratorState(latestAsTimestamp, initialDiscoveryDone, known, unassigned);
        }
    }
}
