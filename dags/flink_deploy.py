"""flink_deploy: deploy the platform's Flink jobs and prove they checkpoint.

Runs when the platform is provisioned (PLATFORM_PROVISIONED Asset) or from the UI with
Params (which jobs; per-job parallelism, version, image). First the data plane: the stream
ARNs, region and bucket of the newest provision event, each stream checked to exist (a
missing one fails the run, naming it). Per job, holding the job's lease (one lifecycle
action per job at a time, flink_platform.job_lease): apply on that data plane (create, or
patch when it exists) -> wait ready (lifecycle STABLE + job RUNNING, fails fast with the error
text) -> wait for the first completed checkpoint (in S3) -> publish the job's Asset.
Local target: the standalone Flink cluster; aws: FlinkDeployment CRs.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Param, TaskGroup, TriggerRule, chain, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from flink_platform.assets import PLATFORM_PROVISIONED, job_deployed
from flink_platform.config import load_config
from flink_platform.dag_utils import DEFAULT_ARGS, resolve_config, watcher
from flink_platform.operators.job_lease import (
    FlinkAcquireJobLeaseOperator,
    FlinkReleaseJobLeaseOperator,
)
from flink_platform.params import config_params
from flink_platform.sensors.flink_deployment import (
    FlinkCheckpointSensor,
    FlinkDeploymentReadySensor,
)

CFG = load_config()
JOBS = list(CFG.jobs)
POKE_S = 1 if CFG.target == "local" else 15
# the lifecycle sensors: poke interval, and how long they check in the worker before deferring
WAIT = {"poke_interval": POKE_S, "defer_after_s": CFG.flink.defer_after_s}
PARAMS = {
    "jobs": Param(JOBS, type="array", items={"type": "string", "enum": JOBS},
                  title="jobs", description="Which Flink jobs to deploy."),
    **config_params(*[f"jobs.{job}.{field}" for job in JOBS
                      for field in ("parallelism", "version", "image")],
                     "flink.action_wait_timeout_s"),
}


@task(inlets=[PLATFORM_PROVISIONED])
def resolve_data_plane(params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Stream ARNs, region, bucket published by platform_provision; every stream exists."""
    from flink_platform.operators.flink_lifecycle import provisioned_data_plane

    plane = provisioned_data_plane(params)
    print("data plane: " + ", ".join(f"{k}={v}" for k, v in plane.items() if v))
    return plane


@task
def apply_job(job: str, plane: dict[str, Any], params: dict[str, Any] | None = None
              ) -> dict[str, Any]:
    """Create or patch the job's deployment on the data plane (idempotent); skipped when
    not selected."""
    import time

    from flink_platform.operators.flink_lifecycle import run_adapter, selected_jobs

    cfg, adapter = run_adapter(params, plane)
    if job not in selected_jobs(cfg, params):
        raise AirflowSkipException(f"{job} not selected in this run")
    applied_at = time.time()
    status = adapter.apply(job)
    print(f"{job}: applied version {status.version}, lifecycle {status.lifecycle_state}, "
          f"job id {status.job_id}")
    return {**status.to_dict(), "applied_at": applied_at}


@task(trigger_rule=TriggerRule.ALL_SUCCESS)
def publish_job(job: str, applied: dict[str, Any], checkpoint: dict[str, Any]) -> dict[str, Any]:
    """Emit the job's Asset event with the deployment facts."""
    facts = {"job": job, "version": applied.get("version"), "job_id": applied.get("job_id"),
             "first_checkpoint": checkpoint.get("last_checkpoint")}
    get_current_context()["outlet_events"][job_deployed(job)].extra = facts
    return facts


@task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
def summarize(plane: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Stage summary for the demo: per job, version, job id, lifecycle, the stream it reads,
    its last checkpoint (Flink's own path: s3://<bucket>/checkpoints/<job>/...)."""
    from flink_platform.operators.flink_lifecycle import run_adapter, selected_jobs
    from flink_platform.reporting import write_stage_summary

    cfg, adapter = run_adapter(params, plane)
    facts: dict[str, Any] = {"target": cfg.target, "bucket": plane["bucket"]}
    for job in selected_jobs(cfg, params):
        st = adapter.status(job)
        source = plane["trading_events_arn"] if cfg.jobs[job].source == "kinesis" \
            else cfg.jobs[job].source
        facts.update({f"{job}.version": st.version, f"{job}.job_id": st.job_id,
                      f"{job}.lifecycle": st.lifecycle_state, f"{job}.source": source,
                      f"{job}.last_checkpoint": st.last_checkpoint})
    write_stage_summary("flink_deploy", facts, cfg)
    return facts


with DAG(
    dag_id="flink_deploy",
    description="Deploy the Flink jobs, wait ready and for the first checkpoint, publish Assets",
    schedule=[PLATFORM_PROVISIONED],
    catchup=False,
    default_args=DEFAULT_ARGS,
    params=PARAMS,
    tags=["flink", "deploy", "lifecycle"],
    doc_md=__doc__,
) as dag:
    # SETUP
    config = resolve_config()
    plane = resolve_data_plane()
    chain(config, plane)
    # BODY
    published = []
    for job in JOBS:
        with TaskGroup(group_id=job.replace("-", "_")):
            lease = FlinkAcquireJobLeaseOperator(
                task_id="acquire_lease", job=job, action="deploy", **WAIT)
            applied = apply_job.override(task_id="apply")(job, plane)
            ready = FlinkDeploymentReadySensor(
                task_id="wait_ready", job=job, **WAIT,
                timeout=CFG.flink.ready_timeout_s, mode="poke")
            checkpoint = FlinkCheckpointSensor(
                task_id="wait_first_checkpoint", job=job, **WAIT,
                since=applied["applied_at"],
                timeout=max(120, 10 * CFG.jobs[job].checkpoint_interval_s), mode="poke")
            published_job = publish_job.override(task_id="publish", outlets=[job_deployed(job)])(
                job, applied, checkpoint.output)
            released = FlinkReleaseJobLeaseOperator(task_id="release_lease", job=job)
            chain(plane, lease, applied, ready, checkpoint, published_job,
                  released.as_teardown(setups=lease))
            published.append(published_job)
    summary = summarize(plane)
    chain(published, summary)
    # setups (the leases) only feed ALL_SUCCESS tasks; a lease not taken fails the apply
    # after it (upstream_failed), which the watcher sees
    [t for t in dag.tasks if not t.is_setup] >> watcher()
