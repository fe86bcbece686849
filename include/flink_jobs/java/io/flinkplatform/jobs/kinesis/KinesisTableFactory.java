package io.flinkplatform.jobs.kinesis;

import static io.flinkplatform.jobs.kinesis.KinesisConnectorOptions.AWS_ENDPOINT;
import static io.flinkplatform.jobs.kinesis.KinesisConnectorOptions.AWS_REGION;
import static io.flinkplatform.jobs.kinesis.KinesisConnectorOptions.SINK_BATCH_MAX_SIZE;
import static io.flinkplatform.jobs.kinesis.KinesisConnectorOptions.SINK_FLUSH_INTERVAL;
import static io.flinkplatform.jobs.kinesis.KinesisConnectorOptions.SINK_PARTITION_KEY_FIELD;
import static io.flinkplatform.jobs.kinesis.KinesisConnectorOptions.SINK_RETRY_MAX_ATTEMPTS;
import static io.flinkplatform.jobs.kinesis.KinesisConnectorOptions.SOURCE_GET_RECORDS_IDLE_INTERVAL;
import static io.flinkplatform.jobs.kinesis.KinesisConnectorOptions.SOURCE_GET_RECORDS_MAX;
import static io.flinkplatform.jobs.kinesis.KinesisConnectorOptions.SOURCE_INIT_POSITION;
import static io.flinkplatform.jobs.kinesis.KinesisConnectorOptions.SOURCE_INIT_TIMESTAMP;
import static io.flinkplatform.jobs.kinesis.KinesisConnectorOptions.SOURCE_SHARD_DISCOVERY_INTERVAL;
import static io.flinkplatform.jobs.kinesis.KinesisConnectorOptions.STREAM_ARN;

import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.connector.format.DecodingFormat;
import org.apache.flink.table.connector.format.EncodingFormat;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.factories.DeserializationFormatFactory;
import org.apache.flink.table.factories.DynamicTableSinkFactory;
import org.apache.flink.table.factories.DynamicTableSourceFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.factories.SerializationFormatFactory;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.LogicalTypeFamily;

import io.flinkplatform.jobs.kinesis.KinesisConnectorOptions.InitialPosition;

/**
 * Table connector {@code 'connector' = 'platform-kinesis'}: a Kinesis data stream as an
 * unbounded, insert-only source and as an insert-only sink, on the AWS SDK v2 Kinesis client.
 *
 * <pre>{@code
 * CREATE TABLE trades (line STRING, parse_problem STRING, rowtime TIMESTAMP_LTZ(3), ...,
 *   WATERMARK FOR rowtime AS rowtime - INTERVAL '5' SECOND
 * ) WITH ('connector' = 'platform-kinesis',
 *   'stream.arn' = 'arn:aws:kinesis:eu-west-1:123456789012:stream/trades',
 *   'aws.region' = 'eu-west-1', 'format' = 'event-json',
 *   'source.init.position' = 'LATEST')
 * }</pre>
 *
 * <p>Common options: {@code stream.arn} (required; every call addresses the stream by
 * StreamARN; the region in it must be {@code aws.region}), {@code aws.region} (required),
 * {@code aws.endpoint} (optional endpoint URL: an emulator such as moto, which is then spoken
 * to in JSON instead of CBOR), {@code format} (required: a deserialization format for reads,
 * e.g. {@code event-json}; a serialization format for writes, e.g. {@code json}). Credentials
 * come from the SDK's default chain (environment, IRSA web identity, instance profile).
 * Options are validated at planning: an unknown (misspelt) option or a bad value fails the
 * statement naming the option.
 *
 * <p>Source ({@link KinesisSource}): one split per shard, assigned to reader
 * {@code shard index mod parallelism}; each record's data is one message for the format.
 * <ul>
 *   <li>{@code source.init.position}: {@code LATEST} (default), {@code TRIM_HORIZON} or
 *   {@code AT_TIMESTAMP} (with {@code source.init.timestamp}, epoch milliseconds). The
 *   position applies to the shards found at the job's first start. {@code LATEST} is resolved
 *   once, when the split enumerator first starts, into {@code AT_TIMESTAMP} = that start time,
 *   and kept in the enumerator's checkpoint: a record that arrives after the job started is
 *   read even if its reader starts (or restarts) later; records that arrived before are not.
 *   (The time is the JobManager's clock; a failover before the first completed checkpoint
 *   resolves it again.) Shards found later (resharding) are read from {@code TRIM_HORIZON}:
 *   they only hold records written after the job started. A child shard may be read while
 *   its parent is still being read, so per-key order is not kept across a reshard.</li>
 *   <li>Restores (checkpoint or savepoint) resume each shard after the sequence number of the
 *   last record emitted before the checkpoint: exactly-once with Flink's checkpoints.</li>
 *   <li>{@code source.shard.discovery.interval} (10 s, at least 1 s),
 *   {@code source.get-records.max} (10000, at most 10000), {@code source.get-records.idle-interval}
 *   (200 ms: the wait after an empty response from a shard that is caught up). At most 5
 *   GetRecords per second and shard; throttling backs off instead of failing.</li>
 *   <li>A stream that does not exist fails the job with a message naming its ARN.</li>
 *   <li>The table's WATERMARK clause is pushed into the source: watermarks per shard, each
 *   reader emits the smallest of its shards' (one watermark over a reader's records ran ahead
 *   of a lagging shard when it caught up on a backlog). A shard, or a reader without shards
 *   (parallelism above the shard count), holds the watermark back unless
 *   {@code table.exec.source.idle-timeout} is set.</li>
 *   <li>Metric {@code millisBehindLatest} per reader (max over its shards).</li>
 * </ul>
 *
 * <p>Sink ({@link KinesisSink}): at-least-once; see {@link KinesisSinkWriter}.
 * {@code sink.partition-key.field} (a character-string or exact-numeric column; default: a
 * random key per record), {@code sink.batch.max-size} (500, at most 500 records; requests also
 * stay within 5 MiB), {@code sink.flush.interval} (100 ms: a batch also goes when its oldest
 * record waited this long, and at every checkpoint), {@code sink.retry.max-attempts} (10;
 * exhausting them fails the job naming the stream and the last error code).
 */
public class KinesisTableFactory implements DynamicTableSourceFactory, DynamicTableSinkFactory {
    public static final String IDENTIFIER = "platform-kinesis";
    /** arn:partition:kinesis:region:account:stream/name. */
    private static final Pattern STREAM_ARN_PATTERN = Pattern.compile(
            "arn:aws[a-z-]*:kinesis:([a-z0-9-]+):\\d{12}:stream/[a-zA-Z0-9_.-]{1,128}");

    @Override
    public String factoryIdentifier() {
        return IDENTIFIER;
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        return new HashSet<>(Arrays.asList(STREAM_ARN, AWS_REGION, FactoryUtil.FORMAT));
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        return new HashSet<>(Arrays.asList(AWS_ENDPOINT, SOURCE_INIT_POSITION,
                SOURCE_INIT_TIMESTAMP, SOURCE_SHARD_DISCOVERY_INTERVAL, SOURCE_GET_RECORDS_MAX,
                SOURCE_GET_RECORDS_IDLE_INTERVAL, SINK_PARTITION_KEY_FIELD, SINK_BATCH_MAX_SIZE,
                SINK_RETRY_MAX_ATTEMPTS, SINK_FLUSH_INTERVAL));
    }

    @Override
    public DynamicTableSource createDynamicTableSource(Context context) {
        FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
        DecodingFormat<DeserializationSchema<RowData>> format = helper.discoverDecodingFormat(
                DeserializationFormatFactory.class, FactoryUtil.FORMAT);
        helper.validate();
        ReadableConfig options = helper.getOptions();
        DataType physical = context.getPhysicalRowDataType();
        KinesisClientSettings client = clientSettings(options);
        partitionKey(options, physical); // the same table may also be written to
        return new KinesisTableSource(client, sourceSettings(options), format, physical,
                context.getObjectIdentifier().getObjectName(), null);
    }

    @Override
    public DynamicTableSink createDynamicTableSink(Context context) {
        FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
        EncodingFormat<SerializationSchema<RowData>> format = helper.discoverEncodingFormat(
                SerializationFormatFactory.class, FactoryUtil.FORMAT);
        helper.validate();
        ReadableConfig options = helper.getOptions();
        DataType physical = context.getPhysicalRowDataType();
        KinesisClientSettings client = clientSettings(options);
        sourceSettings(options); // the same table may also be read
        int batch = options.get(SINK_BATCH_MAX_SIZE);
        check(batch >= 1 && batch <= 500, SINK_BATCH_MAX_SIZE, batch,
                "must be 1..500 (Kinesis's PutRecords limit)");
        int attempts = options.get(SINK_RETRY_MAX_ATTEMPTS);
        check(attempts >= 1, SINK_RETRY_MAX_ATTEMPTS, attempts, "must be at least 1");
        Duration flush = options.get(SINK_FLUSH_INTERVAL);
        check(!flush.isNegative(), SINK_FLUSH_INTERVAL, flush, "must not be negative");
        int keyIndex = partitionKey(options, physical);
        LogicalType keyType = keyIndex < 0 ? null
                : DataType.getFieldDataTypes(physical).get(keyIndex).getLogicalType();
        return new KinesisTableSink(client, format, physical, keyIndex, keyType,
                new KinesisSink.Settings(batch, attempts, flush.toMillis()));
    }

    private static KinesisClientSettings clientSettings(ReadableConfig options) {
        String arn = options.get(STREAM_ARN);
        String region = options.get(AWS_REGION);
        Matcher matcher = STREAM_ARN_PATTERN.matcher(arn);
        check(matcher.matches(), STREAM_ARN, arn,
                "is not a Kinesis stream ARN (arn:aws:kinesis:<region>:<account>:stream/<name>)");
        check(matcher.group(1).equals(region), AWS_REGION, region,
                "differs from the region of the stream in 'stream.arn' (" + matcher.group(1) + ")");
        String endpoint = options.getOptional(AWS_ENDPOINT).orElse(null);
        if (endpoint != null) {
            boolean valid;
            try {
                URI uri = new URI(endpoint);
                valid = ("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))
                        && uri.getHost() != null;
            } catch (URISyntaxException e) {
                valid = false;
            }
            check(valid, AWS_ENDPOINT, endpoint, "is not an http(s) URL");
        }
        return new KinesisClientSettings(arn, region, endpoint);
    }

    private static KinesisSource.Settings sourceSettings(ReadableConfig options) {
        InitialPosition position = options.get(SOURCE_INIT_POSITION);
        Long timestamp = options.getOptional(SOURCE_INIT_TIMESTAMP).orElse(null);
        check(position != InitialPosition.AT_TIMESTAMP || timestamp != null, SOURCE_INIT_POSITION,
                position, "needs 'source.init.timestamp' (epoch milliseconds)");
        check(timestamp == null || position == InitialPosition.AT_TIMESTAMP, SOURCE_INIT_TIMESTAMP,
                timestamp, "is only used with 'source.init.position' = 'AT_TIMESTAMP'");
        check(timestamp == null || timestamp >= 0, SOURCE_INIT_TIMESTAMP, timestamp,
                "must be epoch milliseconds (>= 0)");
        Duration discovery = options.get(SOURCE_SHARD_DISCOVERY_INTERVAL);
        check(discovery.toMillis() >= 1000, SOURCE_SHARD_DISCOVERY_INTERVAL, discovery,
                "must be at least 1 s");
        int max = options.get(SOURCE_GET_RECORDS_MAX);
        check(max >= 1 && max <= 10_000, SOURCE_GET_RECORDS_MAX, max,
                "must be 1..10000 (Kinesis's GetRecords limit)");
        Duration idle = options.get(SOURCE_GET_RECORDS_IDLE_INTERVAL);
        check(idle.toMillis() >= 1, SOURCE_GET_RECORDS_IDLE_INTERVAL, idle, "must be at least 1 ms");
        return new KinesisSource.Settings(position, timestamp == null ? -1 : timestamp,
                discovery.toMillis(), max, idle.toMillis());
    }

    /** Index of the partition key column, or -1; fails on an unknown or unsuitable column. */
    private static int partitionKey(ReadableConfig options, DataType physical) {
        String field = options.getOptional(SINK_PARTITION_KEY_FIELD).orElse(null);
        if (field == null) {
            return -1;
        }
        List<String> names = DataType.getFieldNames(physical);
        int index = names.indexOf(field);
        check(index >= 0, SINK_PARTITION_KEY_FIELD, field,
                "is not a physical column of the table " + names);
        LogicalType type = DataType.getFieldDataTypes(physical).get(index).getLogicalType();
        check(type.is(LogicalTypeFamily.CHARACTER_STRING) || type.is(LogicalTypeFamily.EXACT_NUMERIC),
                SINK_PARTITION_KEY_FIELD, field, "has type " + type
                        + "; a partition key column must be a character string or an exact numeric");
        return index;
    }

    private static void check(boolean ok, ConfigOption<?> option, Object value, String problem) {
        if (!ok) {
            throw new ValidationException(String.format("Invalid option '%s' = '%s' of connector "
                    + "'%s': %s", option.key(), value, IDENTIFIER, problem));
        }
    }
}
