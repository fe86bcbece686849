package org.apache.flink.metrics.prometheus;

import io.prometheus.client.exporter.HTTPServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Iterator;
import org.apache.flink.util.PortRange;

/**
 * Flink's PrometheusReporter binds every interface and has no host option (2.3.0). This
 * one serves the same registry on one host only (127.0.0.1 for the local stack). It lives
 * in Flink's package because the registry is package-private; it is loaded from the same
 * plugin folder (same class loader) as the stock reporter.
 */
public class LoopbackPrometheusReporter extends AbstractPrometheusReporter {
    private final HTTPServer httpServer;
    private final int port;

    LoopbackPrometheusReporter(String host, PortRange portRange) {
        Iterator<Integer> ports = portRange.getPortsIterator();
        HTTPServer server = null;
        int bound = -1;
        while (ports.hasNext() && server == null) {
            int candidate = ports.next();
            try {
                server = new HTTPServer(new InetSocketAddress(host, candidate), this.registry);
                bound = candidate;
                log.info("Prometheus metrics served on {}:{}", host, candidate);
            } catch (IOException e) {
                log.debug("Port {} on {} is taken, trying the next one", candidate, host);
            }
        }
        if (server == null) {
            throw new RuntimeException("no free port in " + portRange + " on " + host);
        }
        this.httpServer = server;
        this.port = bound;
    }

    int getPort() {
        return port;
    }

    @Override
    public void close() {
        httpServer.stop();
        super.close();
    }
}
