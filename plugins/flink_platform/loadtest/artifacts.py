"""The load test's artifacts: the report, chart and Markdown summary of a run, written
locally and to ``s3://<bucket>/reports/load-test/<run_id>/``, and the flat facts of the
demo's stage summary. (The run's steps themselves: flink_platform.loadtest.runner.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from flink_platform.config import PlatformConfig
from flink_platform.loadtest.plan import LoadPlan
from flink_platform.loadtest.runner import bucket_name, produced_by_stream, s3_client


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:120]


def write_report(cfg: PlatformConfig, *, run_id: str, plan: LoadPlan,
                 producers: list[dict[str, Any]], sampled: dict[str, Any] | None,
                 targets: list[dict[str, Any]], drained: dict[str, Any],
                 alerts: dict[str, Any], upload: bool = True) -> dict[str, Any]:
    """Build the report, chart and summary; write them locally and to the platform bucket.

    Returns the report (``artifacts`` filled in) and the Markdown summary.
    """
    from flink_platform.loadtest.chart import render_chart
    from flink_platform.loadtest.report import build_report, markdown_summary

    run = {"run_id": run_id, "target": cfg.target, "stream": plan.stream,
           "ticks_stream": plan.ticks_stream, "environment": cfg.env_suffix,
           "flink_targets": targets, "producers_concurrent": _overlapping(producers)}
    plan_dict = plan.to_dict()
    report = build_report(run=run, plan=plan_dict, slos=plan_dict["slos"], producers=producers,
                          sampled=sampled, alerts=alerts, drained=drained,
                          produced=produced_by_stream(plan, producers))
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
        s3 = s3_client(cfg)
        for path in files.values():
            s3.upload_file(str(path), bucket_name(cfg), f"{prefix}/{path.name}")
    return {"report": report, "summary": summary}


def _overlapping(producers: list[dict[str, Any]]) -> bool:
    """True when the producers' send windows overlapped (they ran side by side)."""
    if len(producers) < 2:
        return True
    return max(p["started_at"] for p in producers) < min(p["ended_at"] for p in producers)


def stage_facts(report: dict[str, Any]) -> dict[str, Any]:
    """Flat facts for ``write_stage_summary`` (the demo summary table)."""
    prod, path = report["producers"], report["data_path"]
    facts: dict[str, Any] = {
        "passed": report["passed"],
        "records_produced": prod["accepted"],
        "records_by_stream": path["produced"],
        "records_read_by_flink": path["read_by_flink"],
        "alerts_delivered": path["alerts_delivered"],
        "alert_duplicates": path["alert_duplicates"],
        "alert_recall": path["alert_recall"],
        "alert_precision": path["alert_precision"],
        "p50_event_to_alert_ms": report["latency"].get("p50_ms"),
        "p99_event_to_alert_ms": report["latency"].get("p99_ms"),
        "achieved_events_per_s": prod["achieved_events_per_s"],
        "target_events_per_s": prod["target_events_per_s"],
        "producers": prod["producers"],
        "producers_concurrent": report["run"]["producers_concurrent"],
        "source_caught_up_after_s": path["caught_up_after_s"],
    }
    for slo in report["slos"]:
        facts[f"slo_{slo['name']}"] = (f"{slo['status']} (observed {slo['observed']}, "
                                       f"limit {slo['threshold']})")
    facts.update(report.get("artifacts", {}))  # report_json, chart_png, summary_md, s3_prefix
    return facts


def report_path(cfg: PlatformConfig, run_id: str) -> Path:
    return cfg.state_path / "reports" / "load-test" / _safe(run_id) / "report.json"
