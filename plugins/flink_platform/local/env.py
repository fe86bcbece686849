"""Environment of the ``local`` target: Airflow settings and the moto-backed connection.

One place builds what the stack, the demo runner and the tests export, so that every
Airflow process (standalone, ``airflow dags test``, pytest) sees the same DAGs, plugins,
config and an ``aws_default`` connection that points every AWS service at moto.
The credentials are moto's dummy ``testing`` pair, not secrets.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from flink_platform.config import PROJECT_ROOT, PlatformConfig, load_config


def aws_connection(cfg: PlatformConfig) -> dict:
    """The ``aws_default`` connection of the local target, as Airflow's JSON form."""
    return {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {
            "region_name": cfg.region,
            "endpoint_url": cfg.local.moto_endpoint,
        },
    }


def moto_env() -> dict[str, str]:
    pythonpath = os.pathsep.join([str(PROJECT_ROOT / "plugins"), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true", "PYTHONPATH": pythonpath}


def airflow_home(cfg: PlatformConfig) -> Path:
    """AIRFLOW_HOME of the local target; its metadata DB is ``airflow.db`` in it."""
    return cfg.state_path / "airflow"


def airflow_settings(cfg: PlatformConfig | None = None) -> dict[str, str]:
    """Only the variables this project sets (for ``os.environ.update`` or a child env)."""
    cfg = cfg or load_config("local")
    home = airflow_home(cfg)
    pythonpath = os.pathsep.join(
        [str(PROJECT_ROOT), str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT / "dags")]
    )
    settings = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(cfg.local.airflow_port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{cfg.local.airflow_port}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        # the scheduler looks for finished tasks every 0.25 s when idle (default 1 s): each
        # of a lifecycle's ~60 serial task hand-overs waits on it (bench/bench_demo.py)
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.25",
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws_connection(cfg)),
        "AWS_DEFAULT_REGION": cfg.region,
        "FLINK_PLATFORM_TARGET": "local",
        "NO_PROXY": "127.0.0.1,localhost",
        "PYTHONPATH": pythonpath,
    }
    for key in ("FLINK_PLATFORM_CONFIG", "FLINK_PLATFORM_OVERRIDES", "FLINK_PLATFORM_FLINK_VENV"):
        if key in os.environ:
            settings[key] = os.environ[key]
    return settings


def airflow_env(cfg: PlatformConfig | None = None) -> dict[str, str]:
    """A full child-process environment for Airflow commands of the local target.

    The venv's bin/ leads PATH: `airflow standalone` starts its components as `airflow ...`.
    """
    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join([venv_bin, os.environ.get("PATH", "/usr/bin:/bin")])
    return {**os.environ, **airflow_settings(cfg), "PATH": path}
