package io.flinkplatform.jobs.kinesis;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.flink.connector.base.source.reader.RecordsBySplits;
import org.apache.flink.connector.base.source.reader.RecordsWithSplitIds;
import org.apache.flink.connector.base.source.reader.splitreader.SplitReader;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsAddition;
import org.apache.flink.connector.base.source.reader.splitreader.SplitsChange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.ExpiredIteratorException;
import software.amazon.awssdk.services.kinesis.model.GetRecordsRequest;
import software.amazon.awssdk.services.kinesis.model.GetRecordsResponse;
import software.amazon.awssdk.services.kinesis.model.GetShardIteratorRequest;
import software.amazon.awssdk.services.kinesis.model.Record;
import software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException;

/**
 * Polls the shards of one reader with GetRecords, one call at a time, in the fetcher thread.
 *
 * <p>Pacing per shard: at most one GetRecords every 200 ms (Kinesis allows 5 per second and
 * shard, shared by every consumer of the shard); after an empty response from a shard that is
 * caught up (MillisBehindLatest = 0) the next poll waits {@code source.get-records.idle-interval}.
 * Throttling (ProvisionedThroughputExceeded, LimitExceeded, KMS throttling) backs the shard off
 * exponentially with jitter (0.5 s up to 10 s) without failing; other transient errors (5xx,
 * network) too, but the 10th in a row fails the task (Flink restarts it from the checkpoint).
 *
 * <p>Iterators: obtained at the split's position, or after the last fetched sequence number
 * when one expired (ExpiredIteratorException). A closed shard whose records are all read
 * (NextShardIterator null) finishes its split. A shard that no longer exists when its
 * iterator is requested (older than the retention period) finishes its split with a warning.
 */
final class ShardSplitReader implements SplitReader<Record, ShardSplit> {
    private static final Logger LOG = LoggerFactory.getLogger(ShardSplitReader.class);
    /** Kinesis allows 5 GetRecords per second and shard. */
    static final long MIN_POLL_INTERVAL_MS = 200;
    private static final long BACKOFF_BASE_MS = 500;
    private static final long BACKOFF_CAP_MS = 10_000;
    private static final int MAX_TRANSIENT_FAILURES = 10;

    private final KinesisClientSettings clientSettings;
    private final KinesisSource.Settings settings;
    private final Map<String, Long> millisBehindLatest;
    private final KinesisClient client;
    /** Assigned shards, polled round-robin (fetcher thread only). */
    private final List<Cursor> cursors = new ArrayList<>();
    private int next;
    private final Object wakeUpLock = new Object();
    private boolean wakeUpRequested; // guarded by wakeUpLock

    ShardSplitReader(KinesisClientSettings clientSettings, KinesisSource.Settings settings,
            Map<String, Long> millisBehindLatest) {
        this.clientSettings = clientSettings;
        this.settings = settings;
        this.millisBehindLatest = millisBehindLatest;
        this.client = clientSettings.createClient();
    }

    /** Where the reader is in one shard (fetcher thread). */
    private static final class Cursor {
        final ShardSplit split;
        String iterator;
        /** Last sequence number fetched (not necessarily emitted yet): for new iterators. */
        String lastFetched;
        long nextPollNanos;
        int failures;

        Cursor(ShardSplit split) {
            this.split = split;
        }
    }

    @Override
    public RecordsWithSplitIds<Record> fetch() throws IOException {
        while (true) {
            Cursor due;
            synchronized (wakeUpLock) {
                if (wakeUpRequested || cursors.isEmpty()) {
                    wakeUpRequested = false;
                    return empty();
                }
                long now = System.nanoTime();
                due = nextDue(now);
                if (due == null) {
                    long earliest = Long.MAX_VALUE;
                    for (Cursor cursor : cursors) {
                        earliest = Math.min(earliest, cursor.nextPollNanos - now);
                    }
                    long waitMs = Math.max(1, TimeUnit.NANOSECONDS.toMillis(earliest));
                    try {
                        wakeUpLock.wait(waitMs);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IOException("interrupted while waiting to poll Kinesis", e);
                    }
                    continue;
                }
            }
            RecordsWithSplitIds<Record> records = poll(due);
            if (records != null) {
                return records;
            }
        }
    }

    private Cursor nextDue(long now) {
        for (int i = 0; i < cursors.size(); i++) {
            int index = (next + i) % cursors.size();
            Cursor cursor = cursors.get(index);
            if (cursor.nextPollNanos - now <= 0) {
                next = index + 1;
                return cursor;
            }
        }
        return null;
    }

    /** One GetRecords on the cursor's shard: records or a finished split, else null. */
    private RecordsWithSplitIds<Record> poll(Cursor cursor) throws IOException {
        String shardId = cursor.split.shardId();
        long started = System.nanoTime();
        try {
            if (cursor.iterator == null) {
                cursor.iterator = newIterator(cursor);
                if (cursor.iterator == null) {
                    return finish(cursor, Collections.emptyList());
                }
            }
            GetRecordsResponse response = client.getRecords(GetRecordsRequest.builder()
                    .streamARN(clientSettings.streamArn()).shardIterator(cursor.iterator)
                    .limit(settings.getRecordsMax).build());
            cursor.failures = 0;
            List<Record> records = response.records();
            Long behind = response.millisBehindLatest();
            millisBehindLatest.put(shardId, behind == null ? 0L : behind);
            cursor.iterator = response.nextShardIterator();
            if (!records.isEmpty()) {
                cursor.lastFetched = records.get(records.size() - 1).sequenceNumber();
            }
            boolean caughtUp = records.isEmpty() && (behind == null || behind == 0L);
            cursor.nextPollNanos = started + TimeUnit.MILLISECONDS.toNanos(
                    caughtUp ? settings.idleIntervalMillis : MIN_POLL_INTERVAL_MS);
            if (cursor.iterator == null) {
                return finish(cursor, records);
            }
            if (records.isEmpty()) {
                return null;
            }
            RecordsBySplits.Builder<Record> batch = new RecordsBySplits.Builder<>();
            batch.addAll(shardId, records);
            return batch.build();
        } catch (ExpiredIteratorException e) {
            LOG.info("platform-kinesis: iterator of shard {} expired; a new one starts after {}",
                    shardId, cursor.lastFetched == null ? cursor.split : cursor.lastFetched);
            cursor.iterator = null;
            return null;
        } catch (ResourceNotFoundException e) {
            throw new IOException("Kinesis stream " + clientSettings.streamArn()
                    + " (shard " + shardId + ") does not exist: " + e.getMessage(), e);
        } catch (SdkException e) {
            if (!KinesisClientSettings.isTransient(e)) {
                throw new IOException("Reading shard " + shardId + " of Kinesis stream "
                        + clientSettings.streamArn() + " failed: " + e.getMessage(), e);
            }
            cursor.failures++;
            boolean throttled = KinesisClientSettings.isThrottling(e);
            if (!throttled && cursor.failures >= MAX_TRANSIENT_FAILURES) {
                throw new IOException("Reading shard " + shardId + " of Kinesis stream "
                        + clientSettings.streamArn() + " failed " + cursor.failures
                        + " times in a row; last error: " + KinesisClientSettings.errorCode(e), e);
            }
            long backoff = KinesisClientSettings.backoffMillis(
                    cursor.failures - 1, BACKOFF_BASE_MS, BACKOFF_CAP_MS);
            cursor.nextPollNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(backoff);
            if (cursor.failures == 1 || cursor.failures % 10 == 0) {
                LOG.warn("platform-kinesis: shard {} of {}: {} ({} in a row); next poll in {} ms",
                        shardId, clientSettings.streamArn(), KinesisClientSettings.errorCode(e),
                        cursor.failures, backoff);
            }
            return null;
        }
    }

    /** A new iterator at the split's position, or after the last fetched record; null if gone. */
    private String newIterator(Cursor cursor) {
        ShardSplit position = cursor.lastFetched == null ? cursor.split
                : ShardSplit.afterSequenceNumber(cursor.split.shardId(), cursor.lastFetched);
        GetShardIteratorRequest.Builder request = GetShardIteratorRequest.builder()
                .streamARN(clientSettings.streamArn()).shardId(cursor.split.shardId());
        try {
            String iterator = client.getShardIterator(position.position(request).build()).shardIterator();
            LOG.info("platform-kinesis: reading shard {} of {} from {}", cursor.split.shardId(),
                    clientSettings.streamArn(), position);
            return iterator;
        } catch (ResourceNotFoundException e) {
            LOG.warn("platform-kinesis: shard {} of {} does not exist (past the retention period?): "
                    + "its split is finished. {}", cursor.split.shardId(), clientSettings.streamArn(),
                    e.getMessage());
            return null;
        }
    }

    private RecordsWithSplitIds<Record> finish(Cursor cursor, List<Record> lastRecords) {
        String shardId = cursor.split.shardId();
        cursors.remove(cursor);
        millisBehindLatest.remove(shardId);
        RecordsBySplits.Builder<Record> batch = new RecordsBySplits.Builder<>();
        if (!lastRecords.isEmpty()) {
            batch.addAll(shardId, lastRecords);
        }
        batch.addFinishedSplit(shardId);
        return batch.build();
    }

    private static RecordsWithSplitIds<Record> empty() {
        return new RecordsBySplits.Builder<Record>().build();
    }

    @Override
    public void handleSplitsChanges(SplitsChange<ShardSplit> change) {
        if (!(change instanceof SplitsAddition)) {
            throw new UnsupportedOperationException("platform-kinesis: unsupported " + change);
        }
        for (ShardSplit split : change.splits()) {
            cursors.add(new Cursor(split));
        }
    }

    @Override
    public void wakeUp() {
        synchronized (wakeUpLock) {
            wakeUpRequested = true;
            wakeUpLock.notifyAll();
        }
    }

    @Override
    public void close() {
        client.close();
    }
}
