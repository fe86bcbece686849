"""`make demo` on the real Airflow runtime: scheduler, dag-processor, triggerer, api-server.

Each stage is a DAG run driven over the REST API as the UI drives it: provision is
triggered, its Asset starts flink_deploy, the savepoint DAG runs on its schedule once it
is unpaused, the upgrade, the load test and the teardown are triggered with their conf.
Every stage reports its run id, its link in the UI and the facts its DAG recorded
(``reporting.write_stage_summary``, read right after the run, so a later run of the same
DAG does not hide them). The monitoring part names the Prometheus server and every alert
that fired while the demo ran (``ALERTS`` over the demo's window).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import requests

from flink_platform.config import PlatformConfig
from flink_platform.local.airflow_api import AirflowApi, AirflowApiError, poll
from flink_platform.reporting import read_stage_summaries

RUN_TIMEOUT_S = 900
# The demo's load test. One producer: a second one splits the shards, and the producer that
# owns the ticks' shard can hold the jobs' watermarks (docs/DATA_PLANE.md); the runtime test
# runs two. 800 events/s: beside both jobs on 2 cores one producer reached 1,060-1,680
# of 2,000/s, 946 of 1,200/s and 92% of 800/s (bench_demo, 2026-11-30, this machine's
# slower hours; PutRecords stalls the rate limiter has caught up on since, rate.py), near
# the 90% achieved-rate SLO: the demo must not fail on the machine's speed.
LOAD_TEST_CONF = {"target_events_per_s": 800, "duration_s": 15, "producers": 1,
                  "malformed_rate": 0.002}
SCHEDULED_WAIT_S = 60  # the scheduler creates the due run within seconds of the unpause


@dataclass(frozen=True)
class RuntimeStage:
    dag_id: str
    title: str
    conf: dict = field(default_factory=dict)
    start: str = "trigger"  # trigger | asset (a run the Asset event starts) | schedule
    always: bool = False  # runs even when an earlier stage failed (teardown)


RUNTIME_STAGES = (
    RuntimeStage("platform_provision", "provision"),
    RuntimeStage("flink_deploy", "deploy jobs", start="asset"),
    RuntimeStage("flink_savepoint_upgrade", "scheduled savepoint", start="schedule"),
    RuntimeStage("flink_savepoint_upgrade", "upgrade",
                 {"jobs": ["fraud-detection"], "new_version": "1.1.0",
                  "job_args": {"velocity_max_count": "5"}}),
    RuntimeStage("platform_load_test", "load test", LOAD_TEST_CONF),
    RuntimeStage("platform_teardown", "teardown", always=True),
)


@dataclass
class RuntimeResult:
    stage: RuntimeStage
    status: str  # passed, FAILED, skipped
    duration_s: float = 0.0
    run_id: str | None = None
    link: str | None = None
    note: str = ""
    facts: dict[str, Any] = field(default_factory=dict)
    task_s: float = 0.0  # sum of the run's task durations
    busy_s: float = 0.0  # time at least one of its tasks ran (the rest: scheduling)
    run_wall_s: float = 0.0  # the run's own start to end


def _ts(text: str | None) -> float | None:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() if text else None


def busy_time(tis: dict[str, dict[str, Any]]) -> float:
    """Seconds in which at least one task instance ran (the union of their intervals)."""
    spans = sorted((a, b) for ti in tis.values()
                   if (a := _ts(ti.get("start_date"))) is not None
                   and (b := _ts(ti.get("end_date"))) is not None)
    total, cur_a, cur_b = 0.0, None, None
    for a, b in spans:
        if cur_b is None or a > cur_b:
            total += (cur_b - cur_a) if cur_b is not None else 0.0
            cur_a, cur_b = a, b
        else:
            cur_b = max(cur_b, b)
    return total + ((cur_b - cur_a) if cur_b is not None else 0.0)


class RuntimeDemo:
    """Runs :data:`RUNTIME_STAGES` on a running runtime at ``api``.

    :param cfg: the local platform config (state dir: where the stage facts are)
    :param api: an AirflowApi on the runtime's api-server
    :param ui_url: the UI's base URL, for the run links
    """

    def __init__(self, cfg: PlatformConfig, api: AirflowApi, ui_url: str) -> None:
        self.cfg, self.api, self.ui_url = cfg, api, ui_url.rstrip("/")
        self.started_at = time.time()
        self._seen: dict[str, set[str]] = {}

    def link(self, dag_id: str, run_id: str) -> str:
        return f"{self.ui_url}/dags/{dag_id}/runs/{run_id}"

    def _new_run(self, dag_id: str, run_type: str) -> dict[str, Any] | None:
        return next((r for r in self.api.runs(dag_id, run_type)
                     if r["dag_run_id"] not in self._seen.get(dag_id, set())), None)

    def _run_due(self, dag_id: str) -> bool:
        """The schedule has a run due now (its next run's creation time is past): the
        scheduler creates it once the DAG is unpaused. Not due when an earlier demo's run
        already covered today: then waiting would be in vain."""
        due = (self.api.dag(dag_id) or {}).get("next_dagrun_run_after")
        return bool(due) and (_ts(due) or 0.0) <= time.time() + SCHEDULED_WAIT_S / 2

    def _start(self, stage: RuntimeStage) -> tuple[str, str]:
        """(run id, how it started)."""
        if stage.start == "asset":
            run = poll(f"the {stage.dag_id} run the Asset starts",
                        lambda: self._new_run(stage.dag_id, "asset_triggered"), 120)
            return run["dag_run_id"], "started by provision's Asset event"
        if stage.start == "schedule" and self._run_due(stage.dag_id):
            self.api.unpause(stage.dag_id)
            try:
                run = poll(f"a scheduled {stage.dag_id} run",
                            lambda: self._new_run(stage.dag_id, "scheduled"), SCHEDULED_WAIT_S)
                return run["dag_run_id"], "started by the scheduler (flink.savepoint_schedule)"
            except AirflowApiError:  # today's run already happened (an earlier demo)
                pass
        self.api.unpause(stage.dag_id)
        resp = self.api.trigger(stage.dag_id, stage.conf)
        if resp.status_code != 200:
            raise AirflowApiError(f"trigger {stage.dag_id}: HTTP {resp.status_code}: "
                                  f"{resp.text[:300]}")
        how = "triggered" if stage.start == "trigger" else \
            "triggered (no scheduled run was due: one ran earlier today)"
        return resp.json()["dag_run_id"], how

    def run_stage(self, stage: RuntimeStage) -> RuntimeResult:
        started = time.monotonic()
        print(f"--> {stage.title:<24} {stage.dag_id}", flush=True)
        try:
            run_id, how = self._start(stage)
            self._seen.setdefault(stage.dag_id, set()).add(run_id)
            run = self.api.wait_run(stage.dag_id, run_id, timeout_s=RUN_TIMEOUT_S)
        except (AirflowApiError, requests.RequestException) as err:
            print(f"    FAILED: {err}", flush=True)
            return RuntimeResult(stage, "FAILED", time.monotonic() - started, note=str(err))
        tis = self.api.task_instances(stage.dag_id, run_id)
        result = RuntimeResult(
            stage, "passed" if run["state"] == "success" else "FAILED",
            time.monotonic() - started, run_id, self.link(stage.dag_id, run_id), how,
            dict(read_stage_summaries(self.cfg).get(stage.dag_id, {})),
            sum(ti.get("duration") or 0.0 for ti in tis.values()), busy_time(tis),
            (_ts(run.get("end_date")) or 0.0) - (_ts(run.get("start_date")) or 0.0))
        if result.status == "FAILED":
            result.note += "; failed tasks: " + ", ".join(
                t for t, ti in tis.items() if ti["state"] in ("failed", "upstream_failed"))
        print(f"    {result.status} in {result.duration_s:.1f}s  run {run_id} ({how})\n"
              f"    {result.link}", flush=True)
        return result

    def run(self) -> list[RuntimeResult]:
        for dag_id in {s.dag_id for s in RUNTIME_STAGES}:  # runs from an earlier demo
            self._seen[dag_id] = {r["dag_run_id"] for r in self.api.runs(dag_id)}
        self.api.unpause("flink_deploy")  # asset-scheduled: runs when provision publishes
        results: list[RuntimeResult] = []
        failed = False
        try:
            for stage in RUNTIME_STAGES:
                if failed and not stage.always:
                    results.append(RuntimeResult(stage, "skipped"))
                    continue
                results.append(self.run_stage(stage))
                failed = failed or results[-1].status != "passed"
        finally:
            self.api.pause("flink_savepoint_upgrade")  # no scheduled run while no demo runs
        return results


def alerts_fired(prometheus_url: str, since: float, until: float) -> list[str] | str:
    """Alerts that fired in [since, until] (Prometheus' ``ALERTS`` series), as
    ``alertname (job)``; a string saying why when Prometheus could not be asked."""
    expr = 'max by (alertname, job_name) (ALERTS{alertstate="firing"})'
    try:
        resp = requests.get(f"{prometheus_url}/api/v1/query_range", timeout=10, params={
            "query": expr, "start": f"{since:.0f}", "end": f"{until:.0f}", "step": "15s"})
        result = resp.json()["data"]["result"]
    except (requests.RequestException, ValueError, KeyError) as err:
        return f"could not ask Prometheus at {prometheus_url}: {err}"
    return sorted(f"{s['metric'].get('alertname')} ({s['metric'].get('job_name', '-')})"
                  for s in result)
