"""The real Airflow runtime for tests: scheduler, dag-processor, triggerer and api-server
(``make airflow``'s stack, on the test session's own port and state dir), driven over REST."""

from __future__ import annotations

import pytest

from flink_platform.local.airflow_api import AirflowApi

DAG_IDS = ["platform_provision", "flink_deploy", "flink_savepoint_upgrade",
           "platform_load_test", "platform_teardown"]


@pytest.fixture(scope="session")
def airflow_api(local_stack):
    """An AirflowApi on the running runtime, once every DAG is parsed; stopped at the end
    of the session by local_stack (process group)."""
    local_stack.start("airflow")
    api = AirflowApi(f"http://127.0.0.1:{local_stack.cfg.local.airflow_port}")
    api.wait_dags(DAG_IDS)
    return api
