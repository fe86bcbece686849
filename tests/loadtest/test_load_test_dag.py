"""A short local load test end to end: ``platform_load_test`` with ``dag.test()``.

Real pieces only: moto over HTTP (stream and bucket made here, as the provision DAG
would), the local Flink cluster running the stand-in job through the real adapter.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import STANDIN_RATE, STANDIN_VERSION, aws_client, create_stream, wait_ready

REPORT_KEYS = {"report_version", "run", "plan", "producers", "flink", "latency", "timeseries",
               "slos", "passed", "artifacts"}


@pytest.fixture()
def provisioned(clean_moto, platform_config):
    kinesis = aws_client("kinesis", clean_moto, platform_config.region)
    stream = platform_config.resource_name(platform_config.streams.trading_events.name)
    create_stream(kinesis, stream, platform_config.streams.trading_events.shards)
    s3 = aws_client("s3", clean_moto, platform_config.region)
    bucket = platform_config.resource_name(platform_config.bucket.name)
    s3.create_bucket(Bucket=bucket)
    return {"kinesis": kinesis, "s3": s3, "stream": stream, "bucket": bucket}


def _run(conf: dict):
    import platform_load_test  # dags/ is on sys.path (conftest)

    return platform_load_test.dag.test(run_conf=conf)


def test_short_load_test_writes_report_chart_and_summary(airflow_db, provisioned, standin_job,
                                                         platform_config):
    """Drives the job's generator to 300/s for the run and back to 400/s after, keeping
    the deployed version; 2 producers send 1,500 events; report, chart and summary land."""
    conf = {"target_events_per_s": 300, "duration_s": 5, "producers": 2,
            "ramp_steps": 1, "jobs": ["fraud-detection"], "slo_max_backpressure_ratio": 0.9}
    run = _run(conf)
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "success", states
    deployed = standin_job.record("fraud-detection")["spec"]["job"]
    assert (deployed["version"], deployed["events_per_s"]) == (STANDIN_VERSION, STANDIN_RATE)
    wait_ready(standin_job)

    from flink_platform.reporting import read_stage_summaries

    facts = read_stage_summaries(platform_config)["platform_load_test"]
    report_path = Path(facts["report_json"])
    report = json.loads(report_path.read_text())
    assert REPORT_KEYS <= set(report) and facts["s3_prefix"].startswith("s3://")
    prod = report["producers"]
    assert prod["accepted"] == prod["planned_events"] == 300 * 5 and prod["failed"] == 0
    assert prod["producers"] == 2 and len(prod["per_producer"]) == 2
    job = report["flink"]["jobs"]["fraud-detection"]
    assert job["samples"] >= 3 and job["records_in_per_s"]["avg"] > 0
    assert job["checkpoints"]["completed"] >= 1
    assert {s["name"] for s in report["slos"]} == {
        "max_p99_latency_ms", "max_backpressure_ratio", "zero_failed_records", "min_achieved_ratio"}
    assert report["passed"] is True and facts["passed"] is True
    assert "generator source was driven at the target rate (300" in report["flink"]["mode"]
    assert report["run"]["flink_targets"][0]["driven"] is True

    chart = report_path.with_name("chart.png")
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 10_000
    summary = report_path.with_name("summary.md").read_text()
    assert "PASS" in summary and "| events/s |" in summary
    listed = provisioned["s3"].list_objects_v2(Bucket=provisioned["bucket"],
                                               Prefix="reports/load-test/")
    assert {Path(o["Key"]).name for o in listed.get("Contents", [])} == {
        "report.json", "chart.png", "summary.md"}


def test_slo_breach_fails_the_run_naming_it(airflow_db, provisioned, platform_config):
    """50,000 events/s into the emulator (a few thousand/s at best) misses the plan."""
    conf = {"target_events_per_s": 50_000, "duration_s": 5, "producers": 1, "jobs": [],
            "slo_min_achieved_ratio": 0.9, "restore_job_rates": False}
    run = _run(conf)
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert run.state == "failed" and states["enforce_slos"] == "failed", states
    assert states["build_load_report"] == "success"

    from flink_platform.reporting import read_stage_summaries

    facts = read_stage_summaries(platform_config)["platform_load_test"]
    assert facts["passed"] is False
    assert facts["slo_min_achieved_ratio"].startswith("fail")
    report = json.loads(Path(facts["report_json"]).read_text())
    [breach] = [s for s in report["slos"] if s["status"] == "fail"]
    assert breach["name"] == "min_achieved_ratio" and "short by" in breach["detail"]
    assert {s["status"] for s in report["slos"] if s["name"] == "max_backpressure_ratio"} == {
        "not_measured"}
