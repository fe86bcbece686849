"""The metrics sampler against a real Flink job on the local cluster (no fakes)."""

from __future__ import annotations

from flink_platform.loadtest.sampler import FlinkMetricsSampler, JobTarget, prometheus_urls, rates

from .conftest import STANDIN_RATE


def test_sampler_reads_throughput_backpressure_and_checkpoints(standin_job, flink_cluster,
                                                              platform_config):
    urls = prometheus_urls(platform_config.local.prometheus_ports)
    assert urls, "the TaskManager's Prometheus reporter did not answer"
    target = JobTarget("fraud-detection", flink_cluster, standin_job)
    sampler = FlinkMetricsSampler([target], prometheus_urls=urls)

    result = sampler.run(duration_s=8, interval_s=1.0)  # 1 s checkpoints, ~1-2 s each here

    samples = [s for s in result["samples"] if s.get("job_id")]
    assert len(samples) >= 4 and {s["state"] for s in samples} == {"RUNNING"}
    assert {s["metrics_source"] for s in samples} == {"prometheus"}
    in_rates = [r for _, r in rates(samples, "fraud-detection", "records_in")]
    assert in_rates and abs(sum(in_rates) / len(in_rates) - STANDIN_RATE) < STANDIN_RATE * 0.25
    assert rates(samples, "fraud-detection", "records_out")
    assert all(0 <= s["backpressure_ratio"] <= 1 and 0 <= s["busy_ratio"] <= 1 for s in samples)
    assert result["checkpoints"]["fraud-detection"], "no completed checkpoint seen"
    checkpoint = result["checkpoints"]["fraud-detection"][-1]
    assert checkpoint["duration_ms"] >= 0 and checkpoint["state_size_bytes"] > 0


def test_sampler_falls_back_to_rest(standin_job, flink_cluster):
    sampler = FlinkMetricsSampler([JobTarget("fraud-detection", flink_cluster)])  # id by name
    [row] = sampler.sample()
    assert row["job_id"] == standin_job
    assert row["metrics_source"] == "rest"
    assert row["records_in"] >= 0 and "error" not in row
