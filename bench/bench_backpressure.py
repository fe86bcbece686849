"""Flink jobs' sustained events/s at the point backpressure begins (local target).

Runs its own Flink session cluster (free ports, state dir .local/bench-backpressure),
deploys the real fraud-detection job (the load-test stand-in with
BENCH_BACKPRESSURE_STANDIN=1 or while include/flink_jobs/fraud_detection.py is missing)
and drives its generator source up a ladder of rates, exactly as ``platform_load_test``
does on ``local`` (adapter.apply with ``events_per_s``: savepoint, resubmit). At each rate
it waits for records to flow, then samples for SAMPLE_S with the load test's sampler
(Prometheus, live counters): achieved events/s into the job, p95 backpressure of the most
back-pressured vertex, p95 busy of the busiest. Saturation begins at the first rate where
backpressure p95 > 0.1 or the job takes in < 90% of the rate; the figure is the highest
rate sustained before it and what the job took in at the onset.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time

from _common import ROOT, isolate_local_stack, write_result

JOB = "fraud-detection"
RATES = (500, 1000, 2000, 4000, 8000)
WARMUP_S = 8
SAMPLE_S = 12
BACKPRESSURE_ONSET = 0.1
MIN_TAKEN = 0.9



def _setup_env() -> bool:
    isolate_local_stack("backpressure", {
        f"jobs.{JOB}.checkpoint_interval_s": 5,
    })
    os.environ["FLINK_PLATFORM_TARGET"] = "local"
    standin = (os.environ.get("BENCH_BACKPRESSURE_STANDIN") == "1"
               or not (ROOT / "include" / "flink_jobs" / "fraud_detection.py").exists())
    if standin:
        jobs_dir = ROOT / ".local" / "bench-backpressure" / "standin_jobs"
        jobs_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "tests" / "loadtest" / "standin_job.py", jobs_dir / "fraud_detection.py")
        os.environ["FLINK_PLATFORM_JOBS_DIR"] = str(jobs_dir)
    return standin


def _wait(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.5)  # poll interval


def _measure(cfg, adapter, rate: int) -> dict:
    from flink_platform.loadtest.report import percentile
    from flink_platform.loadtest.sampler import FlinkMetricsSampler, JobTarget, prometheus_urls, rates

    status = adapter.apply(JOB, {"events_per_s": rate})
    if status.lifecycle_state == "FAILED":
        raise RuntimeError(f"{JOB} at {rate}/s failed: {status.error}")
    def running() -> bool:
        now = adapter.status(JOB)
        if now.lifecycle_state == "FAILED":
            raise RuntimeError(f"{JOB} at {rate}/s failed: {now.error}")
        return now.ready

    _wait(running, 180, f"{JOB} at {rate}/s not running")
    job_id = adapter.status(JOB).job_id
    target = JobTarget(JOB, adapter.metrics_endpoint(JOB), job_id)
    urls = prometheus_urls(cfg.local.prometheus_ports)
    FlinkMetricsSampler([target], prometheus_urls=urls).run(WARMUP_S, 1.0)
    result = FlinkMetricsSampler([target], prometheus_urls=urls).run(SAMPLE_S, 1.0)
    samples = [s for s in result["samples"] if s.get("job_id")]
    taken = [r for _, r in rates(samples, JOB, "records_in")]
    row = {
        "rate": rate,
        "taken_events_per_s": round(statistics.mean(taken), 1) if taken else 0.0,
        "backpressure_p95": percentile([s["backpressure_ratio"] for s in samples], 95) or 0.0,
        "busy_p95": percentile([s["busy_ratio"] for s in samples], 95) or 0.0,
    }
    row["saturated"] = (row["backpressure_p95"] > BACKPRESSURE_ONSET
                        or row["taken_events_per_s"] < MIN_TAKEN * rate)
    print(f"rate {rate}/s: took {row['taken_events_per_s']}/s, backpressure p95 "
          f"{row['backpressure_p95']:.2f}, busy p95 {row['busy_p95']:.2f}", flush=True)
    return row


def main() -> int:
    standin = _setup_env()
    from flink_platform.adapters.local_flink import LocalFlinkAdapter
    from flink_platform.config import load_config
    from flink_platform.local.stack import LocalStack

    cfg = load_config("local")
    stack = LocalStack(cfg)
    adapter = LocalFlinkAdapter(cfg)
    rows = []
    try:
        stack.up(("jobmanager", "taskmanager"))
        for rate in RATES:
            rows.append(_measure(cfg, adapter, rate))
            if rows[-1]["saturated"]:
                break
    finally:
        adapter.delete(JOB)
        stack.down(("taskmanager", "jobmanager"))
    sustained = [r for r in rows if not r["saturated"]]
    onset = next((r for r in rows if r["saturated"]), None)
    figures: dict[str, float | int | str] = {
        "job": "stand-in SQL job" if standin else "include/flink_jobs/fraud_detection.py",
        "source": "generator (driven through the adapter, as the local load test does)",
        "parallelism": cfg.jobs[JOB].parallelism,
        "max_sustained_events_per_s": max((r["taken_events_per_s"] for r in sustained), default=0.0),
        "backpressure_onset_rate_events_per_s": onset["rate"] if onset else "not reached",
        "taken_at_onset_events_per_s": onset["taken_events_per_s"] if onset else "not reached",
        "backpressure_p95_at_onset": onset["backpressure_p95"] if onset else "not reached",
    }
    for r in rows:
        figures[f"rate_{r['rate']}_taken_events_per_s"] = r["taken_events_per_s"]
        figures[f"rate_{r['rate']}_backpressure_p95"] = r["backpressure_p95"]
        figures[f"rate_{r['rate']}_busy_p95"] = r["busy_p95"]
    write_result("backpressure", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
