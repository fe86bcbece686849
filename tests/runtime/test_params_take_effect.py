"""Every Param shown in a trigger form takes effect (issue 18): each DAG is triggered through
the real API server with a non-default value for every Param it declares, and each value
is found where the run consumed it (tests/runtime/params_effects.py: the table).

A run executes only its early tasks (``RUNS``): the rest are marked skipped while the DAG
is still paused, before the scheduler starts the run, so nothing is created, deleted,
deployed or loaded. Afterwards the DAG is paused again and the run marked failed; runs the
savepoint DAG's every-minute schedule started meanwhile are marked failed too (a lease
one of them held is dropped with the emulator's reset). A run is stopped only once every
task it executes ended, its release_lease too: the test asserts it left no lease (CI once
stopped a deploy run between acquire and release, and the next DAG's upgrade waited 300 s
for that lease). The DAGs that read the provisioned data plane run on the `provisioned`
platform (dag.test, with flink_deploy paused so its Asset starts no deploy); the emulator
is reset afterwards.
"""

from __future__ import annotations

import copy
import importlib
import time

import boto3
import pytest
import requests

from flink_platform.local.airflow_api import AirflowApiError, poll
from tests.runtime.params_effects import _MISSING, EFFECTS, NEEDS_PLATFORM, RUNS, lookup

DAG_IDS = list(EFFECTS)
DONE = ("success", "failed", "skipped", "upstream_failed", "removed")


def _dag(dag_id: str):
    return importlib.import_module(dag_id).dag


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_the_table_covers_exactly_the_declared_params(dag_id):
    """No runtime: a Param without a row (or a row without a Param) fails, naming it; each
    value is valid for its Param and is not its default."""
    dag = _dag(dag_id)
    declared, table = set(dag.params.keys()), set(EFFECTS[dag_id])
    assert not declared - table, (f"{dag_id}: Params without an effect test in "
                                  f"tests/runtime/params_effects.py: {sorted(declared - table)}")
    assert not table - declared, f"{dag_id}: rows for no Param: {sorted(table - declared)}"
    for name, effect in EFFECTS[dag_id].items():
        param = copy.deepcopy(dag.params.get_param(name))  # resolve() keeps the value
        assert effect.value != param.value, f"{dag_id}: {name}={effect.value!r} is the default"
        assert param.resolve(effect.value) == effect.value, name  # raises when invalid
        assert effect.task in RUNS[dag_id], f"{dag_id}: {name} is seen in {effect.task}, " \
                                            "which the test run does not execute"
    assert RUNS[dag_id] <= set(dag.task_ids), sorted(RUNS[dag_id] - set(dag.task_ids))


@pytest.fixture(scope="module")
def platform(airflow_api, request):
    """The provisioned platform, for the DAGs that read it; the emulator reset after."""
    airflow_api.pause("flink_deploy")  # a paused DAG's Asset queues no run
    plane = request.getfixturevalue("provisioned")
    yield plane
    moto = request.getfixturevalue("moto_server")
    requests.post(f"{moto}/moto-api/reset", timeout=60).raise_for_status()


@pytest.mark.runtime
@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_every_param_takes_effect(airflow_api, request, dag_id):
    if dag_id in NEEDS_PLATFORM:
        request.getfixturevalue("platform")
    api, effects = airflow_api, EFFECTS[dag_id]
    started = time.monotonic()
    api.pause(dag_id)
    resp = api.trigger(dag_id, {name: e.value for name, e in effects.items()})
    assert resp.status_code == 200, resp.text
    run_id = resp.json()["dag_run_id"]
    try:
        for task_id in sorted(set(_dag(dag_id).task_ids) - RUNS[dag_id]):
            _mark_task(api, dag_id, run_id, task_id, "skipped")
        api.unpause(dag_id)
        # every task the run executes, not only the observed ones: a run marked failed
        # before its release_lease ran would leave the job's lease held for the next test
        tis = _wait_ended(api, dag_id, run_id, RUNS[dag_id], timeout_s=300)
    finally:
        _stop(api, dag_id, run_id)
    if dag_id in NEEDS_PLATFORM:
        held = _leases_held_by(request, f"{dag_id}/{run_id}/")
        assert not held, f"{dag_id} run {run_id} ended holding leases: {held}"
    problems = [f"Param {name}={e.value!r}: {e.where()} shows {seen!r}, want {e.expected!r}"
                for name, e in effects.items()
                if not _matches(e, seen := _observe(api, dag_id, run_id, tis, e))]
    assert not problems, (f"{dag_id} run {run_id} did not use every Param "
                          f"({time.monotonic() - started:.0f}s):\n" + "\n".join(problems))


def _mark_task(api, dag_id: str, run_id: str, task_id: str, state: str) -> None:
    """As the UI's "Mark task as"; retried while the API server answers 500 (the sqlite
    metadata DB is briefly locked by the scheduler)."""
    def mark():
        resp = api.session.patch(f"{api.base}/dags/{dag_id}/dagRuns/{run_id}/taskInstances/"
                                 f"{task_id}", json={"new_state": state}, timeout=api.timeout_s)
        assert resp.status_code in (200, 500), f"mark {task_id} {state}: {resp.text}"
        return resp.status_code == 200

    poll(f"{task_id} of {run_id} marked {state}", mark, timeout_s=60)


def _wait_ended(api, dag_id: str, run_id: str, task_ids: set[str],
                timeout_s: float) -> dict[str, dict]:
    """The run's task instances once every one of ``task_ids`` ended; on timeout the error
    names those still unfinished with their states (and a lease wait names its holder)."""
    seen: dict[str, dict] = {}

    def ended() -> dict[str, dict] | None:
        seen.clear()
        seen.update(api.task_instances(dag_id, run_id))
        return dict(seen) if all(seen.get(t, {}).get("state") in DONE
                                 for t in task_ids) else None

    try:
        return poll(f"{dag_id}'s tasks {sorted(task_ids)} to end", ended, timeout_s=timeout_s)
    except AirflowApiError as err:
        waiting = {t: seen.get(t, {}).get("state") for t in sorted(task_ids)
                   if seen.get(t, {}).get("state") not in DONE}
        leases = {t: _log_tail(api, dag_id, run_id, t, seen[t]) for t in waiting
                  if t.endswith("acquire_lease") and t in seen}
        raise AirflowApiError(f"{err}; unfinished: {waiting}; lease waits: {leases}") from err


def _log_tail(api, dag_id: str, run_id: str, task_id: str, ti: dict) -> str:
    return api.task_log(dag_id, run_id, task_id, ti.get("try_number") or 1)[-400:]


def _stop(api, dag_id: str, run_id: str) -> None:
    """Pause the DAG, mark this run (and any other the schedule started) failed, and wait
    until none of their tasks still runs (a paused DAG's runs schedule nothing more)."""
    api.pause(dag_id)
    for run in api.runs(dag_id):
        if run["dag_run_id"] == run_id or run["state"] in ("queued", "running"):
            if run["state"] != "failed":
                api.mark_run(dag_id, run["dag_run_id"], "failed")

    def nothing_runs():
        return all(ti["state"] not in ("running", "queued", "deferred", "restarting")
                   for run in api.runs(dag_id)
                   for ti in api.task_instances(dag_id, run["dag_run_id"]).values())

    poll(f"no task of {dag_id} still running", nothing_runs, timeout_s=120)


def _leases_held_by(request, prefix: str) -> list[str]:
    """The leases in the platform bucket whose holder starts with ``prefix``."""
    from flink_platform.job_lease import JobLeases

    cfg = request.getfixturevalue("platform_config")
    s3 = boto3.client("s3", endpoint_url=request.getfixturevalue("moto_server"),
                      region_name=cfg.region, aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    leases = JobLeases(cfg, s3)
    return [lease.describe() for job in cfg.jobs
            if (found := leases.current(job)) and (lease := found[0]).holder.startswith(prefix)]


def _observe(api, dag_id: str, run_id: str, tis: dict[str, dict], effect) -> object:
    ti = tis.get(effect.task, {})
    if effect.kind == "state":
        return ti.get("state")
    if effect.kind == "log":
        log = api.task_log(dag_id, run_id, effect.task, ti.get("try_number") or 1)
        return effect.expected if effect.expected in log else \
            f"(no such line; task {ti.get('state')}; log ends {log[-600:]!r})"
    value = lookup(api.xcom(dag_id, run_id, effect.task, key=effect.key), effect.path)
    return f"(nothing; task {ti.get('state')})" if value is _MISSING or value is None \
        else value


def _matches(effect, seen: object) -> bool:
    return seen == effect.expected
