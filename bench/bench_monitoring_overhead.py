"""What the monitoring stack costs the jobs: sustained throughput of the fraud job alone
and with the local Prometheus (5 s scrapes of every Flink reporter, the platform rules)
and Alertmanager running, in one run on one cluster.

Own stack (free ports, state dir .local/bench-monitoring-overhead). The fraud job runs on
the generator source at an unreachable pace (so it runs as fast as the slowest operator
allows, through backpressure), 5 s checkpoints. After ``WARMUP_S``, windows of
``WINDOW_S`` alternate without / with monitoring (A B A B ...: JIT warm-up and drift hit
both sides alike); a window's rate is the source's ``numRecordsOut`` (read straight from
the reporters, not through Prometheus) over the window. Figures: the mean rate of each
side, ``overhead_pct`` = (without - with) / without, Prometheus's RSS and CPU seconds.
Target: overhead < 3%.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, isolate_local_stack, reporter_lines, write_result

sys.path.insert(0, str(ROOT / "tests"))

WARMUP_S = int(os.environ.get("BENCH_MONITORING_WARMUP_S", "40"))
WINDOW_S = int(os.environ.get("BENCH_MONITORING_WINDOW_S", "40"))
PAIRS = int(os.environ.get("BENCH_MONITORING_PAIRS", "2"))
MONITORING = ("alertmanager", "prometheus")


TRADE_BATCH = 100  # include/flink_jobs/generator_source.py: trades per emitted batch number


def source_records(cfg) -> float:
    """Trades the fraud job's generator source produced so far (all reporter ports): its
    JVM source emits batch numbers, each expanded into ``TRADE_BATCH`` trades."""
    total = sum(float(line.rsplit(" ", 1)[1]) for line in reporter_lines(cfg)
                if line.startswith("flink_taskmanager_job_task_operator_numRecordsOut{")
                and 'operator_name="Source:' in line)
    return total * TRADE_BATCH


def window_rate(cfg, seconds: float) -> float:
    start, begun = source_records(cfg), time.monotonic()
    time.sleep(seconds)  # the measurement window itself, not a wait for a state
    return (source_records(cfg) - start) / (time.monotonic() - begun)


def main() -> int:
    isolate_local_stack("monitoring-overhead")
    import psutil
    from flink_jobs.flink_client import cancel, submit, wait_state

    from flink_platform.config import load_config
    from flink_platform.local.stack import LocalStack

    cfg = load_config("local")
    stack = LocalStack(cfg)
    rest = f"http://127.0.0.1:{cfg.local.flink_rest_port}"
    without, with_monitoring, prom_cpu_s, prom_rss = [], [], 0.0, 0
    try:
        stack.up(("jobmanager", "taskmanager"))
        job_id = submit(cfg, "fraud_detection", Path(tempfile.mkdtemp()), source="generator",
                        events_per_s=5_000_000, checkpoint="5s")
        wait_state(rest, job_id, {"RUNNING"}, timeout_s=120)
        window_rate(cfg, WARMUP_S)
        for _ in range(PAIRS):
            without.append(window_rate(cfg, WINDOW_S))
            stack.up(MONITORING)
            prom = psutil.Process(stack.record("prometheus")["pid"])
            cpu_before = sum(prom.cpu_times()[:2])
            with_monitoring.append(window_rate(cfg, WINDOW_S))
            prom_cpu_s += sum(prom.cpu_times()[:2]) - cpu_before
            prom_rss = max(prom_rss, prom.memory_info().rss)
            stack.down(MONITORING)
        cancel(rest, job_id)
    finally:
        stack.down()
    alone, monitored = statistics.mean(without), statistics.mean(with_monitoring)
    write_result("monitoring_overhead", {
        "fraud_events_per_s_without_monitoring": round(alone),
        "fraud_events_per_s_with_monitoring": round(monitored),
        "windows_without_events_per_s": str([round(r) for r in without]),
        "windows_with_events_per_s": str([round(r) for r in with_monitoring]),
        "overhead_pct": round(100 * (alone - monitored) / alone, 2),
        "target_overhead_pct": 3,
        "prometheus_cpu_s_per_window": round(prom_cpu_s / PAIRS, 2),
        "window_s": WINDOW_S,
        "prometheus_rss_mib": round(prom_rss / 2**20, 1),
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
