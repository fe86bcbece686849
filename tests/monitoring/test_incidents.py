"""Incidents on a running job reach a person: the fraud job runs on Kinesis (emulator), the
local Prometheus evaluates the platform rules, Alertmanager publishes to the SNS topic, an
SQS queue subscribed to it reads the notification back.

1. a flood of malformed events: FlinkDeadLetterRateHigh fires, the job keeps running;
2. the TaskManager killed (SIGKILL) and restarted: FlinkJobRestarting and
   FlinkCheckpointsFailing fire, the restart's SNS message arrives; once the job runs and
   checkpoints again, both clear (5 minutes after the last restart / failure: their
   windows) and the resolved notification reaches the topic.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
import requests
from flink_jobs.flink_client import completed_checkpoints, job_state, wait_state, wait_until

from .kinesis_job import fraud_job_on_kinesis

pytestmark = [pytest.mark.flink, pytest.mark.slow]
JOB = "fraud_detection"  # Flink's reporter turns every character but [A-Za-z0-9_:] into _


def dead_letter_rate(prometheus: str, series: str = "rate1m") -> float | None:
    result = requests.get(f"{prometheus}/api/v1/query", timeout=10, params={
        "query": f'flink_platform:dead_letters:{series}{{job_name="{JOB}"}}'}).json()
    rows = result["data"]["result"]
    return float(rows[0]["value"][1]) if rows else None


def firing(prometheus: str, alertname: str) -> list[dict]:
    alerts = requests.get(f"{prometheus}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
    return [a for a in alerts
            if a["labels"]["alertname"] == alertname and a["state"] == "firing"]


def _named(alertname: str):
    return lambda body: any(a["alertname"] == alertname for a in body["alerts"])


def test_a_malformed_flood_fires_the_dead_letter_alert_and_the_job_keeps_running(
        platform_config, clean_moto, flink_cluster, monitoring, alert_queue, tmp_path):
    prometheus, _ = monitoring
    with fraud_job_on_kinesis(platform_config, clean_moto, flink_cluster, tmp_path,
                              malformed_every=0) as run:
        wait_until(lambda: completed_checkpoints(flink_cluster, run.job_id), 60,
                   "a first checkpoint")
        # normal traffic dead-letters its late events (about 1% of the input, 1-3/s here):
        # the alert is relative, so the baseline must stay under its 5% ratio
        baseline = wait_until(lambda: dead_letter_rate(prometheus, "ratio1m") is not None
                              and [dead_letter_rate(prometheus, "ratio1m")], 90,
                              "a dead-letter ratio")[0]
        assert baseline < 0.05, f"{baseline:.1%} of the input dead-lettered without malformed"
        assert not firing(prometheus, "FlinkDeadLetterRateHigh")
        run.producer.malformed_every = 2  # the flood: every other line malformed
        started = time.monotonic()
        [alert] = wait_until(lambda: firing(prometheus, "FlinkDeadLetterRateHigh"), 360,
                             "FlinkDeadLetterRateHigh firing")
        print(f"dead-letter alert firing {time.monotonic() - started:.0f}s into the flood, "
              f"{float(alert['value']):.0%} of the input dead-lettered")
        assert alert["labels"]["job_name"] == JOB
        assert time.monotonic() - started >= 120  # for: 2m
        assert job_state(flink_cluster, run.job_id) == "RUNNING"
        # the firing notification (a resolved one may follow it, or arrive first off SQS)
        body = alert_queue(lambda b: b["status"] == "firing"
                           and _named("FlinkDeadLetterRateHigh")(b))
        assert body["alerts"][0]["job_name"] == JOB
        assert job_state(flink_cluster, run.job_id) == "RUNNING"


def test_killing_the_taskmanager_fires_the_restart_alert_and_reaches_the_topic(
        platform_config, clean_moto, flink_cluster, monitoring, alert_queue, local_stack,
        tmp_path):
    prometheus, _ = monitoring
    with fraud_job_on_kinesis(platform_config, clean_moto, flink_cluster, tmp_path) as run:
        wait_until(lambda: completed_checkpoints(flink_cluster, run.job_id), 60,
                   "a first checkpoint")
        assert not firing(prometheus, "FlinkJobRestarting")
        os.killpg(local_stack.record("taskmanager")["pgid"], signal.SIGKILL)
        wait_until(lambda: not local_stack.running("taskmanager"), 30, "taskmanager gone")
        local_stack.start("taskmanager")
        started = time.monotonic()
        [alert] = wait_until(lambda: firing(prometheus, "FlinkJobRestarting"), 180,
                             "FlinkJobRestarting firing")
        print(f"restart alert firing {time.monotonic() - started:.0f}s after the restart")
        assert alert["labels"]["job_name"] == JOB
        # checkpoints in flight on the killed TaskManager, and those triggered before the
        # job ran again, failed
        [failing] = wait_until(lambda: firing(prometheus, "FlinkCheckpointsFailing"), 150,
                               "FlinkCheckpointsFailing firing")
        assert failing["labels"]["job_name"] == JOB
        body = alert_queue(_named("FlinkJobRestarting"))
        assert body["alerts"][0]["severity"] == "critical"
        wait_state(flink_cluster, run.job_id, {"RUNNING"}, timeout_s=120)
        # recovered: both clear once the restart and the failures leave their 5-minute
        # windows, and the topic gets the resolved notification
        wait_until(lambda: completed_checkpoints(flink_cluster, run.job_id), 60,
                   "a checkpoint after the restart")
        wait_until(lambda: not firing(prometheus, "FlinkJobRestarting")
                   and not firing(prometheus, "FlinkCheckpointsFailing"), 480,
                   "FlinkJobRestarting and FlinkCheckpointsFailing cleared")
        print(f"both alerts cleared {time.monotonic() - started:.0f}s after the restart")
        assert job_state(flink_cluster, run.job_id) == "RUNNING"
        resolved = alert_queue(lambda b: b["status"] == "resolved"
                               and _named("FlinkJobRestarting")(b), timeout_s=150)
        assert resolved["alerts"][0]["job_name"] == JOB
