package io.flinkplatform.jobs;

import java.util.HashMap;
import java.util.Map;

import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.ScalarFunction;

/**
 * {@code COUNTED_AS(value, 'counter', 'label')}: returns {@code value} unchanged and counts
 * the row in the operator's metric group, under a user-scoped key-value group, so Prometheus
 * gets {@code flink_taskmanager_job_task_operator_<label>_<counter>{<label>="<value>"}}.
 *
 * <p>The jobs call it where a row leaves for an output whose breakdown an operator wants
 * (alerts by {@code rule_id}, dead letters by {@code reason}). The values are bounded sets
 * (rule ids, reason codes), so the label's cardinality is too. One counter per value, made on
 * first sight; a NULL value counts as {@code "null"}.
 *
 * <p>Not deterministic: the planner must call it once per row, never fold or drop it.
 */
public class CountedAs extends ScalarFunction {
    private transient MetricGroup metrics;
    private transient Map<String, Counter> counters;

    @Override
    public void open(FunctionContext context) {
        metrics = context.getMetricGroup();
        counters = new HashMap<>();
    }

    public String eval(String value, String counter, String label) {
        String key = counter + '\u0000' + label + '\u0000' + value;
        Counter c = counters.get(key);
        if (c == null) {
            c = metrics.addGroup(label, value == null ? "null" : value).counter(counter);
            counters.put(key, c);
        }
        c.inc();
        return value;
    }

    @Override
    public boolean isDeterministic() {
        return false;
    }
}
