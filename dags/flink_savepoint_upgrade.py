"""flink_savepoint_upgrade: scheduled savepoints with retention, and upgrades with rollback.

Every action on a job holds the job's lease (flink_platform.job_lease), so a scheduled
savepoint and an upgrade of the same job run one after the other, never interleaved.
Scheduled (``flink.savepoint_schedule``, daily by default) or triggered without
``new_version``: a savepoint of every running job (trigger, then a sensor waits for the
path), then retention (keep the newest
``flink.savepoint_retention``, dispose the older ones).
Triggered with ``new_version``: per selected job, savepoint -> apply the new spec restored
from it (local: the new client plans while the old job runs and the stop-with-savepoint
happens at submission, so downtime is stop + start) -> wait ready -> verify the job
restored from that savepoint. When
any of these fails (or is not ready within ``flink.ready_timeout_s``) the previous spec is
re-deployed from the same savepoint and the run fails with the reason. Savepoints live in
the platform bucket (``s3://<bucket>/savepoints/<job>/``; listed, kept and disposed through
S3 on both targets); the restore is read back from Flink's own checkpoint statistics. An
upgrade that finished or was rolled back is published to the platform's SNS topic.
Savepoint paths and versions are in each task's XCom and log.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Param, TaskGroup, TriggerRule, chain, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from flink_platform.assets import PLATFORM_PROVISIONED
from flink_platform.config import load_config
from flink_platform.dag_utils import DEFAULT_ARGS, resolve_config, watcher
from flink_platform.job_options import param_schema
from flink_platform.operators.job_lease import (
    FlinkAcquireJobLeaseOperator,
    FlinkReleaseJobLeaseOperator,
)
from flink_platform.params import config_params
from flink_platform.sensors.flink_deployment import (
    FlinkDeploymentReadySensor,
    FlinkSnapshotSensor,
)

CFG = load_config()
JOBS = list(CFG.jobs)
POKE_S = 1 if CFG.target == "local" else 15
# the lifecycle sensors: poke interval, and how long they check in the worker before deferring
WAIT = {"poke_interval": POKE_S, "defer_after_s": CFG.flink.defer_after_s}
PARAMS = {
    "new_version": Param(None, type=["null", "string"], pattern=r"^[0-9A-Za-z._-]{1,40}$",
                         description="Set to upgrade the selected jobs to this version."),
    "jobs": Param(JOBS, type="array", items={"type": "string", "enum": JOBS},
                  description="Jobs to savepoint / upgrade."),
    "image": Param(None, type=["null", "string"], description="Image of the new version (aws)."),
    "job_args": Param({}, description="Job arguments of the new version (passed as --set "
                      "key=value), e.g. {\"velocity_max_count\": \"5\"}: the jobs' own keys.",
                      **param_schema([job.entrypoint for job in CFG.jobs.values()])),
    "flink_conf": Param({}, description="Extra Flink options of the new version "
                        "(allow-listed: flink_platform.job_options).", **param_schema()),
    **config_params("flink.savepoint_retention", "flink.ready_timeout_s",
                    "flink.action_wait_timeout_s"),
}


def _key(job: str) -> str:
    return job.replace("-", "_")


@task.branch
def choose_mode(params: dict[str, Any] | None = None, ti=None) -> list[str]:
    """Upgrade when new_version is set, else the scheduled savepoint path. An upgrade's
    request (version, image, job args, Flink options) is logged and kept in XCom
    ``upgrade_request`` before any job is touched."""
    from flink_platform.operators.flink_lifecycle import run_config, selected_jobs, upgrade_request

    jobs = selected_jobs(run_config(params), params)
    if params.get("new_version"):
        request = upgrade_request(params)
        print(f"upgrade of {', '.join(jobs)}: {request}")
        ti.xcom_push(key="upgrade_request", value=request)
        return [f"upgrade_{_key(j)}.acquire_lease" for j in jobs]
    return [f"savepoint_{_key(j)}.acquire_lease" for j in jobs]


@task
def start_savepoint(job: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Trigger a savepoint of the running job (FlinkStateSnapshot / nonce / REST)."""
    from flink_platform.operators.flink_lifecycle import run_adapter, wait_for

    cfg, adapter = run_adapter(params)
    status = adapter.status(job)
    if status.job_state != "RUNNING":
        raise AirflowSkipException(f"{job} is not running ({status.lifecycle_state}); no savepoint")
    # Every task must run for a savepoint (a job just restored may still be deploying).
    status = wait_for(adapter, job, ("STABLE", "ROLLED_BACK"), cfg.flink.ready_timeout_s)
    ref = adapter.start_savepoint(job)
    print(f"{job}: savepoint {ref} triggered (version {status.version})")
    return {"job": job, "ref": ref, "version": status.version, "job_id": status.job_id}


@task
def retention(job: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    from flink_platform.operators.flink_lifecycle import enforce_retention, run_adapter

    cfg, adapter = run_adapter(params)
    result = enforce_retention(adapter, job, cfg.flink.savepoint_retention)
    print(f"{job}: kept {len(result['kept'])}, disposed {result['disposed']}")
    return result


def _fail(ti, reason: str) -> None:
    """Fail the task with ``reason``, kept in XCom for the rollback's message."""
    ti.xcom_push(key="failure_reason", value=reason)
    raise AirflowFailException(reason)


@task(inlets=[PLATFORM_PROVISIONED])
def apply_upgrade(job: str, params: dict[str, Any] | None = None, ti=None) -> dict[str, Any]:
    """Savepoint -> new spec from it, on the provisioned data plane. Local: handover (the
    new client plans while the old job runs; stop-with-savepoint only at submission). aws:
    suspend with a savepoint, then the new spec with initialSavepointPath. XCom ``upgrade``
    keeps savepoint and versions."""
    from flink_platform.operators.flink_lifecycle import (
        provisioned_data_plane,
        run_adapter,
        upgrade_overrides,
    )

    _, adapter = run_adapter(params, provisioned_data_plane(params))
    before = adapter.status(job)
    if before.job_state != "RUNNING":
        raise AirflowFailException(f"{job} is not running ({before.lifecycle_state}: "
                                   f"{before.error}); refusing to upgrade")
    overrides = upgrade_overrides(adapter, job, params)
    facts = {"job": job, "from_version": before.version, "to_version": params["new_version"]}
    if hasattr(adapter, "handover"):
        status, path = adapter.handover(job, overrides)
        if path is None:  # the new version failed before submission: nothing was stopped
            _fail(ti, f"{job} {params['new_version']} rejected, {before.version} still running: "
                      f"{status.error}")
    else:
        path = adapter.suspend(job)
        status = adapter.upgrade(job, overrides, path)
    facts["savepoint"] = path
    ti.xcom_push(key="upgrade", value=facts)
    print(f"{job}: savepoint {path}; {before.version} -> {params['new_version']}: "
          f"{status.lifecycle_state} (job {status.job_id})")
    if status.lifecycle_state == "FAILED":
        _fail(ti, f"{job} {params['new_version']} FAILED at submission: {status.error}")
    return facts


@task
def verify_restored(job: str, stopped: dict[str, Any], params: dict[str, Any] | None = None,
                    ti=None):
    """The new job restored its state from the savepoint (Flink's restored checkpoint)."""
    from flink_platform.operators.flink_lifecycle import run_adapter

    _, adapter = run_adapter(params)
    restored = adapter.restored_from(job)
    want = stopped["savepoint"]
    if not restored or restored.rstrip("/") != want.rstrip("/"):
        _fail(ti, f"{job} did not restore from {want} (restored from {restored})")
    print(f"{job}: restored from {restored}")
    return {**stopped, "restored_from": restored}


@task(trigger_rule=TriggerRule.ONE_FAILED, inlets=[PLATFORM_PROVISIONED])
def rollback(job: str, params: dict[str, Any] | None = None, ti=None) -> None:
    """Re-deploy the previous spec from the upgrade's savepoint, publish the rollback to
    the platform topic, then fail with the reason."""
    from flink_platform.aws import spec_from
    from flink_platform.aws.notify import PlatformEvent, notify
    from flink_platform.operators.flink_lifecycle import (
        provisioned_data_plane,
        run_adapter,
        wait_for,
    )
    from flink_platform.reporting import write_stage_summary

    group = f"upgrade_{_key(job)}"
    stopped = ti.xcom_pull(task_ids=f"{group}.apply_upgrade", key="upgrade")
    if not stopped or not stopped.get("savepoint"):
        raise AirflowSkipException(f"{job}: no savepoint was taken, nothing to roll back")
    reason = next((r for t in ("apply_upgrade", "wait_ready", "verify_restored")
                   if (r := ti.xcom_pull(task_ids=f"{group}.{t}", key="failure_reason"))),
                  None) or _failed_status_reason(ti, group) or "not ready within the timeout"
    cfg, adapter = run_adapter(params, provisioned_data_plane(params))
    adapter.rollback(job, stopped["savepoint"])
    status = wait_for(adapter, job, ("ROLLED_BACK", "STABLE"), cfg.flink.ready_timeout_s)
    message = (f"upgrade of {job} {stopped['from_version']} -> {stopped['to_version']} failed: "
               f"{reason}. Rolled back to {status.version} from {stopped['savepoint']}; "
               f"job {status.job_id} {status.job_state}.")
    print(message)
    notify(spec_from(cfg.model_dump(mode="json")), PlatformEvent.UPGRADE_ROLLED_BACK,
           f"upgrade of {job} to {stopped['to_version']} rolled back", job=job, reason=reason,
           savepoint=stopped["savepoint"], running_version=status.version)
    write_stage_summary("flink_savepoint_upgrade", {
        "mode": "upgrade", "result": "rolled_back", "job": job, "reason": reason,
        "savepoint": stopped["savepoint"], "from_version": stopped["from_version"],
        "to_version": stopped["to_version"], "running_version": status.version}, cfg)
    raise AirflowFailException(message)


def _failed_status_reason(ti, group: str) -> str | None:
    last = ti.xcom_pull(task_ids=f"{group}.wait_ready", key="last_status") or {}
    if last:
        return (f"last state {last.get('lifecycle_state')} / job {last.get('job_state')}: "
                f"{last.get('error')}")
    return None


@task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
def summarize(params: dict[str, Any] | None = None, ti=None) -> dict[str, Any]:
    """Per job: the savepoint (s3://), the path Flink says the job restored from, versions,
    savepoints kept; an upgrade is published to the platform topic."""
    from flink_platform.aws import spec_from
    from flink_platform.aws.notify import PlatformEvent, notify
    from flink_platform.operators.flink_lifecycle import run_adapter, selected_jobs
    from flink_platform.reporting import write_stage_summary

    cfg, adapter = run_adapter(params)
    upgrade = bool(params.get("new_version"))
    facts: dict[str, Any] = {"mode": "upgrade" if upgrade else "savepoint"}
    upgraded = []
    for job in selected_jobs(cfg, params):
        st = adapter.status(job)
        verified = ti.xcom_pull(task_ids=f"upgrade_{_key(job)}.verify_restored")
        done = verified or {
            "savepoint": ti.xcom_pull(task_ids=f"savepoint_{_key(job)}.wait_savepoint"),
            "version": st.version}
        facts.update({f"{job}.savepoint": done.get("savepoint"),
                      f"{job}.restored_from": done.get("restored_from"),
                      f"{job}.from_version": done.get("from_version", done.get("version")),
                      f"{job}.version": st.version, f"{job}.lifecycle": st.lifecycle_state,
                      f"{job}.savepoints_kept": len(adapter.list_savepoints(job))})
        if verified:
            upgraded.append(f"{job} {verified['from_version']} -> {st.version}")
    if upgrade and upgraded:
        facts["notified"] = notify(spec_from(cfg.model_dump(mode="json")),
                                   PlatformEvent.UPGRADE_DONE, "upgraded: " + "; ".join(upgraded),
                                   **facts)
    write_stage_summary("flink_savepoint_upgrade", facts, cfg)
    return facts


with DAG(
    dag_id="flink_savepoint_upgrade",
    description="Scheduled savepoints with retention; upgrades from a savepoint with rollback",
    schedule=CFG.flink.savepoint_schedule,
    catchup=False,
    # a scheduled savepoint, a triggered upgrade and a triggered savepoint may run together:
    # the job leases order their actions on each job
    max_active_runs=3,
    default_args=DEFAULT_ARGS,
    params=PARAMS,
    tags=["flink", "savepoint", "upgrade", "lifecycle"],
    doc_md=__doc__,
) as dag:
    config = resolve_config()
    mode = choose_mode()
    chain(config, mode)
    ends = []
    for job in JOBS:
        with TaskGroup(group_id=f"savepoint_{_key(job)}"):
            lease = FlinkAcquireJobLeaseOperator(task_id="acquire_lease", job=job,
                                                 action="savepoint", **WAIT)
            started = start_savepoint.override(task_id="start_savepoint")(job)
            taken = FlinkSnapshotSensor(
                task_id="wait_savepoint", job=job, **{**WAIT, "poke_interval": POKE_S / 5},
                ref=started["ref"],
                timeout=CFG.flink.ready_timeout_s, mode="poke")
            kept = retention.override(task_id="retention")(job)
            released = FlinkReleaseJobLeaseOperator(task_id="release_lease", job=job)
            chain(mode, lease, started, taken, kept, released.as_teardown(setups=lease))
        with TaskGroup(group_id=f"upgrade_{_key(job)}"):
            lease = FlinkAcquireJobLeaseOperator(task_id="acquire_lease", job=job,
                                                 action="upgrade", **WAIT)
            applied = apply_upgrade.override(task_id="apply_upgrade")(job)
            ready = FlinkDeploymentReadySensor(
                task_id="wait_ready", job=job, **WAIT,
                timeout=CFG.flink.ready_timeout_s, mode="poke")
            verified = verify_restored.override(task_id="verify_restored")(job, applied)
            rolled = rollback.override(task_id="rollback")(job)
            released = FlinkReleaseJobLeaseOperator(task_id="release_lease", job=job)
            chain(mode, lease, applied, ready, verified)
            chain([applied, ready, verified], rolled)
            chain([verified, rolled], released.as_teardown(setups=lease))
        ends += [kept, verified]
    summary = summarize()
    chain(ends, summary)
    # Not from the branch: it would skip the watcher like any unchosen direct downstream.
    # Not from the leases either (setups feed only ALL_SUCCESS tasks): a lease not taken
    # fails the task after it (upstream_failed), which the watcher sees.
    [t for t in dag.tasks if t is not mode.operator and not t.is_setup] >> watcher()
