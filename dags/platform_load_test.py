"""platform_load_test: drive the Flink jobs at a target rate, sample them, judge SLOs.

Triggered from the UI (Params validated). Mapped producers send the jobs' own labelled
trading events to the Kinesis stream with PutRecords (batches of <= 500 records / 5 MiB,
per-record retry with exponential backoff and jitter, a rate limiter holding each
producer's share of the ramp). Meanwhile a sampler reads the jobs' metrics from the Flink
REST API (and Prometheus on ``local``). The report (JSON, PNG chart, Markdown summary)
goes to the platform bucket under ``reports/load-test/<run_id>/`` and to the task log;
the run fails when an SLO is breached, naming which and by how much.

On ``local`` Flink reads no Kinesis (the Kinesis connector is only in the ``aws`` job
image): the producers write to the AWS emulator and each job's own generator source is
driven at the same target rate (savepoint upgrade via the Flink adapter, put back after).

SETUP: resolve_config -> plan_load_test -> drive_flink_sources
BODY: produce (mapped) + sample_flink_metrics -> build_load_report -> enforce_slos
TEARDOWN: restore_flink_sources (ALL_DONE) -> watcher
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Param, TriggerRule, chain, get_current_context, task

from flink_platform.config import load_config
from flink_platform.dag_utils import DEFAULT_ARGS, AirflowFailException, resolve_config, watcher
from flink_platform.params import config_params

DAG_ID = "platform_load_test"
_JOBS = list(load_config().jobs)

PARAMS: dict[str, Any] = {
    **config_params("streams.trading_events.name", descriptions={
        "streams.trading_events.name": "Kinesis stream (base name; the environment suffix "
                                       "is added) the producers write to."}),
    "target_events_per_s": Param(500, type="integer", minimum=1, maximum=200_000,
                                 description="Target rate of the last ramp step, all producers."),
    "duration_s": Param(20, type="integer", minimum=5, maximum=3600,
                        description="Seconds of load (ramp steps split it evenly)."),
    "ramp_steps": Param(1, type="integer", minimum=1, maximum=20,
                        description="Step i of k sends target * i / k events/s."),
    "producers": Param(2, type="integer", minimum=1, maximum=32,
                       description="Mapped producer tasks; each sends 1/N of the rate."),
    "jobs": Param(_JOBS, type="array", items={"type": "string", "enum": _JOBS}, minItems=0,
                  description="Flink jobs to drive (local) and sample."),
    "seed": Param(7, type="integer", minimum=0, maximum=2**31 - 1,
                  description="Seed of the shared trading-event generator (the jobs' "
                              "generator source defaults to 7 as well)."),
    "slo_max_p99_latency_ms": Param(5000, type=["integer", "null"], minimum=1, maximum=3_600_000,
                                    description="Max p99 event-to-alert latency (ms); null: off."),
    "slo_max_backpressure_ratio": Param(0.5, type=["number", "null"], minimum=0, maximum=1,
                                        description="Max p95 back-pressured time of the most "
                                                    "loaded vertex (0-1); null: off."),
    "slo_zero_failed_records": Param(True, type="boolean",
                                     description="Fail when any record is lost after retries."),
    "slo_min_achieved_ratio": Param(0.9, type=["number", "null"], minimum=0, maximum=1,
                                    description="Min accepted / planned records; null: off."),
    "restore_job_rates": Param(True, type="boolean",
                               description="local: put the driven jobs' generators back on "
                                           "the rate they had before."),
}


def _cfg(cfg: dict[str, Any]):
    from flink_platform.config import validate_config

    return validate_config(cfg, source="resolve_config")


@task(retries=1)
def plan_load_test(cfg: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate the knobs, check the stream and bucket exist, split the work over producers."""
    from flink_platform.loadtest.runner import check_bucket, check_stream, plan_from_params

    config = _cfg(cfg)
    try:
        plan = plan_from_params(config, params or {})
        shards = check_stream(config, plan.stream)
        bucket = check_bucket(config)
    except (ValueError, LookupError) as err:
        raise AirflowFailException(str(err)) from None
    return {"plan": plan.to_dict(), "shards": shards, "bucket": bucket,
            "specs": [s.to_dict() for s in plan.producer_specs()],
            "jobs": list((params or {}).get("jobs", _JOBS))}


@task(retries=1)
def drive_flink_sources(cfg: dict[str, Any], planned: dict[str, Any]) -> list[dict[str, Any]]:
    """local: run each deployed job's generator at the target rate; both: sampler targets."""
    from flink_platform.loadtest.runner import drive_flink_sources as drive

    return drive(_cfg(cfg), planned["jobs"], planned["plan"]["target_events_per_s"])


@task(retries=1)
def producer_specs(planned: dict[str, Any]) -> list[dict[str, Any]]:
    """The list the producers are mapped over (one spec per producer)."""
    return planned["specs"]


@task(retries=1, map_index_template="producer {{ task.op_kwargs['spec']['producer'] }}")
def produce(cfg: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """One producer: its share of every ramp step, its own event-index range.

    Records are retried inside; a producer error fails the task without a task retry
    (AirflowFailException), since a re-run would send its range twice.
    """
    from flink_platform.loadtest.runner import produce as run

    try:
        return run(_cfg(cfg), spec)
    except Exception as err:  # noqa: BLE001 - reported, never retried as a whole
        raise AirflowFailException(f"producer {spec['producer']} failed: "
                                   f"{type(err).__name__}: {err}") from err


@task(retries=1)
def sample_flink_metrics(cfg: dict[str, Any], planned: dict[str, Any],
                         targets: list[dict[str, Any]]) -> dict[str, Any]:
    """Sample the jobs' throughput, backpressure, busy time and checkpoints for the run."""
    from flink_platform.loadtest.runner import sample_flink

    return sample_flink(_cfg(cfg), targets, planned["plan"]["duration_s"])


@task(retries=1)
def build_load_report(cfg: dict[str, Any], planned: dict[str, Any], produced: list[dict[str, Any]],
                      sampled: dict[str, Any], targets: list[dict[str, Any]]) -> dict[str, Any]:
    """Write the JSON report, chart and summary (bucket + local), log them, record facts."""
    import json

    from flink_platform.loadtest.plan import LoadPlan, Slos
    from flink_platform.loadtest.runner import stage_facts, write_report
    from flink_platform.reporting import write_stage_summary

    config = _cfg(cfg)
    p = planned["plan"]
    plan = LoadPlan(stream=p["stream"], target_events_per_s=p["target_events_per_s"],
                    duration_s=p["duration_s"], ramp_steps=p["ramp_steps"],
                    producers=p["producers"], seed=p["seed"], slos=Slos(**p["slos"]))
    run_id = get_current_context()["run_id"]
    out = write_report(config, run_id=run_id, plan=plan, producers=list(produced),
                       sampled=sampled, targets=targets)
    report = out["report"]
    print(out["summary"])
    print(json.dumps({k: v for k, v in report.items() if k != "timeseries"}, indent=1, default=str))
    write_stage_summary(DAG_ID, stage_facts(report), config)
    return {"passed": report["passed"], "slos": report["slos"], "artifacts": report["artifacts"]}


@task(retries=1)  # AirflowFailException: a breach is never retried
def enforce_slos(verdict: dict[str, Any]) -> None:
    """Fail the run when an SLO is breached, naming each and by how much."""
    failed = [f"{s['name']}: {s['detail']}" for s in verdict["slos"] if s["status"] == "fail"]
    if failed:
        raise AirflowFailException("load-test SLO breached: " + "; ".join(failed))


@task(retries=1, trigger_rule=TriggerRule.ALL_DONE)
def restore_flink_sources(cfg: dict[str, Any], targets: list[dict[str, Any]],
                          params: dict[str, Any] | None = None) -> list[str]:
    """local: put each driven job's generator back on the rate it had before the run."""
    from flink_platform.loadtest.runner import restore_flink_sources as restore

    if not (params or {}).get("restore_job_rates", True):
        return []
    return restore(_cfg(cfg), targets)


with DAG(
    dag_id=DAG_ID,
    description="Load-test the Flink jobs: mapped Kinesis producers, metrics sampler, SLOs",
    doc_md=__doc__,
    schedule=None,
    catchup=False,
    default_args=DEFAULT_ARGS,
    params=PARAMS,
    tags=["flink-platform", "load-test", "lifecycle"],
    max_active_runs=1,
) as dag:
    config = resolve_config()
    planned = plan_load_test(config)
    targets = drive_flink_sources(config, planned)
    specs = producer_specs(planned)
    produced = produce.partial(cfg=config).expand(spec=specs)
    sampled = sample_flink_metrics(config, planned, targets)
    verdict = build_load_report(config, planned, produced, sampled, targets)
    restored = restore_flink_sources(config, targets)  # ALL_DONE teardown
    chain(config, planned, [targets, specs], [produced, sampled], verdict, enforce_slos(verdict), restored)
    list(dag.tasks) >> watcher()  # downstream of every task (system-test watcher)
