"""The data plane end to end: producers -> Kinesis (the emulator) -> both jobs -> alerts stream.

Its own local stack (free ports, state dir .local/bench-data-plane): the platform's streams
and bucket are created as provision names them, both jobs deployed on them through the
local adapter (Kinesis sources, S3 checkpoints), then two runs of the load test's own
pieces (flink_platform.loadtest.runner), each with N producer processes side by side:

1. throughput: producers offered more than the emulator takes. Figures:
   ``produce_events_per_s`` (records accepted / produce phase), ``end_to_end_events_per_s``
   (records / first send -> every record read by both jobs' sources and every alert in the
   alerts stream), ``source_caught_up_after_s`` (last send -> sources read all: the lag
   back to zero; target <= 10 s), recall and precision of the alerts.
2. latency at half the achieved produce rate: ``p50/p99_event_to_alert_ms`` (producer send
   of the trade -> the alert's arrival in the alerts stream); target p99 < 1,000 ms at
   5,000 events/s, or at the emulator's ceiling when that is lower (``latency_rate_reason``).

``python bench/bench_data_plane.py``
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time

from _common import isolate_local_stack, provision_data_plane, write_result

PRODUCERS = int(os.environ.get("BENCH_DP_PRODUCERS", "2"))
OFFERED_EVENTS_PER_S = int(os.environ.get("BENCH_DP_OFFERED", "20000"))
SECONDS = int(os.environ.get("BENCH_DP_SECONDS", "20"))
LATENCY_TARGET_RATE = 5000
JOBS = ("fraud-detection", "risk-analytics")


def _setup():
    isolate_local_stack("data-plane", {f"jobs.{j}.checkpoint_interval_s": 5 for j in JOBS})
    from flink_platform.config import load_config
    from flink_platform.local.env import airflow_settings

    os.environ.update(airflow_settings(load_config("local")))  # aws_default -> this moto
    return load_config("local")


def _produce(spec: dict, queue) -> None:
    from flink_platform.config import load_config
    from flink_platform.loadtest.runner import produce

    queue.put(produce(load_config("local"), spec))


def run_load(cfg, plane, rate: int, seconds: int) -> dict:
    """One run: producers side by side, drain with heartbeats, the alerts; the figures."""
    from flink_platform.loadtest import runner

    params = {"target_events_per_s": rate, "duration_s": seconds, "producers": PRODUCERS,
              "seed": 11}
    plan = runner.plan_from_params(cfg, params, plane, runner.previous_run(cfg))
    targets = runner.flink_targets(cfg, list(JOBS))
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_produce, args=(s.to_dict(), queue)) for s in plan.producer_specs()]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=seconds * 10 + 120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    runner.save_next_run(cfg, plan, "bench", plan.clock.event_ms(time.time()))
    started = min(r["started_at"] for r in results)
    ended = max(r["ended_at"] for r in results)
    produced = runner.produced_by_stream(plan, results)
    drained = runner.drain_sources(cfg, plan, targets, produced, ended)
    alerts = runner.collect_alerts(cfg, plane, plan, results)
    last_alert_s = max((s[0] for s in alerts["latency"]["samples"]), default=ended)
    all_read_at = ended + max((j["caught_up_after_s"] or float("inf"))
                              for j in drained["jobs"].values())
    records = sum(produced.values())
    return {
        "offered_events_per_s": rate, "records": records,
        "failed": sum(r["failed"] for r in results),
        "produce_events_per_s": round(records / (ended - started)),
        "end_to_end_events_per_s": round(records / (max(all_read_at, last_alert_s) - started)),
        "source_caught_up_after_s": max(j["caught_up_after_s"] or -1
                                        for j in drained["jobs"].values()),
        "all_read": all(j["caught_up"] for j in drained["jobs"].values()),
        "recall": alerts["recall"], "precision": alerts["precision"],
        "alerts": alerts["alerts_delivered"], "kinesis_alert_duplicates": alerts["duplicates"],
        "p50_event_to_alert_ms": alerts["latency"]["p50_ms"],
        "p99_event_to_alert_ms": alerts["latency"]["p99_ms"],
        "latency_samples": alerts["latency"]["count"],
    }


def main() -> int:
    cfg = _setup()
    from flink_platform.adapters.local_flink import LocalFlinkAdapter
    from flink_platform.local.stack import LocalStack

    stack = LocalStack(cfg)
    figures: dict[str, object] = {"producers": PRODUCERS, "seconds": SECONDS}
    try:
        stack.up()
        plane = provision_data_plane(cfg)
        adapter = LocalFlinkAdapter(cfg, data_plane=plane)
        for job in JOBS:
            status = adapter.apply(job)
            assert status.lifecycle_state != "FAILED", status.error
        deadline = time.monotonic() + 240
        while not all(adapter.status(j).ready and adapter.completed_checkpoints(j) for j in JOBS):
            assert time.monotonic() < deadline, [adapter.status(j) for j in JOBS]
            time.sleep(1)  # poll interval
        top = run_load(cfg, plane, OFFERED_EVENTS_PER_S, SECONDS)
        figures.update({f"throughput_{k}": v for k, v in top.items()})
        half = max(100, top["produce_events_per_s"] // 2)
        rate = min(LATENCY_TARGET_RATE, half)
        figures["latency_rate_events_per_s"] = rate
        figures["latency_rate_reason"] = (
            f"the target rate ({LATENCY_TARGET_RATE}/s)" if rate == LATENCY_TARGET_RATE else
            f"half the emulator's measured ceiling ({top['produce_events_per_s']}/s), below "
            f"{LATENCY_TARGET_RATE}/s")
        low = run_load(cfg, plane, rate, SECONDS)
        figures.update({f"latency_{k}": v for k, v in low.items()})
        figures["lag_back_to_zero_within_10s"] = 0 <= top["source_caught_up_after_s"] <= 10
        figures["p99_under_1s"] = (low["p99_event_to_alert_ms"] or 1e9) < 1000
    finally:
        stack.down()
    write_result("data_plane", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
