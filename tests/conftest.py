"""Shared fixtures: the test suite runs its own local stack on its own ports and state dir.

The overrides below are set before anything loads the platform config: each pytest
session gets free ports and its own state dir under .local/test/, so a developer's running
`make stack-up` (default ports, .local/) and parallel test sessions never collide. Servers are
started once per session, each in its own process group, and stopped at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

PROJECT_ROOT = Path(__file__).resolve().parents[1]
for _path in (PROJECT_ROOT / "dags", PROJECT_ROOT / "plugins", PROJECT_ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from flink_platform.local.ports import free_port_block


def _test_overrides() -> dict:
    """Ports and a state dir of this pytest session only: parallel sessions never collide."""
    base = free_port_block(8, seed=os.getpid())
    return {
        "local.state_dir": f".local/test/session-{os.getpid()}",
        "local.moto_port": base,
        "local.flink_rest_port": base + 1,
        "local.flink_rpc_port": base + 2,
        "local.prometheus_ports": f"{base + 3}-{base + 4}",
        "local.airflow_port": base + 5,
        "local.prometheus_port": base + 6,
        "local.alertmanager_port": base + 7,
    }


if "FLINK_PLATFORM_OVERRIDES" not in os.environ:
    os.environ["FLINK_PLATFORM_OVERRIDES"] = json.dumps(_test_overrides())
os.environ.setdefault("FLINK_PLATFORM_TARGET", "local")

# imported only now: the platform config reads the overrides above
from flink_platform.config import load_config
from flink_platform.local.env import airflow_settings
from flink_platform.local.stack import LocalStack

os.environ.update(airflow_settings(load_config()))


@pytest.fixture(scope="session")
def platform_config():
    return load_config()


@pytest.fixture(scope="session")
def local_stack(platform_config):
    """The test LocalStack; services start on demand via the fixtures below."""
    stack = LocalStack(platform_config)
    yield stack
    stack.down()
    if not os.environ.get("FLINK_PLATFORM_KEEP_TEST_STATE"):
        shutil.rmtree(platform_config.state_path, ignore_errors=True)


@pytest.fixture(scope="session")
def moto_server(local_stack):
    """moto server over HTTP on 127.0.0.1; yields its endpoint URL."""
    local_stack.start("moto")
    return f"http://127.0.0.1:{local_stack.cfg.local.moto_port}"


@pytest.fixture()
def clean_moto(moto_server):
    """Reset every moto backend before the test: each test starts from an empty account."""
    requests.post(f"{moto_server}/moto-api/reset", timeout=60).raise_for_status()
    return moto_server


@pytest.fixture(scope="session")
def flink_cluster(local_stack):
    """A real Flink standalone session cluster; yields its REST URL."""
    local_stack.start("jobmanager")
    local_stack.start("taskmanager")
    return f"http://127.0.0.1:{local_stack.cfg.local.flink_rest_port}"


@pytest.fixture(scope="session")
def prometheus(local_stack, moto_server):
    """The stack's Prometheus, scraping the Flink reporters (and Alertmanager, where its
    alerts go): the load test reads its time series there. Yields the server's URL."""
    from flink_platform.local.monitoring import prometheus_url

    local_stack.start("alertmanager")
    local_stack.start("prometheus")
    return prometheus_url(local_stack.cfg)


@pytest.fixture(scope="session")
def airflow_db(platform_config):
    """A migrated Airflow metadata DB (sqlite under the test state dir) for dag.test()."""
    subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
        env={**os.environ}, check=True, capture_output=True, timeout=600,
    )
    return platform_config


@pytest.fixture(scope="module")
def provisioned(moto_server, flink_cluster, airflow_db, platform_config):
    """A freshly provisioned local platform (platform_provision with dag.test() on a reset
    emulator): its streams, bucket and topic exist and its ``platform_provisioned`` event
    is in the Airflow DB, so flink_deploy runs on it. Yields the published DataPlane."""
    import platform_provision
    from flink_platform.data_plane import DataPlane

    requests.post(f"{moto_server}/moto-api/reset", timeout=60).raise_for_status()
    run = platform_provision.dag.test()
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "success", states
    facts = run.get_task_instance("publish_platform").xcom_pull(task_ids="publish_platform")
    return DataPlane.from_provisioned(facts, moto_server)
