"""fraud-detection on the real local cluster: rule recall/precision and the dead-letter path."""

from __future__ import annotations

from collections import defaultdict

import pytest

from include.flink_jobs.streaming_events import RULES, ground_truth

from .conftest import FRAUD_COUNT, FRAUD_MALFORMED, FRAUD_SEED
from .flink_client import (
    job_state,
    read_output,
    submit,
    wait_state,
    wait_until,
)

REASON_OF_KIND = {"bad_json": "bad_json", "missing_field": "missing_field:amount",
                  "negative_qty": "non_positive_qty", "unknown_symbol": "unknown_symbol"}

pytestmark = [pytest.mark.flink, pytest.mark.slow]


def test_rules_find_every_scenario_on_a_bounded_labelled_stream(
        platform_config, flink_cluster, fraud_dataset, submitted_jobs, tmp_path):
    job_id = submit(platform_config, "fraud_detection", tmp_path, source="file",
                    input_dir=fraud_dataset)
    submitted_jobs.append(job_id)
    wait_state(flink_cluster, job_id, {"FINISHED"}, timeout_s=240)

    truth = ground_truth(FRAUD_SEED, 0, FRAUD_COUNT, malformed_rate=FRAUD_MALFORMED)
    alerts = read_output(tmp_path, "alerts/fraud-detection")
    users_by_rule = defaultdict(set)
    for alert in alerts:
        users_by_rule[alert["rule_id"]].add(alert["user_id"])
        assert alert["detection_time_ms"] >= alert["ingest_ms"] > 0
        assert alert["user_txn_count"] >= 1 and alert["evidence"].startswith("{")
    for rule in RULES:
        expected = truth.users(rule)
        found = users_by_rule[rule] - truth.partial_users
        assert len(expected) >= 8, rule
        assert expected <= found, f"{rule}: missed {sorted(expected - found)}"
        false_positives = found - expected
        assert len(false_positives) <= 0.01 * len(found), f"{rule}: {sorted(false_positives)}"

    dead = read_output(tmp_path, "dead-letter/fraud-detection")
    by_raw = {row["raw_line"]: row["reason"] for row in dead}
    assert len(dead) >= len(truth.malformed)
    reasons = [row["reason"] for row in dead]
    for kind, reason in REASON_OF_KIND.items():
        expected = sum(1 for k in truth.malformed.values() if k == kind)
        assert reasons.count(reason) == expected, (kind, reasons.count(reason), expected)
    assert set(reasons) <= set(REASON_OF_KIND.values()) | {"late_event"}
    assert all(raw for raw in by_raw)

    counters = read_output(tmp_path, "user-counters/fraud-detection")
    per_user = defaultdict(list)
    for row in sorted(counters, key=lambda r: r["event_time_ms"]):
        per_user[row["user_id"]].append(row["user_txn_count"])
    assert set(per_user) == set(truth.canary_users)
    for counts in per_user.values():
        assert counts == list(range(1, len(counts) + 1))


def test_malformed_events_are_dead_lettered_while_the_job_keeps_running(
        platform_config, flink_cluster, submitted_jobs, tmp_path):
    job_id = submit(platform_config, "fraud_detection", tmp_path, source="generator",
                    events_per_s=2000, sets={"malformed_rate": 0.01, "seed": 3, "rollover": "2 s"})
    submitted_jobs.append(job_id)
    wait_state(flink_cluster, job_id, {"RUNNING"}, timeout_s=120)

    def every_reason_seen():
        reasons = {row["reason"] for row in read_output(tmp_path, "dead-letter/fraud-detection")}
        return set(REASON_OF_KIND.values()) <= reasons

    wait_until(every_reason_seen, 180, "dead-letter rows for every malformed kind")
    assert job_state(flink_cluster, job_id) == "RUNNING"
    for row in read_output(tmp_path, "dead-letter/fraud-detection"):
        assert row["source_stream"] == "trades" and row["raw_line"] and row["reason"]
