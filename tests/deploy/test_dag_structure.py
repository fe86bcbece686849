"""Structure of the two lifecycle DAGs (no Flink): Params, schedule, Assets, rollback wiring."""

from __future__ import annotations

from airflow.sdk import TriggerRule

from flink_platform.assets import PLATFORM_PROVISIONED, job_deployed
from flink_platform.config import load_config
from flink_platform.hooks.flink_rest import client_error


def test_flink_deploy_is_asset_scheduled_and_publishes_one_asset_per_job():
    import flink_deploy

    dag, cfg = flink_deploy.dag, load_config()
    assert PLATFORM_PROVISIONED.uri in str(dag.timetable.asset_condition)
    assert set(dag.params) >= {"jobs", *(f"jobs.{j}.parallelism" for j in cfg.jobs)}
    for job in cfg.jobs:
        key = job.replace("-", "_")
        assert dag.get_task(f"{key}.publish").outlets == [job_deployed(job)]
        # the checkpoint wait counts from the apply's time (an XComArg) after readiness
        assert dag.get_task(f"{key}.wait_first_checkpoint").upstream_task_ids == {
            f"{key}.wait_ready", f"{key}.apply"}
        # every action on the job holds its lease: taken first, given back by a teardown
        assert dag.get_task(f"{key}.apply").upstream_task_ids == {
            "resolve_data_plane", f"{key}.acquire_lease"}
        _assert_lease_around(dag, key, first=f"{key}.apply", last=f"{key}.publish")
        assert PLATFORM_PROVISIONED in dag.get_task("resolve_data_plane").inlets


def _assert_lease_around(dag, group: str, first: str, last: str | set[str]) -> None:
    acquire = dag.get_task(f"{group}.acquire_lease")
    release = dag.get_task(f"{group}.release_lease")
    assert acquire.is_setup and release.is_teardown
    assert first in acquire.downstream_task_ids
    assert release.upstream_task_ids >= ({last} if isinstance(last, str) else last)
    assert acquire.task_id in release.upstream_task_ids  # its setup: skipped when never taken


def test_upgrade_dag_rolls_back_on_any_failure_and_keeps_the_watcher():
    import flink_savepoint_upgrade

    dag = flink_savepoint_upgrade.dag
    assert dag.params["new_version"] is None
    rollback = dag.get_task("upgrade_fraud_detection.rollback")
    assert rollback.trigger_rule == TriggerRule.ONE_FAILED
    assert rollback.upstream_task_ids == {f"upgrade_fraud_detection.{t}" for t in
                                          ("apply_upgrade", "wait_ready", "verify_restored")}
    # a branch would skip it
    assert "watcher" not in dag.get_task("choose_mode").downstream_task_ids
    # both actions take the job's lease first (the branch chooses the acquire) and give it
    # back after the last task, the rollback included
    assert dag.get_task("choose_mode").downstream_task_ids == {
        f"{mode}_{k}.acquire_lease" for mode in ("savepoint", "upgrade")
        for k in ("fraud_detection", "risk_analytics")}
    _assert_lease_around(dag, "upgrade_fraud_detection", "upgrade_fraud_detection.apply_upgrade",
                         {"upgrade_fraud_detection.verify_restored",
                          "upgrade_fraud_detection.rollback"})
    _assert_lease_around(dag, "savepoint_fraud_detection",
                         "savepoint_fraud_detection.start_savepoint",
                         "savepoint_fraud_detection.retention")
    assert "upgrade_fraud_detection.rollback" in dag.get_task("watcher").upstream_task_ids


def test_client_error_keeps_the_jobs_message_and_the_java_causes():
    stdout = ("Traceback (most recent call last):\n  File \"x.py\", line 3\n"
              "    raise ValueError(x)\n"
              "ValueError: --set velocity_max_count=five: expected int\n")
    stderr = ("org.apache.flink.client.program.ProgramAbortException: java.lang.RuntimeException: "
              "Python process exits with code: 1\n\tat org.apache.Foo.bar(Foo.java:1)\n"
              "Caused by: java.lang.RuntimeException: Python process exits with code: 1\n")
    assert client_error(stdout, stderr) == "ValueError: --set velocity_max_count=five: expected int"
