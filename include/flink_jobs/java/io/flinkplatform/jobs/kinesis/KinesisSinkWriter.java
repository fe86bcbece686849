package io.flinkplatform.jobs.kinesis;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import javax.annotation.Nullable;

import org.apache.flink.api.common.operators.ProcessingTimeService;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.groups.SinkWriterMetricGroup;
import org.apache.flink.table.data.RowData;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import software.amazon.awssdk.core.SdkBytes;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequest;
import software.amazon.awssdk.services.kinesis.model.PutRecordsRequestEntry;
import software.amazon.awssdk.services.kinesis.model.PutRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.PutRecordsResultEntry;

/**
 * Buffers serialized rows and sends them with PutRecords (synchronously, in the task thread):
 * when the batch reaches {@code sink.batch.max-size} records (at most 500) or 5 MiB, when its
 * oldest record has waited {@code sink.flush.interval} (a processing-time timer: a trickle of
 * alerts is not held until the next checkpoint), and on every {@link #flush}. Flink flushes
 * before each checkpoint barrier, so every record of a completed checkpoint was accepted by
 * Kinesis: at-least-once (a restore replays the records after the checkpoint, some of which
 * may already be in the stream).
 *
 * <p>Failed entries of a response (throttling, internal failures) and whole requests that
 * failed transiently are sent again after an exponential backoff with jitter (100 ms doubling
 * up to 5 s); after {@code sink.retry.max-attempts} attempts the job fails, naming the stream
 * and the last error code. A retried entry may land after records sent later with the same
 * partition key. Other errors (stream not found, access denied) fail at once. A record over
 * 1 MiB (data + partition key) fails the job: Kinesis can never accept it.
 *
 * <p>Partition key: the string value of {@code sink.partition-key.field} (truncated to 256
 * characters), or a random key when the option is unset or the value is NULL or empty.
 *
 * <p>Metrics: numRecordsSend, numBytesSend (data bytes accepted), numRecordsSendErrors (entries
 * rejected, counted per attempt), currentSendTime (ms of the last PutRecords call).
 */
final class KinesisSinkWriter implements SinkWriter<RowData> {
    private static final Logger LOG = LoggerFactory.getLogger(KinesisSinkWriter.class);
    static final int MAX_RECORD_BYTES = 1024 * 1024;
    static final int MAX_REQUEST_BYTES = 5 * 1024 * 1024;
    private static final int MAX_KEY_CHARS = 256;
    private static final long BACKOFF_BASE_MS = 100;
    private static final long BACKOFF_CAP_MS = 5_000;

    private final KinesisClientSettings clientSettings;
    private final KinesisClient client;
    private final SerializationSchema<RowData> serializer;
    @Nullable private final RowData.FieldGetter partitionKey;
    private final int batchMaxSize;
    private final int maxAttempts;
    private final long flushIntervalMillis;
    private final ProcessingTimeService timers;
    private boolean flushTimerSet;
    private final Counter numRecordsSend;
    private final Counter numBytesSend;
    private final Counter numRecordsSendErrors;
    private List<PutRecordsRequestEntry> buffer;
    private long bufferBytes;
    private volatile long lastSendMillis;

    KinesisSinkWriter(KinesisClientSettings clientSettings, SerializationSchema<RowData> serializer,
            @Nullable RowData.FieldGetter partitionKey, KinesisSink.Settings settings,
            SinkWriterMetricGroup metrics, ProcessingTimeService timers) {
        this.clientSettings = clientSettings;
        this.serializer = serializer;
        this.partitionKey = partitionKey;
        this.batchMaxSize = settings.batchMaxSize;
        this.maxAttempts = settings.maxAttempts;
        this.flushIntervalMillis = settings.flushIntervalMillis;
        this.timers = timers;
        this.buffer = new ArrayList<>(batchMaxSize);
        this.numRecordsSend = metrics.getNumRecordsSendCounter();
        this.numBytesSend = metrics.getNumBytesSendCounter();
        this.numRecordsSendErrors = metrics.getNumRecordsSendErrorsCounter();
        metrics.setCurrentSendTimeGauge(() -> lastSendMillis);
        this.client = clientSettings.createClient();
    }

    @Override
    public void write(RowData row, Context context) throws IOException, InterruptedException {
        byte[] data = serializer.serialize(row);
        if (data == null) {
            return; // the format wrote nothing for this row
        }
        String key = partitionKey(row);
        long size = (long) data.length + key.getBytes(StandardCharsets.UTF_8).length;
        if (size > MAX_RECORD_BYTES) {
            throw new IOException("Kinesis stream " + clientSettings.streamArn() + ": a record of "
                    + size + " bytes (data + partition key) is over Kinesis's limit of "
                    + MAX_RECORD_BYTES + " bytes");
        }
        if (bufferBytes + size > MAX_REQUEST_BYTES) {
            send();
        }
        buffer.add(PutRecordsRequestEntry.builder().data(SdkBytes.fromByteArrayUnsafe(data))
                .partitionKey(key).build());
        bufferBytes += size;
        if (buffer.size() >= batchMaxSize) {
            send();
        } else if (flushIntervalMillis > 0 && !flushTimerSet) {
            flushTimerSet = true; // the callback runs in the task thread, between records
            timers.registerTimer(timers.getCurrentProcessingTime() + flushIntervalMillis,
                    time -> {
                        flushTimerSet = false;
                        send();
                    });
        }
    }

    private String partitionKey(RowData row) {
        Object value = partitionKey == null ? null : partitionKey.getFieldOrNull(row);
        String key = value == null ? "" : value.toString();
        if (key.isEmpty()) {
            return Long.toHexString(ThreadLocalRandom.current().nextLong());
        }
        return key.length() > MAX_KEY_CHARS ? key.substring(0, MAX_KEY_CHARS) : key;
    }

    @Override
    public void flush(boolean endOfInput) throws IOException, InterruptedException {
        send();
    }

    /** Sends the buffer until every entry is accepted, or fails after maxAttempts. */
    private void send() throws IOException, InterruptedException {
        if (buffer.isEmpty()) {
            return;
        }
        List<PutRecordsRequestEntry> pending = buffer;
        buffer = new ArrayList<>(batchMaxSize);
        bufferBytes = 0;
        String lastError = null;
        for (int attempt = 1; ; attempt++) {
            long started = System.nanoTime();
            PutRecordsResponse response = null;
            try {
                response = client.putRecords(PutRecordsRequest.builder()
                        .streamARN(clientSettings.streamArn()).records(pending).build());
            } catch (SdkException e) {
                if (!KinesisClientSettings.isTransient(e)) {
                    throw new IOException("PutRecords to Kinesis stream " + clientSettings.streamArn()
                            + " failed: " + KinesisClientSettings.errorCode(e) + " (" + e.getMessage()
                            + ")", e);
                }
                lastError = KinesisClientSettings.errorCode(e) + " (" + e.getMessage() + ")";
                numRecordsSendErrors.inc(pending.size());
            }
            lastSendMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            if (response != null) {
                List<PutRecordsRequestEntry> failed = new ArrayList<>();
                List<PutRecordsResultEntry> results = response.records();
                long acceptedBytes = 0;
                for (int i = 0; i < pending.size(); i++) {
                    PutRecordsResultEntry result = results.get(i);
                    if (result.errorCode() != null) {
                        failed.add(pending.get(i));
                        lastError = result.errorCode() + " (" + result.errorMessage() + ")";
                    } else {
                        acceptedBytes += pending.get(i).data().asByteArrayUnsafe().length;
                    }
                }
                numRecordsSend.inc(pending.size() - failed.size());
                numBytesSend.inc(acceptedBytes);
                numRecordsSendErrors.inc(failed.size());
                if (failed.isEmpty()) {
                    return;
                }
                pending = failed;
            }
            if (attempt >= maxAttempts) {
                throw new IOException("Kinesis stream " + clientSettings.streamArn() + ": "
                        + pending.size() + " records not accepted after " + maxAttempts
                        + " attempts (sink.retry.max-attempts); last error code: " + lastError);
            }
            long backoff = KinesisClientSettings.backoffMillis(attempt - 1, BACKOFF_BASE_MS,
                    BACKOFF_CAP_MS);
            if (attempt == 1 || attempt % 5 == 0) {
                LOG.warn("platform-kinesis sink of {}: {} records not accepted (attempt {} of {}, "
                                + "last error {}); retrying in {} ms", clientSettings.streamArn(),
                        pending.size(), attempt, maxAttempts, lastError, backoff);
            }
            Thread.sleep(backoff);
        }
    }

    /**
     * Closes the client. Records still buffered were written after the last flush, i.e. after
     * the last checkpoint barrier: a restore replays them.
     */
    @Override
    public void close() {
        if (!buffer.isEmpty()) {
            LOG.info("platform-kinesis sink of {}: closing with {} unsent records (after the last "
                    + "checkpoint; replayed on restore)", clientSettings.streamArn(), buffer.size());
        }
        client.close();
    }
}
