"""Every panel of the Grafana dashboard answers with data from the local Prometheus while
the fraud job runs on Kinesis (the emulator) with malformed events mixed in: a query with
an error or no data fails the test, naming the panel. No dead panels."""

from __future__ import annotations

import json
import time

import psutil
import pytest
import requests

from flink_platform.config import PROJECT_ROOT

from .kinesis_job import fraud_job_on_kinesis

pytestmark = [pytest.mark.flink, pytest.mark.slow]
DASHBOARD = PROJECT_ROOT / "include" / "monitoring" / "dashboards" / "flink-platform.json"


def panel_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target of every panel."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [(p["title"], t["expr"]) for p in panels for t in p["targets"]]


def failing_panels(prometheus: str) -> dict[str, str]:
    """{panel title: why} for each query that errs or returns no series."""
    failures = {}
    for title, expr in panel_queries():
        try:
            body = requests.get(f"{prometheus}/api/v1/query", params={"query": expr},
                                timeout=10).json()
        except (requests.RequestException, ValueError) as err:
            failures[title] = f"query failed: {err}"
            continue
        if body.get("status") != "success":
            failures[title] = f"error: {body.get('error')} ({expr})"
        elif not body["data"]["result"]:
            failures[title] = f"no data: {expr}"
    return failures


def operator_names(prometheus: str) -> list[str]:
    """Distinct operator_name labels Prometheus has (to fix a selector that matches none)."""
    resp = requests.get(f"{prometheus}/api/v1/label/operator_name/values", timeout=10)
    return resp.json().get("data", [])


def footprint(prometheus: str, local_stack) -> dict[str, float]:
    """What monitoring costs here: Prometheus RSS, scrape and rule-evaluation durations."""
    def scalar(expr: str) -> float:
        result = requests.get(f"{prometheus}/api/v1/query", params={"query": expr},
                              timeout=10).json()["data"]["result"]
        return float(result[0]["value"][1]) if result else float("nan")

    rss = psutil.Process(local_stack.record("prometheus")["pid"]).memory_info().rss
    return {"prometheus_rss_mib": round(rss / 2**20, 1),
            "scrape_duration_max_s": scalar(
                'max(max_over_time(scrape_duration_seconds{job="flink"}[5m]))'),
            "samples_per_scrape": scalar('sum(scrape_samples_scraped{job="flink"})'),
            "rule_groups_eval_s": scalar("sum(prometheus_rule_group_last_duration_seconds)")}


def test_every_panel_has_data_while_the_job_runs(platform_config, clean_moto, flink_cluster,
                                                 monitoring, local_stack, tmp_path):
    prometheus, _ = monitoring
    with fraud_job_on_kinesis(platform_config, clean_moto, flink_cluster, tmp_path) as run:
        deadline = time.monotonic() + 180
        failures = failing_panels(prometheus)
        while failures and time.monotonic() < deadline:
            time.sleep(5)
            failures = failing_panels(prometheus)
        assert not failures, "dashboard panels without data:\n" + "\n".join(
            f"  {title}: {why}" for title, why in failures.items()) + (
            f"\noperators reporting: {operator_names(prometheus)}")
        print(f"monitoring footprint: {footprint(prometheus, local_stack)}")
        load_test_series_read_back(prometheus, flink_cluster)
        # alerts of two rules committed before the producer stops, so the counters are
        # compared on more than one rule (how far the stream got by now varies with speed:
        # one slow run had only small_then_large)
        deadline = time.monotonic() + 120
        while (len(committed_counts(tmp_path, "alerts/fraud-detection", "rule_id")) < 2
               and time.monotonic() < deadline):
            time.sleep(2)  # poll interval
        run.producer.stop.set()
        counters_match_the_committed_rows(prometheus, tmp_path)


def load_test_series_read_back(prometheus: str, flink_cluster: str) -> None:
    """The load test's figures come from this Prometheus (query_range): every one has
    points for the running job, and one it cannot read fails, naming the figure."""
    from flink_platform.loadtest.prometheus_series import (
        FIGURES,
        PrometheusRange,
        PrometheusSeriesError,
        read_job_series,
    )
    from flink_platform.loadtest.sampler import FlinkMetricsSampler, JobTarget

    sampler = FlinkMetricsSampler([JobTarget("fraud-detection", flink_cluster)],
                                  kinesis_lag=True)
    sampler.sample()
    plan = sampler.plans["fraud-detection"]
    assert plan["sources"] and plan["sinks"], plan
    prom, now = PrometheusRange(prometheus), time.time()
    got = read_job_series(prom, {"fraud-detection": plan}, now - 60, now, 5.0)
    series = got["fraud-detection"]["series"]
    assert set(series) == set(FIGURES) and all(series[f] for f in FIGURES), series
    assert max(v for _, v in series["records_in_per_s"]) > 0, series["records_in_per_s"]
    gone = {**plan, "job_id": "0" * 32}
    with pytest.raises(PrometheusSeriesError, match="records_in_per_s of fraud-detection"):
        read_job_series(prom, {"fraud-detection": gone}, now - 60, now, 5.0)


def committed_counts(output, path: str, column: str) -> dict[str, int]:
    """Rows per ``column`` value in the committed part files under ``output/path``."""
    counts: dict[str, int] = {}
    for part in (output / path).rglob("*"):
        if part.is_file() and not part.name.startswith("."):
            for line in part.read_text().splitlines():
                key = json.loads(line)[column]
                counts[key] = counts.get(key, 0) + 1
    return counts


def counter_values(prometheus: str, metric: str, label: str) -> dict[str, int]:
    body = requests.get(f"{prometheus}/api/v1/query", timeout=10, params={
        "query": f'sum by ({label}) ({metric}{{job_name="fraud_detection"}})'}).json()
    return {r["metric"][label]: int(float(r["value"][1])) for r in body["data"]["result"]}


def counters_match_the_committed_rows(prometheus: str, output) -> None:
    """The jobs' per-rule and per-reason counters (COUNTED_AS) count each row once: with the
    producer stopped, they settle at the committed alerts by rule_id and dead letters by
    reason (no restart happened, so nothing was counted twice)."""
    pairs = (("flink_taskmanager_job_task_operator_rule_id_alerts", "rule_id",
              "alerts/fraud-detection", "rule_id"),
             ("flink_taskmanager_job_task_operator_reason_dead_letters", "reason",
              "dead-letter/fraud-detection", "reason"))
    deadline = time.monotonic() + 90
    while True:
        got = [(counter_values(prometheus, metric, label), committed_counts(output, path, col))
               for metric, label, path, col in pairs]
        if all(metrics == rows and rows for metrics, rows in got):
            break
        if time.monotonic() > deadline:
            raise AssertionError("counters (Prometheus) vs committed rows (files): " + "; ".join(
                f"{label}: {metrics} vs {rows}" for (_, label, _, _), (metrics, rows)
                in zip(pairs, got, strict=True)))
        time.sleep(2)
    alerts, dead = got[0][1], got[1][1]
    assert len(alerts) >= 2 and "bad_json" in dead, (alerts, dead)
