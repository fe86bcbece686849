"""The FlinkDeployment lifecycle for real on the local target, through the DAGs (dag.test).

One fraud-detection deployment on a provisioned platform (checkpoints, savepoints and
outputs in its bucket on the AWS emulator) is carried through the module (the tests run
in order): deploy + first checkpoint -> upgrade from a savepoint with keyed state restored
-> a bad upgrade rolled back -> scheduled savepoints with retention. The job is the real
include/flink_jobs/fraud_detection.py on its ``generator`` source (the lifecycle, not the
data path, is under test here: tests/dataplane/ drives the Kinesis path), whose canary
users give the ``user-counters`` observable (user_id, user_txn_count, job_version).
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta

import pytest

from flink_platform.config import load_config

pytestmark = [pytest.mark.flink, pytest.mark.slow]
JOB = "fraud-detection"
BASE = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def lifecycle(provisioned):
    """Env of the module's runs (fast checkpoints, generator at 2000 events/s: the canary
    users appear ~1/s); the job deleted at the end."""
    overrides = json.loads(os.environ["FLINK_PLATFORM_OVERRIDES"])
    overrides.update({
        f"jobs.{JOB}.source": "generator", f"jobs.{JOB}.events_per_s": 2000,
        f"jobs.{JOB}.checkpoint_interval_s": 2, f"jobs.{JOB}.args": {"rollover": "2 s"},
        "flink.ready_timeout_s": 240})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLINK_PLATFORM_OVERRIDES", json.dumps(overrides))
        from flink_platform.adapters import get_flink_adapter

        adapter = get_flink_adapter(load_config(), provisioned)
        try:
            yield adapter
        finally:
            adapter.delete(JOB)
            assert all(j["state"] != "RUNNING" for j in adapter.rest.jobs()
                       if j["name"] == JOB), "a job of this test is still running"


def _run(dag, n: int, **conf):
    from tests.dag_runs import run_in_process

    run = run_in_process(dag, {"jobs": [JOB], **conf}, logical_date=BASE + timedelta(minutes=n))
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    return run, states


def _counters(adapter, version: str) -> dict[str, list[int]]:
    """Committed per-user counters of one job version, from the bucket (a part file appears
    in S3 only when its checkpoint commits it)."""
    from flink_platform.aws.outputs import read_json_lines

    by_user: dict[str, list[int]] = {}
    for row in read_json_lines(adapter.cfg, adapter.store.bucket, f"user-counters/{JOB}/"):
        if row.get("job_version") == version:
            by_user.setdefault(row["user_id"], []).append(int(row["user_txn_count"]))
    return by_user


def _wait_counters(adapter, version: str, timeout_s: float = 90) -> dict[str, list[int]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = _counters(adapter, version)
        if rows:
            return rows
        time.sleep(0.5)  # poll interval
    raise AssertionError(f"no committed user-counters of version {version} in {timeout_s}s")


def test_deploy_waits_ready_and_first_checkpoint(lifecycle):
    import flink_deploy

    run, states = _run(flink_deploy.dag, 0)
    assert run.state == "success", states
    assert states["fraud_detection.wait_first_checkpoint"] == "success"
    assert states["risk_analytics.apply"] == "skipped"
    status = lifecycle.status(JOB)
    assert status.ready and status.version == "1.0.0"
    assert status.last_checkpoint.startswith(
        f"s3://{lifecycle.store.bucket}/checkpoints/{JOB}/") and "/chk-" in status.last_checkpoint
    summary = json.loads(
        (load_config().state_path / "reports/stages/flink_deploy.json").read_text())
    assert summary[f"{JOB}.job_id"] == status.job_id
    _wait_counters(lifecycle, "1.0.0")


def test_upgrade_restores_keyed_state(lifecycle):
    import flink_savepoint_upgrade

    before = lifecycle.status(JOB)
    run, states = _run(flink_savepoint_upgrade.dag, 1, new_version="1.1.0",
                       job_args={"velocity_max_count": "5"})
    assert run.state == "success", states
    assert states["upgrade_fraud_detection.rollback"] == "skipped"
    after = lifecycle.status(JOB)
    assert after.ready and after.version == "1.1.0" and after.job_id != before.job_id
    savepoint = after.details["restored_from"]
    assert savepoint.startswith(f"s3://{lifecycle.store.bucket}/savepoints/{JOB}/")
    assert lifecycle.restored_from(JOB) == savepoint and lifecycle.store.exists(savepoint)
    old = _counters(lifecycle, "1.0.0")  # committed before the savepoint
    new = _wait_counters(lifecycle, "1.1.0")
    common = set(old) & set(new)
    assert common, "no user seen by both versions"
    for user in common:  # counters continue from the savepoint instead of restarting at 1
        assert min(new[user]) > max(old[user]), (user, old[user][-3:], new[user][:3])
    summary = json.loads((load_config().state_path /
                          "reports/stages/flink_savepoint_upgrade.json").read_text())
    assert summary[f"{JOB}.savepoint"] == summary[f"{JOB}.restored_from"] == savepoint
    assert (summary[f"{JOB}.from_version"], summary[f"{JOB}.version"]) == ("1.0.0", "1.1.0")


def test_rejected_version_never_stops_the_running_job(lifecycle):
    import flink_savepoint_upgrade

    before = lifecycle.status(JOB)
    run, states = _run(flink_savepoint_upgrade.dag, 2, new_version="1.2.0",
                       job_args={"velocity_max_count": "five"})  # a rule threshold that is no int
    assert run.state == "failed", states
    assert states["upgrade_fraud_detection.apply_upgrade"] == "failed"
    assert states["upgrade_fraud_detection.rollback"] == "skipped"  # nothing was stopped
    after = lifecycle.status(JOB)
    assert after.ready and (after.job_id, after.version) == (before.job_id, "1.1.0")
    reason = run.get_task_instance("upgrade_fraud_detection.apply_upgrade").xcom_pull(
        task_ids="upgrade_fraud_detection.apply_upgrade", key="failure_reason")
    assert "velocity_max_count=five: expected int" in reason, reason


def test_bad_upgrade_rolls_back_from_the_savepoint(lifecycle):
    import flink_savepoint_upgrade

    run, states = _run(flink_savepoint_upgrade.dag, 3, new_version="1.3.0",
                       flink_conf={"state.backend.type": "no-such-backend"})  # fails in the JM
    assert run.state == "failed", states
    assert states["upgrade_fraud_detection.rollback"] == "failed"  # fails the run on purpose
    status = lifecycle.status(JOB)
    assert status.lifecycle_state == "ROLLED_BACK" and status.job_state == "RUNNING"
    assert status.version == "1.1.0"
    summary = json.loads((load_config().state_path /
                          "reports/stages/flink_savepoint_upgrade.json").read_text())
    assert summary["result"] == "rolled_back"
    assert "no-such-backend" in summary["reason"], summary["reason"]
    assert (summary["from_version"], summary["to_version"]) == ("1.1.0", "1.3.0")
    assert lifecycle.restored_from(JOB) == summary["savepoint"]


def test_scheduled_savepoints_keep_the_last_n(lifecycle):
    import flink_savepoint_upgrade

    keep = 1
    taken = []
    for n in range(keep + 2):
        run, states = _run(flink_savepoint_upgrade.dag, 10 + n,
                           **{"flink.savepoint_retention": keep})
        assert run.state == "success", states
        assert states["upgrade_fraud_detection.apply_upgrade"] == "skipped"
        taken.append(run.get_task_instance("savepoint_fraud_detection.wait_savepoint")
                     .xcom_pull(task_ids="savepoint_fraud_detection.wait_savepoint"))
    remaining = lifecycle.list_savepoints(JOB)
    assert remaining == taken[-keep:] and all(p.startswith("s3://") for p in taken)
    for path in taken[:-keep]:
        assert not lifecycle.store.exists(path), f"{path} not disposed"
    for path in remaining:
        assert lifecycle.store.exists(path)
