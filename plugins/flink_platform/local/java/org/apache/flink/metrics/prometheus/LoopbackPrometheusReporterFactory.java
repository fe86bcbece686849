package org.apache.flink.metrics.prometheus;

import java.util.Properties;
import org.apache.flink.metrics.reporter.MetricReporter;
import org.apache.flink.metrics.reporter.MetricReporterFactory;
import org.apache.flink.util.PortRange;

/** Factory of {@link LoopbackPrometheusReporter}: options {@code host} and {@code port}. */
public class LoopbackPrometheusReporterFactory implements MetricReporterFactory {
    @Override
    public MetricReporter createMetricReporter(Properties properties) {
        String host = properties.getProperty("host", "127.0.0.1");
        String ports = properties.getProperty("port", "9249");
        return new LoopbackPrometheusReporter(host, new PortRange(ports));
    }
}
