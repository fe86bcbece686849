"""The lifecycle under the real runtime, driven over REST as the UI does: provision's
Asset starts flink_deploy, the Flink sensors wait in the triggerer (seen deferred, with a
trigger record, then successful), the load test's mapped producers run at the same time,
an upgrade and a savepoint of one job triggered together run one after the other (the
job's lease), the savepoint DAG runs on its (overridden) schedule, teardown leaves
nothing."""

from __future__ import annotations

from datetime import datetime

import pytest
import requests

from flink_platform.local.airflow_api import poll

pytestmark = [pytest.mark.runtime, pytest.mark.flink, pytest.mark.slow]
RUN_TIMEOUT_S = 600


def _poll(what: str, fn, timeout_s: float = RUN_TIMEOUT_S, poll_s: float = 0.5):
    return poll(what, fn, timeout_s, poll_s)


def _runs(api, dag_id: str, run_type: str | None = None) -> list[dict]:
    return api.runs(dag_id, run_type)


def _stop_dag(api, dag_id: str) -> None:
    """Pause the DAG and end what it still has going. A paused DAG's queued runs never
    start and its running runs stop scheduling tasks (the scheduler skips paused DAGs), so
    waiting for them would never end: mark them failed, as a user would in the UI, then
    wait until none of their tasks still runs."""
    api.pause(dag_id)
    for run in _runs(api, dag_id):
        if run["state"] in ("queued", "running"):
            api.mark_run(dag_id, run["dag_run_id"], "failed")

    def nothing_runs():
        return all(ti["state"] not in ("running", "queued", "deferred", "restarting")
                   for run in _runs(api, dag_id)
                   for ti in api.task_instances(dag_id, run["dag_run_id"]).values())

    _poll(f"no task of {dag_id} still running", nothing_runs, timeout_s=120)


def _upgrade_and_savepoint_together(api) -> None:
    dag, job, key = "flink_savepoint_upgrade", "fraud-detection", "fraud_detection"
    # (a paused DAG's runs stay queued: unpaused, its every-minute schedule may join in)
    upgrade = _trigger_ok(api, dag, {"jobs": [job], "new_version": "1.0.1-rt"})
    savepoint = _trigger_ok(api, dag, {"jobs": [job]})
    up_tis, sp_tis = _assert_success(api, dag, upgrade), _assert_success(api, dag, savepoint)

    def held(tis, group):  # from the lease taken to the release starting
        return (_ts(tis[f"{group}.acquire_lease"]["end_date"]),
                _ts(tis[f"{group}.release_lease"]["start_date"]))

    up, sp = held(up_tis, f"upgrade_{key}"), held(sp_tis, f"savepoint_{key}")
    assert up[1] <= sp[0] or sp[1] <= up[0], f"upgrade held {up} and savepoint held {sp} at once"
    facts = api.xcom(dag, upgrade, f"upgrade_{key}.apply_upgrade", key="upgrade")
    taken = api.xcom(dag, savepoint, f"savepoint_{key}.start_savepoint")
    path = api.xcom(dag, savepoint, f"savepoint_{key}.wait_savepoint")
    savepoint_first = sp[1] <= up[0]
    want = facts["from_version"] if savepoint_first else facts["to_version"]
    assert taken["version"] == want, (
        f"savepoint {'before' if savepoint_first else 'after'} the upgrade was of "
        f"{taken['version']}, want {want}: {facts}")
    # Flink names a savepoint's directory after the job it was taken of
    assert f"/savepoint-{taken['job_id'][:6]}-" in path, (path, taken)
    if not savepoint_first:  # the savepoint's job is the upgraded one
        assert facts["savepoint"].rstrip("/") != path.rstrip("/")


def _trigger_ok(api, dag_id: str, conf: dict | None = None) -> str:
    api.unpause(dag_id)
    resp = api.trigger(dag_id, conf)
    assert resp.status_code == 200, resp.text
    return resp.json()["dag_run_id"]


def _assert_success(api, dag_id: str, run_id: str) -> dict[str, dict]:
    run = api.wait_run(dag_id, run_id, timeout_s=RUN_TIMEOUT_S)
    tis = api.task_instances(dag_id, run_id)
    failed = {t: ti["state"] for t, ti in tis.items() if ti["state"] not in ("success", "skipped")}
    if run["state"] != "success":
        logs = "\n".join(
            f"--- {t} ---\n" + api.task_log(dag_id, run_id, ti["task_id"], ti["try_number"],
                                            ti.get("map_index", -1))[-3000:]
            for t, ti in tis.items() if ti["state"] == "failed" and t != "watcher")
        raise AssertionError(f"{dag_id} {run_id}: {failed}\n{logs}")
    return tis


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_lifecycle_on_the_real_runtime(airflow_api, moto_server, flink_cluster):
    from flink_platform.hooks.flink_rest import FlinkRestHook

    api = airflow_api
    requests.post(f"{moto_server}/moto-api/reset", timeout=60).raise_for_status()
    # Jobs left running by earlier tests would make the deploy a no-op (same spec): its
    # sensors would find them ready at once and never defer. Start from a clean cluster.
    rest = FlinkRestHook(flink_cluster)
    for job in rest.jobs():
        rest.cancel(job["jid"])
    api.unpause("flink_deploy")
    deploys_before = {r["dag_run_id"] for r in _runs(api, "flink_deploy")}

    # SETUP: provision; its Asset event starts flink_deploy (no trigger from here)
    _assert_success(api, "platform_provision", _trigger_ok(api, "platform_provision"))
    deploy = _poll("an asset-triggered flink_deploy run", lambda: next(
        (r for r in _runs(api, "flink_deploy", "asset_triggered")
         if r["dag_run_id"] not in deploys_before), None), timeout_s=120)

    # The Flink sensors wait in the triggerer: seen deferred with a CheckTrigger record
    # while the run goes on, and each deferral is in the sensor's log. Only the triggerer
    # can complete a deferred task: the runtime has no inline path like `dags test`.
    sensors = ("wait_ready", "wait_first_checkpoint")
    triggers: dict[str, dict] = {}

    def deploy_ended():
        for task_id, ti in api.task_instances("flink_deploy", deploy["dag_run_id"]).items():
            if task_id.endswith(sensors) and ti["state"] == "deferred" and ti.get("trigger"):
                triggers[task_id] = ti["trigger"]
        return api.run("flink_deploy", deploy["dag_run_id"])["state"] in ("success", "failed")

    _poll("the flink_deploy run to end", deploy_ended, poll_s=0.3)
    tis = _assert_success(api, "flink_deploy", deploy["dag_run_id"])
    deferred = [t for t, ti in tis.items() if t.endswith(sensors) and "Pausing task as DEFERRED"
                in api.task_log("flink_deploy", deploy["dag_run_id"], ti["task_id"],
                                ti["try_number"])]
    assert deferred, f"no Flink sensor of {deploy['dag_run_id']} deferred (none was waiting?)"
    assert all(t["classpath"] == "flink_platform.triggers.polling.CheckTrigger"
               for t in triggers.values()), triggers
    assert triggers, f"sensors {deferred} deferred, but no trigger record was seen"

    # BODY: load test with two mapped producers, running at the same time. Detection
    # quality and latency are judged by the e2e load test (tests/loadtest); here two
    # producers split the shards and the one owning the ticks shard can hold the jobs'
    # watermarks (a known limit, docs/DATA_PLANE.md: p99 5.8 s seen), so the alert and
    # latency SLOs are off; throughput, failed records and records read still hold.
    load_run = _trigger_ok(api, "platform_load_test", {
        "target_events_per_s": 1200, "duration_s": 12, "producers": 2,
        "slo_min_alert_recall": None, "slo_min_alert_precision": None,
        "slo_max_p99_latency_ms": None,
        # beside the whole runtime on 2 cores the producers reached 85-100% of the rate;
        # the achieved-rate SLO is judged by tests/dataplane and the benchmarks
        "slo_min_achieved_ratio": 0.5})
    tis = _assert_success(api, "platform_load_test", load_run)
    producers = [tis[t] for t in tis if t.startswith("produce[")]
    assert len(producers) == 2, sorted(tis)
    first, second = sorted(producers, key=lambda p: p["start_date"])
    assert _ts(second["start_date"]) < _ts(first["end_date"]), (
        f"mapped producers ran one after another: {first['start_date']}..{first['end_date']}, "
        f"then {second['start_date']}")

    # one action per job at a time: an upgrade and a savepoint of the same job, triggered
    # together, both succeed one after the other (the job's lease), and the savepoint is of
    # the version that was running when it was taken
    _upgrade_and_savepoint_together(api)

    # the savepoint DAG on its schedule (every minute in this runtime's config)
    try:
        # the oldest: later ones may be queued behind it (max_active_runs)
        scheduled = _poll("a scheduled flink_savepoint_upgrade run", lambda: (
            api.runs("flink_savepoint_upgrade", "scheduled") or [None])[-1], timeout_s=150)
        tis = _assert_success(api, "flink_savepoint_upgrade", scheduled["dag_run_id"])
        assert any(t.endswith("wait_savepoint") and ti["state"] == "success"
                   for t, ti in tis.items()), sorted(tis)
    finally:
        _stop_dag(api, "flink_savepoint_upgrade")

    # TEARDOWN
    _assert_success(api, "platform_teardown", _trigger_ok(api, "platform_teardown"))
    # the runtime lives on for the session and shares its Airflow DB with `dags test`: an
    # unpaused flink_deploy would answer a later test's provision event with a deploy
    api.pause("flink_deploy")
