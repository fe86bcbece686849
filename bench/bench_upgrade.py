"""Upgrade downtime and savepoint duration on the local target, median of 5.

Runs its own Flink session cluster (free ports, state dir .local/bench-upgrade), deploys
fraud-detection on a data plane created as platform_provision names it (its S3 checkpoints,
savepoints and outputs on the stack's emulator; its generator source at 500 events/s, so
records flow without a producer) and repeats:
savepoint (trigger -> path); a stop-then-submit upgrade (stop-with-savepoint requested ->
``flink run -s`` -> all tasks RUNNING and records flowing again); and the handover upgrade
the flink_savepoint_upgrade DAG uses (the new client plans while the old job runs, the
stop is requested at submission). Downtime = stop requested -> new job processing.
Target: downtime < 15 s (``upgrade_downtime_*`` is the handover, i.e. the DAG's path).
Stop-then-submit downtime is mostly the ``flink run`` client (JVM + Python start, SQL
planning), CPU-bound: the machine's load average is recorded with the figures.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from _common import isolate_local_stack, provision_data_plane, write_result

RUNS = int(os.environ.get("BENCH_UPGRADE_RUNS", "5"))
JOB = "fraud-detection"
TARGET_DOWNTIME_S = 15.0


def _setup_env() -> None:
    isolate_local_stack("upgrade", {
        f"jobs.{JOB}.events_per_s": 500, f"jobs.{JOB}.checkpoint_interval_s": 5,
        f"jobs.{JOB}.source": "generator",
    })
    from flink_platform.config import load_config
    from flink_platform.local.env import airflow_settings

    os.environ.update(airflow_settings(load_config("local")))  # aws_default -> this moto


def _processing(adapter, job_id: str) -> bool:
    """Every task RUNNING and the job's downstream tasks have read records."""
    info = adapter.rest.job(job_id) or {}
    vertices = info.get("vertices") or []
    if not vertices or any(v.get("status") != "RUNNING" for v in vertices):
        return False
    return sum(int((v.get("metrics") or {}).get("read-records", 0)) for v in vertices) > 0


_stop_requested_at: list[float] = []


def _patch_stop_clock(adapter) -> None:
    """Record when the handover requests the stop (the downtime starts there)."""
    original = adapter._stop_with_savepoint

    def timed(job, rec):
        _stop_requested_at.append(time.monotonic())
        return original(job, rec)

    adapter._stop_with_savepoint = timed


def _ready(adapter) -> bool:
    status = adapter.status(JOB)
    if status.lifecycle_state == "FAILED":
        raise RuntimeError(f"{JOB} FAILED: {status.error}")
    return status.ready and adapter.completed_checkpoints(JOB) > 0


def _wait(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)  # poll interval: the figure's resolution


def main() -> int:
    _setup_env()
    from flink_platform.adapters.local_flink import LocalFlinkAdapter
    from flink_platform.config import load_config
    from flink_platform.local.stack import LocalStack

    cfg = load_config("local")
    stack = LocalStack(cfg)
    adapter = None
    savepoint_s, downtime_s, submit_s, handover_s = [], [], [], []
    try:
        stack.up()
        adapter = LocalFlinkAdapter(cfg, data_plane=provision_data_plane(cfg))
        adapter.apply(JOB)
        _wait(lambda: _ready(adapter), 180, "first deploy not ready")
        _patch_stop_clock(adapter)
        for run in range(RUNS):
            t0 = time.monotonic()
            adapter.trigger_savepoint(JOB)
            savepoint_s.append(time.monotonic() - t0)

            version = f"1.0.{run + 1}"
            t0 = time.monotonic()  # stop requested
            path = adapter.suspend(JOB)
            t_sub = time.monotonic()
            status = adapter.upgrade(JOB, {"version": version}, path)
            submit_s.append(time.monotonic() - t_sub)
            if status.lifecycle_state == "FAILED":
                raise RuntimeError(f"upgrade failed: {status.error}")
            _wait(lambda: _processing(adapter, adapter.record(JOB)["job_id"]), 120,
                  f"{version} not processing")
            downtime_s.append(time.monotonic() - t0)
            # Handover: the new client plans while the old job runs; stop only at submission.
            status, stopped_at = adapter.handover(JOB, {"version": f"{version}-h"})
            if status.lifecycle_state == "FAILED" or not status.job_id or not stopped_at:
                raise RuntimeError(f"handover failed: {status.error}")
            t0 = _stop_requested_at.pop()
            _wait(lambda: _processing(adapter, adapter.record(JOB)["job_id"]), 120,
                  f"{version}-h not processing")
            handover_s.append(time.monotonic() - t0)
            print(f"run {run + 1}: savepoint {savepoint_s[-1]:.2f}s, stop-then-submit downtime "
                  f"{downtime_s[-1]:.2f}s (client {submit_s[-1]:.2f}s), handover downtime "
                  f"{handover_s[-1]:.2f}s "
                  f"({stopped_at.rsplit('/', 1)[-1]})", flush=True)
    finally:
        if adapter is not None:
            adapter.delete(JOB)
        stack.down()
    downtime = statistics.median(handover_s)  # what flink_savepoint_upgrade does on local
    write_result("upgrade", {
        "load_avg_1m_at_end": round(os.getloadavg()[0], 1),  # `flink run` is CPU-bound
        "job": "include/flink_jobs/fraud_detection.py (generator source, S3 state)",
        "runs": RUNS,
        "savepoint_median_s": round(statistics.median(savepoint_s), 3),
        "upgrade_downtime_median_s": round(downtime, 2),
        "upgrade_downtime_max_s": round(max(handover_s), 2),
        "stop_then_submit_downtime_median_s": round(statistics.median(downtime_s), 2),
        "stop_then_submit_downtime_max_s": round(max(downtime_s), 2),
        "flink_run_client_median_s": round(statistics.median(submit_s), 2),
        "downtime_target_s": TARGET_DOWNTIME_S,
        "downtime_target_met": downtime < TARGET_DOWNTIME_S,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
