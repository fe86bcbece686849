package io.flinkplatform.jobs;

import org.apache.flink.metrics.Histogram;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code AGE_OBSERVED(epoch_ms, 'histogram')}: returns {@code epoch_ms} unchanged and records
 * its age (wall-clock now minus it, in ms) in the operator's histogram {@code histogram}:
 * Prometheus gets {@code flink_taskmanager_job_task_operator_<histogram>{quantile=...}} over
 * the last {@value #WINDOW} rows of each subtask.
 *
 * <p>The fraud job calls it on each alert's event time as the alert is made: the
 * event-to-alert latency inside Flink (a producer's clock skew shows in it too).
 *
 * <p>Not deterministic: the planner must call it once per row, never fold or drop it.
 */
public class AgeObserved extends ScalarFunction {
    static final int WINDOW = 1024;
    private transient FunctionContext context;
    private transient String name;
    private transient Histogram histogram;

    @Override
    public void open(FunctionContext context) {
        this.context = context;
    }

    public Long eval(Long epochMs, String histogramName) {
        if (epochMs == null) return null;
        if (histogram == null || !histogramName.equals(name)) {
            histogram = context.getMetricGroup().histogram(
                    histogramName, new DescriptiveStatisticsHistogram(WINDOW));
            name = histogramName;
        }
        histogram.update(System.currentTimeMillis() - epochMs);
        return epochMs;
    }

    @Override
    public boolean isDeterministic() {
        return false;
    }
}
