"""platform_load_test: events at a target rate through Kinesis into the jobs, judged end to end.

Triggered from the UI (Params validated). On both targets the data path is the platform's
own: mapped producers put labelled trades on the provisioned trades stream and market
ticks on the market-data stream (PutRecords batches of <= 500 records / 5 MiB, per-record
retry with backoff and jitter, a rate limiter holding each producer's share of the ramp);
the jobs read them through their Kinesis source; the fraud job's alerts are read back from
the alerts stream. Meanwhile a sampler reads the jobs' metrics (Flink REST; Prometheus on
``local``). Then: Flink's own source counters must reach what was produced (drain), the
alerts are judged against the labelled ground truth (recall, precision, send-to-arrival
latency), and the report (JSON, PNG chart, Markdown) goes to
``s3://<bucket>/reports/load-test/<run_id>/`` and the task log. An SLO breached, or one
whose figure could not be measured, fails the run naming it and is published to the
platform's SNS topic.

SETUP: resolve_config -> plan_load_test (data plane, bucket, index range) -> flink_targets,
       producer_specs
BODY: produce (mapped) + sample_flink_metrics -> drain_sources -> collect_alerts
      -> build_load_report -> enforce_slos
TEARDOWN: advance_event_clock (ALL_DONE) -> watcher
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Param, TriggerRule, chain, get_current_context, task

from flink_platform.assets import PLATFORM_PROVISIONED
from flink_platform.config import load_config
from flink_platform.dag_utils import DEFAULT_ARGS, AirflowFailException, resolve_config, watcher

DAG_ID = "platform_load_test"
_JOBS = list(load_config().jobs)

PARAMS: dict[str, Any] = {
    "target_events_per_s": Param(500, type="integer", minimum=1, maximum=200_000,
                                 description="Target rate of the last ramp step, all producers "
                                             "(trades and market ticks)."),
    "duration_s": Param(20, type="integer", minimum=5, maximum=3600,
                        description="Seconds of load (ramp steps split it evenly)."),
    "ramp_steps": Param(1, type="integer", minimum=1, maximum=20,
                        description="Step i of k sends target * i / k events/s."),
    "producers": Param(2, type="integer", minimum=1, maximum=32,
                       description="Mapped producer tasks; each sends 1/N of the rate."),
    "jobs": Param(_JOBS, type="array", items={"type": "string", "enum": _JOBS}, minItems=0,
                  description="Flink jobs to sample and hold to the data-path checks."),
    "seed": Param(7, type="integer", minimum=0, maximum=2**31 - 1,
                  description="Seed of the shared labelled trading-event generator."),
    "malformed_rate": Param(0.0, type="number", minimum=0, maximum=0.5,
                            description="Share of normal trades sent malformed (they must "
                                        "land in the dead-letter output)."),
    "slo_max_p99_latency_ms": Param(5000, type=["integer", "null"], minimum=1, maximum=3_600_000,
                                    description="Max p99 event-to-alert latency (ms); null: off."),
    "slo_max_backpressure_ratio": Param(0.5, type=["number", "null"], minimum=0, maximum=1,
                                        description="Max p95 back-pressured time of the most "
                                                    "loaded vertex (0-1); null: off."),
    "slo_zero_failed_records": Param(True, type="boolean",
                                     description="Fail when any record is lost after retries."),
    "slo_min_achieved_ratio": Param(0.9, type=["number", "null"], minimum=0, maximum=1,
                                    description="Min accepted / planned records; null: off."),
    "slo_min_alert_recall": Param(1.0, type=["number", "null"], minimum=0, maximum=1,
                                  description="Min share of sent fraud scenarios alerted."),
    "slo_min_alert_precision": Param(0.99, type=["number", "null"], minimum=0, maximum=1,
                                     description="Min share of alerts that are true scenarios."),
    "slo_all_records_read": Param(True, type="boolean",
                                  description="Fail unless the jobs' sources read every record "
                                              "produced on the streams they read."),
}


def _cfg(cfg: dict[str, Any]):
    from flink_platform.config import validate_config

    return validate_config(cfg, source="resolve_config")


@task(retries=1, inlets=[PLATFORM_PROVISIONED])
def plan_load_test(cfg: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The provisioned streams, the bucket, this run's trade index range, the producers."""
    from flink_platform.data_plane import DataPlane
    from flink_platform.loadtest.runner import check_bucket, plan_from_params, previous_run
    from flink_platform.operators.flink_lifecycle import provisioned_data_plane

    config = _cfg(cfg)
    plane = provisioned_data_plane(params)
    try:
        bucket = check_bucket(config)
        plan = plan_from_params(config, params or {}, DataPlane.from_dict(plane),
                                previous_run(config))
    except (ValueError, LookupError) as err:
        raise AirflowFailException(str(err)) from None
    return {"plan": plan.to_dict(), "plane": plane, "bucket": bucket,
            "specs": [s.to_dict() for s in plan.producer_specs()],
            "jobs": list((params or {}).get("jobs", _JOBS))}


@task(retries=1)
def producer_specs(planned: dict[str, Any]) -> list[dict[str, Any]]:
    """The list the producers are mapped over (one spec per producer)."""
    return planned["specs"]


@task(retries=1)
def flink_targets(cfg: dict[str, Any], planned: dict[str, Any]) -> list[dict[str, Any]]:
    """The jobs to sample, with their sources' record counts before the load."""
    from flink_platform.loadtest.runner import flink_targets as targets

    return targets(_cfg(cfg), planned["jobs"])


@task(retries=1, map_index_template="producer {{ task.op_kwargs['spec']['producer'] }}")
def produce(cfg: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """One producer: its share of every ramp step, its own event-index range.

    Records are retried inside; a producer error fails the task without a task retry
    (AirflowFailException), since a re-run would send its range twice.
    """
    from flink_platform.loadtest.runner import produce as run

    try:
        return run(_cfg(cfg), spec)
    except Exception as err:  # reported, never retried as a whole
        raise AirflowFailException(f"producer {spec['producer']} failed: "
                                   f"{type(err).__name__}: {err}") from err


@task(retries=1)
def sample_flink_metrics(cfg: dict[str, Any], planned: dict[str, Any],
                         targets: list[dict[str, Any]]) -> dict[str, Any]:
    """Sample the jobs' throughput, lag, backpressure, busy time and checkpoints."""
    from flink_platform.loadtest.runner import sample_flink

    return sample_flink(_cfg(cfg), targets, planned["plan"]["duration_s"])


@task(retries=1)
def drain_sources(cfg: dict[str, Any], planned: dict[str, Any], targets: list[dict[str, Any]],
                  produced: list[dict[str, Any]]) -> dict[str, Any]:
    """Wait until Flink's sources read every record produced (heartbeats carry the event
    clock on meanwhile, so every alert of the run is emitted); how long after the last send."""
    from flink_platform.loadtest.runner import drain_sources as drain
    from flink_platform.loadtest.runner import plan_from_dict, produced_by_stream

    producers = list(produced)
    plan = plan_from_dict(planned["plan"])
    return drain(_cfg(cfg), plan, targets, produced_by_stream(plan, producers),
                 max((p["ended_at"] for p in producers), default=0.0))


@task(retries=1)
def collect_alerts(cfg: dict[str, Any], planned: dict[str, Any],
                   produced: list[dict[str, Any]]) -> dict[str, Any]:
    """Read the alerts stream; recall, precision and latency against the ground truth."""
    from flink_platform.data_plane import DataPlane
    from flink_platform.loadtest.runner import collect_alerts as collect
    from flink_platform.loadtest.runner import plan_from_dict

    return collect(_cfg(cfg), DataPlane.from_dict(planned["plane"]),
                   plan_from_dict(planned["plan"]), list(produced))


@task(retries=1)
def build_load_report(cfg: dict[str, Any], planned: dict[str, Any], produced: list[dict[str, Any]],
                      sampled: dict[str, Any], targets: list[dict[str, Any]],
                      drained: dict[str, Any], alerts: dict[str, Any]) -> dict[str, Any]:
    """Write the JSON report, chart and summary (bucket + local), log them, record facts."""
    import json

    from flink_platform.loadtest.artifacts import stage_facts, write_report
    from flink_platform.loadtest.runner import plan_from_dict
    from flink_platform.reporting import write_stage_summary

    config = _cfg(cfg)
    run_id = get_current_context()["run_id"]
    out = write_report(config, run_id=run_id, plan=plan_from_dict(planned["plan"]),
                       producers=list(produced), sampled=sampled, targets=targets,
                       drained=drained, alerts=alerts)
    report = out["report"]
    print(out["summary"])
    print(json.dumps({k: v for k, v in report.items() if k != "timeseries"}, indent=1, default=str))
    write_stage_summary(DAG_ID, stage_facts(report), config)
    return {"passed": report["passed"], "slos": report["slos"], "artifacts": report["artifacts"]}


@task(retries=1)  # AirflowFailException: a breach is never retried
def enforce_slos(cfg: dict[str, Any], verdict: dict[str, Any]) -> None:
    """Fail the run naming each breached (or unmeasured) SLO; publish the breach to SNS."""
    failed = [f"{s['name']}: {s['detail']}" for s in verdict["slos"] if s["status"] == "fail"]
    if failed:
        from flink_platform.aws import spec_from
        from flink_platform.aws.notify import PlatformEvent, notify

        message = "load-test SLO breached: " + "; ".join(failed)
        notify(spec_from(cfg), PlatformEvent.LOAD_TEST_SLO_BREACH, message,
               run_id=get_current_context()["run_id"], breaches=failed,
               report=verdict["artifacts"].get("s3_prefix"))
        raise AirflowFailException(message)


@task(retries=1, trigger_rule=TriggerRule.ALL_DONE)
def advance_event_clock(cfg: dict[str, Any], planned: dict[str, Any]) -> dict[str, int]:
    """The next run starts after this run's trades and event time (even a failed run may
    have sent them): the next generator period, an event clock after this one's end."""
    import time

    from flink_platform.loadtest.runner import plan_from_dict, save_next_run

    plan = plan_from_dict(planned["plan"])
    return save_next_run(_cfg(cfg), plan, get_current_context()["run_id"],
                         plan.clock.event_ms(time.time()))


with DAG(
    dag_id=DAG_ID,
    description="Load-test the data plane: mapped Kinesis producers, the jobs, the alerts stream",
    doc_md=__doc__,
    schedule=None,
    catchup=False,
    default_args=DEFAULT_ARGS,
    params=PARAMS,
    tags=["flink-platform", "load-test", "lifecycle"],
    max_active_runs=1,
) as dag:
    # SETUP
    config = resolve_config()
    planned = plan_load_test(config)
    targets = flink_targets(config, planned)
    # BODY
    produced = produce.partial(cfg=config).expand(spec=producer_specs(planned))
    sampled = sample_flink_metrics(config, planned, targets)
    drained = drain_sources(config, planned, targets, produced)
    alerts = collect_alerts(config, planned, produced)
    verdict = build_load_report(config, planned, produced, sampled, targets, drained, alerts)
    enforced = enforce_slos(config, verdict)
    # TEARDOWN
    advanced = advance_event_clock(config, planned)
    chain(config, planned, targets, [produced, sampled], drained, alerts, verdict, enforced,
          advanced)
    list(dag.tasks) >> watcher()  # downstream of every task (system-test watcher)
