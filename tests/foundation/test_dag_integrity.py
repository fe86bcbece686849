"""DAG integrity: every DAG file imports cleanly, is owned, tagged, retried, and light.

"Light" is checked in a fresh interpreter per file: sockets raise on connect (no network
I/O at import) and no heavy module appears beyond what Airflow itself loads for a DAG
with an Asset (Airflow's providers manager pulls in boto3 for asset URI handlers).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flink_platform.dag_utils import NO_NETWORK_TASKS

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((PROJECT_ROOT / "dags").glob("*.py"))
HEAVY_MODULES = ("boto3", "botocore", "kubernetes", "kubernetes_asyncio", "matplotlib",
                 "pandas", "numpy", "pyflink", "moto", "kmock", "jinja2.sandbox")
LIFECYCLE_DAGS = {"platform_provision", "flink_deploy", "flink_savepoint_upgrade",
                  "platform_load_test", "platform_teardown"}

_PROBE = r"""
import json, socket, sys
sys.path[:0] = {paths!r}
import airflow.sdk
from airflow.sdk import Asset
Asset(name="baseline", uri="flink-platform://baseline")
baseline = set(sys.modules)
def _no_network(*args, **kwargs):
    raise RuntimeError("network I/O at DAG import: " + repr(args))
socket.socket.connect = _no_network
socket.socket.connect_ex = _no_network
socket.create_connection = _no_network
import importlib.util
spec = importlib.util.spec_from_file_location("dag_under_test", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
heavy = sorted(m for m in {heavy!r} if m in sys.modules and m not in baseline)
print("PROBE" + json.dumps({{"heavy": heavy}}))
"""


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags"))


def test_there_are_dag_files():
    assert DAG_FILES, "dags/ holds no DAG file"


def test_dagbag_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}, "\n".join(
        f"{path}: {err}" for path, err in dagbag.import_errors.items())
    assert len(dagbag.dags) >= len(DAG_FILES)


def test_every_dag_has_tags_owner_and_no_catchup(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        owners = {task.owner for task in dag.tasks}
        assert owners and "airflow" not in owners, f"{dag_id}: tasks without an owner: {owners}"
        assert not dag.catchup, f"{dag_id} catches up"


def test_tasks_that_call_the_network_retry(dagbag):
    missing = [f"{dag_id}.{task.task_id}" for dag_id, dag in dagbag.dags.items()
               for task in dag.tasks
               if task.task_id.split(".")[-1] not in NO_NETWORK_TASKS and task.retries < 1]
    assert not missing, f"tasks without retries: {missing}"


def test_each_lifecycle_stage_has_its_dag(dagbag):
    present = LIFECYCLE_DAGS & set(dagbag.dags)
    assert present, "no lifecycle DAG found"
    for dag_id in present:
        dag = dagbag.dags[dag_id]
        assert any(t.task_id.endswith("watcher") for t in dag.tasks), f"{dag_id} has no watcher"


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=[p.name for p in DAG_FILES])
def test_dag_file_import_is_light_and_offline(dag_file):
    paths = [str(PROJECT_ROOT), str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT / "dags")]
    code = _PROBE.format(paths=paths, path=str(dag_file), heavy=HEAVY_MODULES)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ}, timeout=120)
    assert proc.returncode == 0, f"{dag_file.name} failed to import offline:\n{proc.stderr[-3000:]}"
    probe = json.loads(proc.stdout.rsplit("PROBE", 1)[1])
    assert probe["heavy"] == [], (f"{dag_file.name} imports heavy modules at top level: "
                                  f"{probe['heavy']}")
