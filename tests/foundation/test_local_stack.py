"""The embedded stack: up -> healthy -> down leaves nothing; idempotent up; port clashes.

These tests run a second LocalStack with its own ports and state dir, so the session's
shared servers (conftest) are untouched. Real processes, real ports, no mocks.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import psutil
import pytest

from flink_platform.config import apply_overrides, read_raw_config, validate_config
from flink_platform.local.flink_dist import StackError
from flink_platform.local.ports import free_port_block, port_in_use
from flink_platform.local.stack import CORE_SERVICES, LocalStack


@pytest.fixture()
def own_stack(tmp_path):
    base = free_port_block(8)
    cfg = validate_config(apply_overrides(read_raw_config("local"), {
        "local.state_dir": str(tmp_path / "state"),
        "local.moto_port": base, "local.flink_rest_port": base + 1,
        "local.flink_rpc_port": base + 2, "local.prometheus_ports": f"{base + 3}-{base + 4}",
        "local.airflow_port": base + 5, "local.prometheus_port": base + 6,
        "local.alertmanager_port": base + 7,
    }))
    stack = LocalStack(cfg)
    yield stack
    stack.down()


def _group_members(pgid: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def _listening_addresses(pids: list[int]) -> set[tuple[str, int]]:
    found = set()
    for pid in pids:
        for conn in psutil.Process(pid).net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN:
                found.add((conn.laddr.ip, conn.laddr.port))
    return found


def _wait_until(predicate, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


@pytest.mark.flink
def test_up_healthy_down_leaves_no_process_and_no_port(own_stack):
    local = own_stack.cfg.local
    report = own_stack.up()
    assert all(state.startswith("healthy") for state in report.values()), report
    pgids = {name: own_stack.record(name)["pgid"] for name in CORE_SERVICES}
    ports = [local.moto_port, local.flink_rest_port, local.flink_rpc_port,
             local.prometheus_port, local.alertmanager_port]
    assert all(port_in_use(p) for p in ports)
    listening = _listening_addresses([pid for g in pgids.values() for pid in _group_members(g)])
    prometheus = range(*(int(p) + i for i, p in enumerate(local.prometheus_ports.split("-"))))
    assert set(prometheus) <= {port for _, port in listening}, "metrics reporter not listening"
    assert {ip for ip, _ in listening} <= {"127.0.0.1", "::ffff:127.0.0.1"}, listening

    stopped = own_stack.down()

    assert set(stopped) == set(CORE_SERVICES)
    for name, pgid in pgids.items():
        assert _wait_until(lambda pgid=pgid: not _group_members(pgid)), f"{name} left processes"
    assert not any(port_in_use(p) for p in ports)
    assert all(state == "stopped" for state in own_stack.status().values())


@pytest.mark.flink
def test_up_twice_starts_no_duplicates(own_stack):
    own_stack.up()
    first = {name: own_stack.record(name)["pid"] for name in CORE_SERVICES}
    own_stack.up()
    second = {name: own_stack.record(name)["pid"] for name in CORE_SERVICES}
    assert first == second
    overview = __import__("requests").get(
        f"http://127.0.0.1:{own_stack.cfg.local.flink_rest_port}/overview", timeout=5).json()
    assert overview["taskmanagers"] == 1


def test_port_in_use_gives_a_clear_error(own_stack):
    port = own_stack.cfg.local.moto_port
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen(1)
        with pytest.raises(StackError) as err:
            own_stack.start("moto")
    message = str(err.value)
    assert f"port {port}" in message and "local.moto_port" in message
    assert "include/config/local.yaml" in message
    assert own_stack.record("moto") is None


def test_down_when_nothing_runs_is_a_no_op(own_stack):
    assert own_stack.down() == []


def test_airflow_start_skips_db_migrate_only_while_the_schema_stamp_matches(tmp_path):
    """The runtime's start runs `airflow db migrate` unless the DB is at the revision the
    stamp recorded for this Airflow version (local/airflow_runtime.py)."""
    import json
    import sqlite3

    from flink_platform.local.airflow_runtime import _schema, airflow_command, schema_current

    cfg = validate_config(apply_overrides(read_raw_config("local"), {
        "local.state_dir": str(tmp_path / "state")}))
    home = cfg.state_path / "airflow"
    home.mkdir(parents=True)
    assert not schema_current(cfg) and "db migrate" in airflow_command(cfg)[-1]  # no DB
    with sqlite3.connect(home / "airflow.db") as db:
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        db.execute("INSERT INTO alembic_version VALUES ('rev-a')")
    assert not schema_current(cfg), "no stamp yet"
    (home / "migrated.json").write_text(json.dumps(_schema(cfg)))
    assert schema_current(cfg) and "db migrate" not in airflow_command(cfg)[-1]
    with sqlite3.connect(home / "airflow.db") as db:  # another DB, or an older one
        db.execute("UPDATE alembic_version SET version_num = 'rev-b'")
    assert not schema_current(cfg) and "db migrate" in airflow_command(cfg)[-1]
    (home / "migrated.json").write_text(json.dumps({**_schema(cfg), "airflow": "2.0.0"}))
    assert not schema_current(cfg), "a stamp of another Airflow version"
