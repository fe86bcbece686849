"""The real Airflow runtime for tests: scheduler, dag-processor, triggerer and api-server
(``make airflow``'s stack, on the test session's own port and state dir), driven over REST.

The runtime gets one config change, through the config (never by editing a DAG): the
savepoint DAG's schedule is every minute (``flink.savepoint_schedule``), so a test can see
the scheduler start it. The DAG stays paused until a test unpauses it.
"""

from __future__ import annotations

import json
import os

import pytest

from flink_platform.local.airflow_api import AirflowApi

DAG_IDS = ["platform_provision", "flink_deploy", "flink_savepoint_upgrade",
           "platform_load_test", "platform_teardown"]
RUNTIME_OVERRIDES = {"flink.savepoint_schedule": "* * * * *"}


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
