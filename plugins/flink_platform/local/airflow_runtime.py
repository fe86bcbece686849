"""The Airflow runtime of the local stack: scheduler, dag-processor, triggerer, api-server.

``airflow db migrate`` runs before the components only when the metadata DB may need it:
an up-to-date DB still costs the migrate command ~5 s of CPU, on the start-up's critical
path while the Flink JVMs start beside it. After a start, ``<AIRFLOW_HOME>/migrated.json``
records the installed Airflow version and the DB's Alembic revision; while both still
match, the next start skips the command. A new Airflow, a new or replaced DB, a missing
stamp: it runs.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from contextlib import closing
from importlib.metadata import version
from pathlib import Path

import requests

from flink_platform.config import PlatformConfig
from flink_platform.local.env import airflow_home


def airflow_url(cfg: PlatformConfig) -> str:
    return f"http://127.0.0.1:{cfg.local.airflow_port}"


def _schema(cfg: PlatformConfig) -> dict[str, str] | None:
    """The installed Airflow's version and the metadata DB's Alembic revision; None when
    the DB is missing or has no revision."""
    db = airflow_home(cfg) / "airflow.db"
    if not db.exists():
        return None
    try:
        with closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=5)) as conn:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return None
    return {"airflow": version("apache-airflow"), "revision": row[0]} if row else None


def schema_current(cfg: PlatformConfig) -> bool:
    """The DB is at the revision this Airflow left after its last start (the stamp)."""
    try:
        stamp = json.loads((airflow_home(cfg) / "migrated.json").read_text())
    except (OSError, ValueError):
        return False
    return (schema := _schema(cfg)) is not None and stamp == schema


def airflow_healthy(cfg: PlatformConfig) -> bool:
    """The api-server answers its health check; then the DB is migrated (the components
    start after the migration), so the stamp is written."""
    try:
        resp = requests.get(f"{airflow_url(cfg)}/api/v2/monitor/health", timeout=2)
    except requests.RequestException:
        return False
    if resp.status_code != 200:
        return False
    if not schema_current(cfg) and (schema := _schema(cfg)) is not None:
        (airflow_home(cfg) / "migrated.json").write_text(json.dumps(schema))
    return True


def airflow_command(cfg: PlatformConfig) -> list[str]:
    """What `airflow standalone` runs, bound to 127.0.0.1, in one process group.

    Standalone's scheduler and triggerer start Airflow's log server, which listens on every
    interface with no option to change it; with local log files it is not needed, so the
    components run with --skip-serve-logs. The API server binds 127.0.0.1.
    """
    airflow = str(Path(sys.executable).parent / "airflow")
    migrate = "" if schema_current(cfg) else f"{airflow} db migrate >/dev/null && "
    script = (
        f"{migrate}"
        f"{{ {airflow} scheduler --skip-serve-logs & {airflow} dag-processor & "
        f"{airflow} triggerer --skip-serve-logs & "
        f"{airflow} api-server --host 127.0.0.1 --port {cfg.local.airflow_port} & wait; }}"
    )
    return ["/bin/sh", "-c", script]
