package io.flinkplatform.jobs.kinesis;

import java.io.IOException;
import java.io.Serializable;

import javax.annotation.Nullable;

import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.logical.LogicalType;

/**
 * Sink V2 writing rows to a Kinesis data stream with PutRecords, at-least-once: see
 * {@link KinesisSinkWriter}.
 */
public final class KinesisSink implements Sink<RowData> {
    private static final long serialVersionUID = 1L;

    private final KinesisClientSettings client;
    private final SerializationSchema<RowData> serializer;
    private final int partitionKeyIndex;
    @Nullable private final LogicalType partitionKeyType;
    private final Settings settings;

    /** The sink options: batch size, attempts per record, longest wait in the buffer. */
    static final class Settings implements Serializable {
        private static final long serialVersionUID = 1L;
        final int batchMaxSize;
        final int maxAttempts;
        final long flushIntervalMillis;

        Settings(int batchMaxSize, int maxAttempts, long flushIntervalMillis) {
            this.batchMaxSize = batchMaxSize;
            this.maxAttempts = maxAttempts;
            this.flushIntervalMillis = flushIntervalMillis;
        }
    }

    /**
     * @param partitionKeyIndex column of the partition key, or -1 for a random key per record
     */
    KinesisSink(KinesisClientSettings client, SerializationSchema<RowData> serializer,
            int partitionKeyIndex, @Nullable LogicalType partitionKeyType, Settings settings) {
        this.client = client;
        this.serializer = serializer;
        this.partitionKeyIndex = partitionKeyIndex;
        this.partitionKeyType = partitionKeyType;
        this.settings = settings;
    }

    @Override
    public SinkWriter<RowData> createWriter(WriterInitContext context) throws IOException {
        try {
            serializer.open(context.asSerializationSchemaInitializationContext());
        } catch (Exception e) {
            throw new IOException("cannot open the format of the Kinesis sink of "
                    + client.streamArn(), e);
        }
        RowData.FieldGetter partitionKey = partitionKeyIndex < 0 ? null
                : RowData.createFieldGetter(partitionKeyType, partitionKeyIndex);
        return new KinesisSinkWriter(client, serializer, partitionKey, settings,
                context.metricGroup(), context.getProcessingTimeService());
    }
}
