package io.flinkplatform.jobs.kinesis;

import java.time.Duration;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;

/**
 * Options of the {@code platform-kinesis} table connector. Names follow the official Flink
 * AWS Kinesis Streams connector where it has the same option.
 */
public final class KinesisConnectorOptions {
    /** Where a source starts on the shards it finds at its first start. */
    public enum InitialPosition { LATEST, TRIM_HORIZON, AT_TIMESTAMP }

    public static final ConfigOption<String> STREAM_ARN = ConfigOptions.key("stream.arn")
            .stringType().noDefaultValue()
            .withDescription("ARN of the Kinesis data stream (every call addresses it by StreamARN).");
    public static final ConfigOption<String> AWS_REGION = ConfigOptions.key("aws.region")
            .stringType().noDefaultValue()
            .withDescription("AWS region of the stream (the region in its ARN).");
    public static final ConfigOption<String> AWS_ENDPOINT = ConfigOptions.key("aws.endpoint")
            .stringType().noDefaultValue()
            .withDescription("Endpoint URL override, e.g. http://127.0.0.1:5055 for an emulator.");

    public static final ConfigOption<InitialPosition> SOURCE_INIT_POSITION =
            ConfigOptions.key("source.init.position").enumType(InitialPosition.class)
                    .defaultValue(InitialPosition.LATEST)
                    .withDescription("LATEST (records that arrive after the job's first start), "
                            + "TRIM_HORIZON (every record kept), or AT_TIMESTAMP.");
    public static final ConfigOption<Long> SOURCE_INIT_TIMESTAMP =
            ConfigOptions.key("source.init.timestamp").longType().noDefaultValue()
                    .withDescription("Epoch milliseconds; with source.init.position = AT_TIMESTAMP.");
    public static final ConfigOption<Duration> SOURCE_SHARD_DISCOVERY_INTERVAL =
            ConfigOptions.key("source.shard.discovery.interval").durationType()
                    .defaultValue(Duration.ofSeconds(10))
                    .withDescription("How often the shard list is read (new shards after resharding).");
    public static final ConfigOption<Integer> SOURCE_GET_RECORDS_MAX =
            ConfigOptions.key("source.get-records.max").intType().defaultValue(10_000)
                    .withDescription("Limit of one GetRecords call (1..10000).");
    public static final ConfigOption<Duration> SOURCE_GET_RECORDS_IDLE_INTERVAL =
            ConfigOptions.key("source.get-records.idle-interval").durationType()
                    .defaultValue(Duration.ofMillis(200))
                    .withDescription("Wait before polling a shard again after it returned nothing.");

    public static final ConfigOption<String> SINK_PARTITION_KEY_FIELD =
            ConfigOptions.key("sink.partition-key.field").stringType().noDefaultValue()
                    .withDescription("Column whose value is the partition key (default: a random key).");
    public static final ConfigOption<Integer> SINK_BATCH_MAX_SIZE =
            ConfigOptions.key("sink.batch.max-size").intType().defaultValue(500)
                    .withDescription("Records per PutRecords call (1..500).");
    public static final ConfigOption<Duration> SINK_FLUSH_INTERVAL =
            ConfigOptions.key("sink.flush.interval").durationType()
                    .defaultValue(Duration.ofMillis(100))
                    .withDescription("Longest a record waits in the buffer before it is sent "
                            + "(0: only when the batch is full and at checkpoints).");
    public static final ConfigOption<Integer> SINK_RETRY_MAX_ATTEMPTS =
            ConfigOptions.key("sink.retry.max-attempts").intType().defaultValue(10)
                    .withDescription("Attempts per record (exponential backoff with jitter between).");

    private KinesisConnectorOptions() {
    }
}
