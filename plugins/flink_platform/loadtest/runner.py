"""What the ``platform_load_test`` tasks do, as plain functions of the platform config.

The DAG file stays a thin wiring of these; tests call them directly. Heavy imports
(boto3, the Amazon provider, matplotlib) happen inside the functions.

On ``local`` Flink reads no Kinesis (the connector jar is not obtainable locally): the
producers write to the emulator's stream, and each job's own ``generator`` source is
driven at the target rate through the Flink adapter, so both halves carry the load. On
``aws`` the jobs read the stream the producers write to.
"""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path
from typing import Any

from flink_platform.config import PlatformConfig
from flink_platform.loadtest.plan import LoadPlan, ProducerSpec, Slos

log = logging.getLogger(__name__)

LOCAL_MODE = ("on `local` Flink reads no Kinesis (the Kinesis connector is only in the `aws` "
              "job image): the producers wrote to the AWS emulator's stream and each job's own "
              "generator source was driven at the target rate ({rate} events/s)")
AWS_MODE = "on `aws` the jobs read the Kinesis stream the producers wrote to"
SAMPLE_INTERVAL_S = 1.0


def stream_name(cfg: PlatformConfig, base: str | None = None) -> str:
    return cfg.resource_name(base or cfg.streams.trading_events.name)


def bucket_name(cfg: PlatformConfig) -> str:
    return cfg.resource_name(cfg.bucket.name)


def plan_from_params(cfg: PlatformConfig, params: dict[str, Any]) -> LoadPlan:
    """The plan of this run from its Params (knobs validated again, cross-field too)."""
    slos = Slos(
        max_p99_latency_ms=params.get("slo_max_p99_latency_ms"),
        max_backpressure_ratio=params.get("slo_max_backpressure_ratio"),
        zero_failed_records=bool(params.get("slo_zero_failed_records", True)),
        min_achieved_ratio=params.get("slo_min_achieved_ratio"),
    )
    return LoadPlan(
        stream=stream_name(cfg), target_events_per_s=int(params["target_events_per_s"]),
        duration_s=int(params["duration_s"]), ramp_steps=int(params.get("ramp_steps", 1)),
        producers=int(params.get("producers", 1)), seed=int(params.get("seed", 42)), slos=slos,
    )


def check_stream(cfg: PlatformConfig, stream: str) -> int:
    """Shard count of ``stream``; raises LookupError naming the fix when it is missing."""
    from flink_platform.loadtest.kinesis_io import kinesis_client, stream_shards

    return len(stream_shards(kinesis_client(cfg.aws_conn_id, cfg.region), stream))


def check_bucket(cfg: PlatformConfig) -> str:
    """The platform bucket the report goes to; LookupError before any load when missing."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    bucket = bucket_name(cfg)
    if not S3Hook(aws_conn_id=cfg.aws_conn_id, region_name=cfg.region).check_for_bucket(bucket):
        raise LookupError(f"platform bucket {bucket!r} does not exist: run the provision DAG "
                          "first (the report is stored under reports/ there)")
    return bucket


# -- Flink side --------------------------------------------------------------------------

def _deployed_overrides(adapter: Any, job: str) -> dict[str, Any]:
    """The overrides that rebuild what runs now (version, args, Flink options ...), so
    changing the rate never reverts an upgrade; empty when the adapter keeps no record."""
    record = getattr(adapter, "record", None)
    spec = (record(job) or {}).get("spec") if callable(record) else None
    return {**spec["job"], "flink_conf": spec.get("flink_conf", {})} if spec else {}


def drive_flink_sources(cfg: PlatformConfig, jobs: list[str], rate: int) -> list[dict[str, Any]]:
    """Sampler targets for ``jobs``; on ``local`` first re-deploy each running job with its
    generator at ``rate`` (adapter.apply with the deployed spec + ``events_per_s``:
    stop-with-savepoint and resubmit from it, so state is kept; a no-op at the same rate).

    A job that is not running is reported (``state``) and not driven or sampled.
    """
    from flink_platform.adapters import get_flink_adapter

    adapter = get_flink_adapter(cfg)
    targets = []
    for job in jobs:
        status = adapter.status(job)
        deployed = _deployed_overrides(adapter, job)
        previous_rate = deployed.get("events_per_s", cfg.jobs[job].events_per_s)
        driven = False
        if cfg.target == "local" and status.job_state == "RUNNING":
            log.info("driving %s's generator at %d events/s (was %d)", job, rate, previous_rate)
            status = adapter.apply(job, {**deployed, "events_per_s": rate})
            driven = previous_rate != rate
        targets.append({"job": job, "rest_url": adapter.metrics_endpoint(job),
                        "job_id": status.job_id, "state": status.lifecycle_state,
                        "job_state": status.job_state, "driven": driven,
                        "previous_events_per_s": previous_rate, "error": status.error})
    return targets


def restore_flink_sources(cfg: PlatformConfig, targets: list[dict[str, Any]]) -> list[str]:
    """Put each driven job back on the generator rate it had before (savepoint upgrade)."""
    from flink_platform.adapters import get_flink_adapter

    adapter = get_flink_adapter(cfg)
    restored = []
    for target in targets:
        if target.get("driven"):
            job = target["job"]
            adapter.apply(job, {**_deployed_overrides(adapter, job),
                                "events_per_s": target["previous_events_per_s"]})
            restored.append(job)
    return restored


def sample_flink(cfg: PlatformConfig, targets: list[dict[str, Any]], duration_s: float,
                 interval_s: float = SAMPLE_INTERVAL_S) -> dict[str, Any]:
    """Sample the targets' metrics for ``duration_s`` (Prometheus too on ``local``)."""
    from flink_platform.loadtest.sampler import FlinkMetricsSampler, JobTarget, prometheus_urls

    live = [JobTarget(t["job"], t["rest_url"], t["job_id"]) for t in targets
            if t.get("job_id") and t.get("rest_url")]
    if not live:
        return {"samples": [], "checkpoints": {}, "failed_checkpoints": {},
                "started_at": time.time(), "ended_at": time.time(), "interval_s": interval_s}
    prom = prometheus_urls(cfg.local.prometheus_ports) if cfg.target == "local" else []
    sampler = FlinkMetricsSampler(live, prometheus_urls=prom, kinesis_lag=cfg.target == "aws")
    return sampler.run(duration_s, interval_s)


# -- producers ---------------------------------------------------------------------------

def produce(cfg: PlatformConfig, spec: dict[str, Any], max_in_flight: int = 4) -> dict[str, Any]:
    """Run one mapped producer over its slice of the event index range."""
    from flink_platform.loadtest.events import trading_event_source
    from flink_platform.loadtest.kinesis_io import kinesis_client
    from flink_platform.loadtest.producer import run_producer

    producer_spec = ProducerSpec.from_dict(spec)
    client = kinesis_client(cfg.aws_conn_id, cfg.region, max_pool=max_in_flight * 2)
    if cfg.target == "local":
        from flink_platform.loadtest.kinesis_io import SerializedPuts

        cfg.state_path.mkdir(parents=True, exist_ok=True)
        client = SerializedPuts(client, str(cfg.state_path / "loadtest-moto-puts.lock"))
    stats = run_producer(producer_spec, client, trading_event_source(producer_spec.seed),
                         max_in_flight=max_in_flight)
    result = stats.to_dict()
    log.info("producer %d: %d accepted, %d failed, %d retried, %.0f events/s",
             spec["producer"], result["accepted"], result["failed"], result["retried"],
             result["achieved_events_per_s"])
    return result


# -- report ------------------------------------------------------------------------------

def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:120]


def write_report(cfg: PlatformConfig, *, run_id: str, plan: LoadPlan,
                 producers: list[dict[str, Any]], sampled: dict[str, Any] | None,
                 targets: list[dict[str, Any]], latency: dict[str, Any] | None = None,
                 upload: bool = True) -> dict[str, Any]:
    """Build the report, chart and summary; write them locally and to the platform bucket.

    Returns the report (``artifacts`` filled in) and the Markdown summary.
    """
    from flink_platform.loadtest.chart import render_chart
    from flink_platform.loadtest.report import build_report, markdown_summary

    mode = LOCAL_MODE.format(rate=plan.target_events_per_s) if cfg.target == "local" else AWS_MODE
    if not any(t.get("job_id") for t in targets):
        mode += "; no Flink job was running, so only the producer half was exercised"
    if latency is None:
        from flink_platform.loadtest.latency import event_to_alert_latency

        window = (min((p["started_at"] for p in producers), default=time.time()),
                  (sampled or {}).get("ended_at") or time.time())
        latency = event_to_alert_latency(cfg, targets, window)
    run = {"run_id": run_id, "target": cfg.target, "stream": plan.stream,
           "environment": cfg.env_suffix, "flink_targets": targets,
           "producers_concurrent": _overlapping(producers)}
    plan_dict = plan.to_dict()
    report = build_report(run=run, plan=plan_dict, slos=plan_dict["slos"], producers=producers,
                          sampled=sampled, latency=latency, flink_mode=mode)
    folder = cfg.state_path / "reports" / "load-test" / _safe(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    files = {"report_json": folder / "report.json", "chart_png": folder / "chart.png",
             "summary_md": folder / "summary.md"}
    render_chart(report, files["chart_png"])
    prefix = f"reports/load-test/{_safe(run_id)}"
    artifacts = {name: str(path) for name, path in files.items()}
    if upload:
        artifacts["s3_prefix"] = f"s3://{bucket_name(cfg)}/{prefix}/"
    report["artifacts"] = artifacts
    summary = markdown_summary(report, artifacts)
    files["summary_md"].write_text(summary)
    files["report_json"].write_text(json.dumps(report, indent=1, default=str))
    if upload:
        _upload(cfg, prefix, files)
    return {"report": report, "summary": summary}


def _overlapping(producers: list[dict[str, Any]]) -> bool:
    """True when the producers' send windows overlapped (they ran side by side)."""
    if len(producers) < 2:
        return True
    return max(p["started_at"] for p in producers) < min(p["ended_at"] for p in producers)


def _upload(cfg: PlatformConfig, prefix: str, files: dict[str, Path]) -> None:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id=cfg.aws_conn_id, region_name=cfg.region)
    for path in files.values():
        hook.load_file(str(path), key=f"{prefix}/{path.name}", bucket_name=bucket_name(cfg),
                       replace=True)


def stage_facts(report: dict[str, Any]) -> dict[str, Any]:
    """Flat facts for ``write_stage_summary`` (the demo summary table)."""
    prod = report["producers"]
    facts: dict[str, Any] = {
        "passed": report["passed"],
        "target_events_per_s": prod["target_events_per_s"],
        "achieved_events_per_s": prod["achieved_events_per_s"],
        "achieved_ratio": prod["achieved_ratio"],
        "records_accepted": prod["accepted"], "records_failed": prod["failed"],
        "records_retried": prod["retried"], "producers": prod["producers"],
        "flink_mode": "generator driven at target rate" if report["run"]["target"] == "local"
                      else "reads Kinesis",
    }
    for job, j in report["flink"]["jobs"].items():
        facts[f"flink_{job}_in_events_per_s"] = j["records_in_per_s"]["avg"]
        facts[f"flink_{job}_backpressure_p95"] = j["backpressure_ratio"]["p95"]
    for slo in report["slos"]:
        facts[f"slo_{slo['name']}"] = f"{slo['status']} (observed {slo['observed']}, limit {slo['threshold']})"
    facts.update(report.get("artifacts", {}))  # report_json, chart_png, summary_md, s3_prefix
    return facts
