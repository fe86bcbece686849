package io.flinkplatform.jobs.kinesis;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.connector.source.SplitsAssignment;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.util.ExceptionUtils;
import org.apache.flink.util.FlinkRuntimeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.flinkplatform.jobs.kinesis.KinesisConnectorOptions.InitialPosition;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.model.ListShardsRequest;
import software.amazon.awssdk.services.kinesis.model.ListShardsResponse;
import software.amazon.awssdk.services.kinesis.model.ResourceNotFoundException;
import software.amazon.awssdk.services.kinesis.model.Shard;

/**
 * Lists the stream's shards (ListShards by StreamARN) at start and every discovery interval,
 * makes a split of every shard it has not seen and assigns it to reader
 * {@code shard index mod parallelism}. Splits of readers that have not registered yet (or
 * that failed and gave their splits back) wait in the enumerator, and are checkpointed.
 *
 * <p>Starting positions: the shards of the first listing start at the configured position,
 * where {@code LATEST} means "AT_TIMESTAMP of the enumerator's first start" (resolved once,
 * kept in the checkpoint): records that arrive after the job started are read even when a
 * reader starts late. Shards found later (resharding) start at {@code TRIM_HORIZON}.
 *
 * <p>A stream that does not exist fails the job naming its ARN. Transient listing errors
 * (throttling, 5xx, network) are logged and retried at the next interval, and fail the job
 * when {@value #MAX_FAILED_LISTINGS} listings in a row failed; other errors (access denied,
 * invalid argument) fail the job at once.
 */
final class ShardEnumerator implements SplitEnumerator<ShardSplit, EnumeratorState> {
    private static final Logger LOG = LoggerFactory.getLogger(ShardEnumerator.class);
    /** Consecutive failed listings (transient errors) before the job fails. */
    static final int MAX_FAILED_LISTINGS = 10;

    private final SplitEnumeratorContext<ShardSplit> context;
    private final KinesisClientSettings clientSettings;
    private final KinesisSource.Settings settings;
    private final boolean restored;
    private final Set<String> knownShards;
    /** Splits waiting for their reader, by owner subtask. */
    private final Map<Integer, List<ShardSplit>> pending = new HashMap<>();
    /** Read by metric reporters: volatile. */
    private volatile long latestAsTimestamp;
    private volatile int knownCount;
    private volatile int pendingCount;
    private boolean initialDiscoveryDone;
    private int failedListings;
    private KinesisClient client;

    ShardEnumerator(SplitEnumeratorContext<ShardSplit> context, KinesisClientSettings clientSettings,
            KinesisSource.Settings settings, EnumeratorState state, boolean restored) {
        this.context = context;
        this.clientSettings = clientSettings;
        this.settings = settings;
        this.restored = restored;
        this.knownShards = new LinkedHashSet<>(state.knownShards());
        this.latestAsTimestamp = state.latestAsTimestamp();
        this.initialDiscoveryDone = state.initialDiscoveryDone();
        state.unassigned().forEach(this::addPending);
        this.knownCount = knownShards.size();
    }

    @Override
    public void start() {
        if (settings.initialPosition == InitialPosition.LATEST && !initialDiscoveryDone
                && latestAsTimestamp == EnumeratorState.NO_TIMESTAMP) {
            latestAsTimestamp = System.currentTimeMillis();
        }
        LOG.info("platform-kinesis source of {}: {} enumerator, initial position {}{}, {} known "
                        + "shards, {} unassigned splits", clientSettings, restored ? "restored" : "new",
                settings.initialPosition, latestAsTimestamp == EnumeratorState.NO_TIMESTAMP ? ""
                        : " resolved to AT_TIMESTAMP " + latestAsTimestamp, knownShards.size(),
                pendingCount);
        context.metricGroup().gauge("latestAsTimestamp", (Gauge<Long>) () -> latestAsTimestamp);
        context.metricGroup().gauge("knownShards", (Gauge<Integer>) () -> knownCount);
        context.metricGroup().setUnassignedSplitsGauge((Gauge<Long>) () -> (long) pendingCount);
        client = clientSettings.createClient();
        context.callAsync(this::listShards, this::onShards, 0, settings.discoveryIntervalMillis);
    }

    /** Every shard of the stream (worker thread). Pages by ExclusiveStartShardId. */
    private List<Shard> listShards() {
        List<Shard> shards = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        String after = null;
        while (true) {
            ListShardsRequest.Builder request = ListShardsRequest.builder()
                    .streamARN(clientSettings.streamArn());
            if (after != null) {
                request.exclusiveStartShardId(after);
            }
            ListShardsResponse response = client.listShards(request.build());
            boolean progressed = false;
            for (Shard shard : response.shards()) {
                if (seen.add(shard.shardId())) {
                    shards.add(shard);
                    after = shard.shardId();
                    progressed = true;
                }
            }
            if (response.nextToken() == null || !progressed) {
                return shards;
            }
        }
    }

    /** Coordinator thread: new shards become splits; throwing here fails the job. */
    private void onShards(List<Shard> shards, Throwable error) {
        if (error != null) {
            if (ExceptionUtils.findThrowable(error, ResourceNotFoundException.class).isPresent()) {
                throw new FlinkRuntimeException("Kinesis stream " + clientSettings.streamArn()
                        + " does not exist (ListShards: " + error.getMessage() + ")", error);
            }
            failedListings++;
            if (KinesisClientSettings.isTransient(error) && failedListings < MAX_FAILED_LISTINGS) {
                LOG.warn("Listing the shards of {} failed ({}, {} in a row); retrying in {} ms",
                        clientSettings, KinesisClientSettings.errorCode(error), failedListings,
                        settings.discoveryIntervalMillis, error);
                return;
            }
            throw new FlinkRuntimeException("Cannot list the shards of Kinesis stream "
                    + clientSettings.streamArn() + " (" + failedListings + " attempts in a row): "
                    + KinesisClientSettings.errorCode(error) + " " + error.getMessage(), error);
        }
        failedListings = 0;
        Set<String> listed = new HashSet<>();
        List<ShardSplit> added = new ArrayList<>();
        for (Shard shard : shards) {
            listed.add(shard.shardId());
            if (knownShards.add(shard.shardId())) {
                ShardSplit split = newSplit(shard.shardId());
                added.add(split);
                addPending(split);
            }
        }
        // Shards past the retention period are no longer listed and never come back.
        knownShards.retainAll(listed);
        knownCount = knownShards.size();
        initialDiscoveryDone = true;
        if (!added.isEmpty()) {
            LOG.info("platform-kinesis source of {}: new splits {}", clientSettings, added);
        }
        assignPending();
    }

    private ShardSplit newSplit(String shardId) {
        if (initialDiscoveryDone) {
            return ShardSplit.trimHorizon(shardId); // created after the job started
        }
        switch (settings.initialPosition) {
            case TRIM_HORIZON:
                return ShardSplit.trimHorizon(shardId);
            case AT_TIMESTAMP:
                return ShardSplit.atTimestamp(shardId, settings.initialTimestamp);
            default:
                return ShardSplit.atTimestamp(shardId, latestAsTimestamp);
        }
    }

    private void addPending(ShardSplit split) {
        int owner = ShardSplit.shardIndex(split.shardId()) % context.currentParallelism();
        pending.computeIfAbsent(owner, k -> new ArrayList<>()).add(split);
        pendingCount++;
    }

    private void assignPending() {
        Map<Integer, List<ShardSplit>> assignment = new HashMap<>();
        for (Integer reader : context.registeredReaders().keySet()) {
            List<ShardSplit> splits = pending.remove(reader);
            if (splits != null && !splits.isEmpty()) {
                assignment.put(reader, splits);
                pendingCount -= splits.size();
            }
        }
        if (!assignment.isEmpty()) {
            LOG.info("platform-kinesis source of {}: assigning {}", clientSettings, assignment);
            context.assignSplits(new SplitsAssignment<>(assignment));
        }
    }

    @Override
    public void addReader(int subtaskId) {
        assignPending();
    }

    @Override
    public void addSplitsBack(List<ShardSplit> splits, int subtaskId) {
        LOG.info("platform-kinesis source of {}: splits {} of failed reader {} wait for it",
                clientSettings, splits, subtaskId);
        splits.forEach(this::addPending);
        assignPending();
    }

    @Override
    public void handleSplitRequest(int subtaskId, String requesterHostname) {
        // Splits are pushed when discovered; readers never ask.
    }

    @Override
    public EnumeratorState snapshotState(long checkpointId) {
        List<ShardSplit> unassigned = new ArrayList<>();
        pending.values().forEach(unassigned::addAll);
        return new EnumeratorState(latestAsTimestamp, initialDiscoveryDone, knownShards, unassigned);
    }

    @Override
    public void close() {
        if (client != null) {
            client.close();
        }
    }
}
