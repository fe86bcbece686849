"""The real Airflow runtime for tests: scheduler, dag-processor, triggerer and api-server
(``make airflow``'s stack, on the test session's own port and state dir), driven over REST.

The runtime gets config changes, through the config (never by editing a DAG): the
savepoint DAG's schedule is every minute (``flink.savepoint_schedule``), so a test can see
the scheduler start it, and the jobs checkpoint every 30 s, so the deploy's checkpoint
sensor has to wait. The DAG stays paused until a test unpauses it.
"""

from __future__ import annotations

import json
import os

import pytest

from flink_platform.local.airflow_api import AirflowApi

DAG_IDS = ["platform_provision", "flink_deploy", "flink_savepoint_upgrade",
           "platform_load_test", "platform_teardown"]
RUNTIME_OVERRIDES = {
    "flink.savepoint_schedule": "* * * * *",
    # the first checkpoint 30 s after a job starts: the deploy's checkpoint sensor then
    # certainly waits, and defers (with 5 s, a warm cluster had one before it first looked)
    "jobs.fraud-detection.checkpoint_interval_s": 30,
    "jobs.risk-analytics.checkpoint_interval_s": 30,
    # the sensors defer after their first check (the demo keeps 10 s in the worker first)
    "flink.defer_after_s": 0,
}


@pytest.fixture(scope="session")
def airflow_api(local_stack, prometheus):
    """An AirflowApi on the running runtime, once every DAG is parsed; stopped at the end
    of the session by local_stack (process group)."""
    before = os.environ["FLINK_PLATFORM_OVERRIDES"]
    os.environ["FLINK_PLATFORM_OVERRIDES"] = json.dumps({**json.loads(before),
                                                         **RUNTIME_OVERRIDES})
    try:
        local_stack.start("airflow")
    finally:
        os.environ["FLINK_PLATFORM_OVERRIDES"] = before
    api = AirflowApi(f"http://127.0.0.1:{local_stack.cfg.local.airflow_port}")
    api.wait_dags(DAG_IDS)
    return api
