"""Exactly-once under failure: kill the TaskManager mid-run, the committed alerts stay exact."""

from __future__ import annotations

import os
import signal
from collections import Counter

import pytest

from include.flink_jobs.streaming_events import ground_truth

from .flink_client import (
    completed_checkpoints,
    job,
    read_output,
    restored_checkpoints,
    submit,
    wait_state,
    wait_until,
)

SEED, COUNT, RATE = 5, 30_000, 2500

pytestmark = [pytest.mark.flink, pytest.mark.slow]


def expected_alert_ids() -> tuple[Counter, set[str]]:
    """Each scenario's alerts: velocity flags its 9th..12th transaction, others the trigger."""
    truth = ground_truth(SEED, 0, COUNT)
    ids = Counter()
    for scenario in truth.scenarios:
        triggers = scenario.event_ids[8:] if scenario.rule == "velocity" else (
            scenario.trigger_event_id,)
        ids.update(f"{scenario.rule}:{event_id}" for event_id in triggers)
    return ids, truth.partial_users


def test_alerts_are_exactly_once_when_the_taskmanager_is_killed(
        platform_config, local_stack, flink_cluster, submitted_jobs, tmp_path):
    job_id = submit(platform_config, "fraud_detection", tmp_path, source="generator",
                    events_per_s=RATE, checkpoint="2s",
                    sets={"seed": SEED, "max_events": COUNT})
    submitted_jobs.append(job_id)
    wait_state(flink_cluster, job_id, {"RUNNING"}, timeout_s=120)
    wait_until(lambda: completed_checkpoints(flink_cluster, job_id) >= 2, 120,
               "two completed checkpoints before the failure")
    assert job(flink_cluster, job_id)["state"] == "RUNNING"

    os.killpg(local_stack.record("taskmanager")["pgid"], signal.SIGKILL)
    wait_until(lambda: not local_stack.running("taskmanager"), 30, "TaskManager gone")
    local_stack.start("taskmanager")
    wait_state(flink_cluster, job_id, {"FINISHED"}, timeout_s=300)

    assert restored_checkpoints(flink_cluster, job_id) >= 1
    expected, partial = expected_alert_ids()
    alerts = read_output(tmp_path, "alerts/fraud-detection")
    got = Counter(a["alert_id"] for a in alerts if a["user_id"] not in partial)
    duplicates = {k: n for k, n in got.items() if n > 1}
    assert not duplicates, f"duplicated alerts: {duplicates}"
    assert set(got) == set(expected), (sorted(set(expected) - set(got))[:5],
                                       sorted(set(got) - set(expected))[:5])
