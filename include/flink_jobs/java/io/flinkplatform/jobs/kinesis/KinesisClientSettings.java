package io.flinkplatform.jobs.kinesis;

import java.io.Serializable;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

import javax.annotation.Nullable;

import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.retry.RetryMode;
import software.amazon.awssdk.http.apache5.Apache5HttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.kinesis.KinesisClient;
import software.amazon.awssdk.services.kinesis.KinesisClientBuilder;
import software.amazon.awssdk.services.kinesis.model.KmsThrottlingException;
import software.amazon.awssdk.services.kinesis.model.LimitExceededException;
import software.amazon.awssdk.services.kinesis.model.ProvisionedThroughputExceededException;
import software.amazon.awssdk.services.kinesis.model.ResourceInUseException;

/**
 * Where the stream is and how to reach it: the stream ARN, the region and an optional endpoint
 * (an emulator, or a VPC endpoint). Serializable: it travels in the job graph, the SDK client
 * is built where it is used (enumerator, each split reader, each sink writer).
 *
 * <p>Clients use the SDK's default credentials chain (environment variables locally, IRSA
 * web-identity tokens on EKS through the sts module), the Apache 5 HTTP client and the SDK's
 * standard retry mode (3 attempts with backoff for throttling and 5xx errors); the connector
 * adds its own backoff above that (see the reader and the sink writer).
 *
 * <p>With {@code aws.endpoint} set the client speaks Kinesis's JSON protocol instead of CBOR:
 * emulators (moto) only understand JSON, and real Kinesis (a VPC endpoint) accepts both.
 */
final class KinesisClientSettings implements Serializable {
    private static final long serialVersionUID = 1L;
    /** SDK system setting read when a Kinesis client is built (SdkSystemSetting.CBOR_ENABLED). */
    private static final String CBOR_PROPERTY = "aws.cborEnabled";
    private static final Object CBOR_LOCK = new Object();

    private final String streamArn;
    private final String region;
    @Nullable private final String endpoint;

    KinesisClientSettings(String streamArn, String region, @Nullable String endpoint) {
        this.streamArn = streamArn;
        this.region = region;
        this.endpoint = endpoint;
    }

    String streamArn() {
        return streamArn;
    }

    /** A new client; the caller closes it (that also closes its HTTP connection pool). */
    KinesisClient createClient() {
        KinesisClientBuilder builder = KinesisClient.builder()
                .region(Region.of(region))
                .httpClientBuilder(Apache5HttpClient.builder()
                        .maxConnections(8)
                        .connectionTimeout(Duration.ofSeconds(10))
                        .socketTimeout(Duration.ofSeconds(60)))
                .overrideConfiguration(o -> o.retryStrategy(RetryMode.STANDARD)
                        .apiCallAttemptTimeout(Duration.ofSeconds(60))
                        .apiCallTimeout(Duration.ofMinutes(3)));
        if (endpoint == null) {
            return builder.build();
        }
        builder.endpointOverride(URI.create(endpoint));
        // The protocol is chosen once, when the client is built, from this JVM-wide setting:
        // set it only for the duration of the build (other clients keep their choice).
        synchronized (CBOR_LOCK) {
            String previous = System.getProperty(CBOR_PROPERTY);
            System.setProperty(CBOR_PROPERTY, "false");
            try {
                return builder.build();
            } finally {
                if (previous == null) {
                    System.clearProperty(CBOR_PROPERTY);
                } else {
                    System.setProperty(CBOR_PROPERTY, previous);
                }
            }
        }
    }

    /** Throttling that the SDK's own retries did not absorb: back off and try again. */
    static boolean isThrottling(Throwable error) {
        return error instanceof ProvisionedThroughputExceededException
                || error instanceof LimitExceededException
                || error instanceof KmsThrottlingException
                || (error instanceof AwsServiceException
                        && ((AwsServiceException) error).isThrottlingException());
    }

    /**
     * Worth another attempt later: throttling, a 5xx, a stream being updated (resharding),
     * or a client-side I/O failure (connection refused, timeout).
     */
    static boolean isTransient(Throwable error) {
        if (isThrottling(error) || error instanceof ResourceInUseException
                || error instanceof SdkClientException) {
            return true;
        }
        return error instanceof AwsServiceException
                && ((AwsServiceException) error).statusCode() >= 500;
    }

    /** The AWS error code of an SDK failure (or its class name), for messages. */
    static String errorCode(Throwable error) {
        if (error instanceof AwsServiceException
                && ((AwsServiceException) error).awsErrorDetails() != null
                && ((AwsServiceException) error).awsErrorDetails().errorCode() != null) {
            return ((AwsServiceException) error).awsErrorDetails().errorCode();
        }
        return error instanceof SdkException ? error.getClass().getSimpleName() : String.valueOf(error);
    }

    /** Exponential backoff with jitter: a random delay in [c/2, c], c = min(cap, base * 2^attempt). */
    static long backoffMillis(int attempt, long baseMillis, long capMillis) {
        long ceiling = Math.min(capMillis, baseMillis << Math.min(attempt, 20));
        return ThreadLocalRandom.current().nextLong(ceiling / 2, ceiling + 1);
    }

    @Override
    public String toString() {
        return streamArn + (endpoint == null ? "" : " via " + endpoint);
    }
}
