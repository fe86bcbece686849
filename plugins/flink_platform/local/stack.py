"""The embedded stack of the ``local`` target: moto server, a Flink session cluster,
Prometheus and Alertmanager (local/monitoring.py), Airflow.

``python -m flink_platform.local.stack up|down|status|airflow`` (``make stack-up`` ...).
Every service binds 127.0.0.1 and runs in its own process group, recorded in
``<state_dir>/stack/<service>.json``; ``down`` stops exactly those groups (SIGTERM, then
SIGKILL after a deadline). ``up`` is idempotent and waits for health with a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from flink_platform.config import PlatformConfig, load_config
from flink_platform.local.airflow_runtime import airflow_command, airflow_healthy, airflow_url
from flink_platform.local.env import airflow_env, moto_env
from flink_platform.local.flink_dist import (
    StackError,
    flink_env,
    flink_home,
    write_cluster_files,
)
from flink_platform.local.jars import JarLockError
from flink_platform.local.monitoring import (
    alertmanager_command,
    alertmanager_url,
    prometheus_command,
    prometheus_url,
    write_monitoring_files,
)
from flink_platform.local.ports import port_in_use

HEALTH_TIMEOUT_S = 120
STOP_TIMEOUT_S = 20


@dataclass(frozen=True)
class Service:
    """One supervised server: how to start it and how to tell it is healthy."""

    name: str
    config_field: str
    command: Callable[[PlatformConfig], list[str]]
    env: Callable[[PlatformConfig], dict[str, str]]
    healthy: Callable[[PlatformConfig], bool]
    url: Callable[[PlatformConfig], str]
    prepare: Callable[[PlatformConfig], object] | None = None  # writes its config files


def _get(url: str, timeout: float = 2.0) -> requests.Response | None:
    try:
        return requests.get(url, timeout=timeout)
    except requests.RequestException:
        return None


def moto_url(cfg: PlatformConfig) -> str:
    return cfg.local.moto_endpoint


def flink_rest_url(cfg: PlatformConfig) -> str:
    return cfg.local.flink_rest_url


def _moto_healthy(cfg: PlatformConfig) -> bool:
    # /moto-api/config, not data.json: data.json serializes every backend's state and
    # fails (HTTP 500) once an Elastic IP exists (moto 5.2: ElasticAddress is not JSON)
    resp = _get(f"{moto_url(cfg)}/moto-api/config")
    return resp is not None and resp.ok  # moto answers this GET with 201


def _jobmanager_healthy(cfg: PlatformConfig) -> bool:
    resp = _get(f"{flink_rest_url(cfg)}/overview")
    return resp is not None and resp.status_code == 200


def _taskmanager_healthy(cfg: PlatformConfig) -> bool:
    resp = _get(f"{flink_rest_url(cfg)}/overview")
    return resp is not None and resp.ok and resp.json().get("taskmanagers", 0) >= 1


def _ready(url: str) -> bool:
    resp = _get(f"{url}/-/ready")
    return resp is not None and resp.status_code == 200


SERVICES = {
    "moto": Service(
        "moto", "local.moto_port",
        command=lambda c: [sys.executable, "-m", "flink_platform.local.moto_server",
                           "-H", "127.0.0.1", "-p", str(c.local.moto_port)],
        env=lambda c: moto_env(),
        healthy=_moto_healthy, url=moto_url,
    ),
    "jobmanager": Service(
        "jobmanager", "local.flink_rest_port",
        command=lambda c: [str(flink_home() / "bin" / "jobmanager.sh"), "start-foreground"],
        env=flink_env, healthy=_jobmanager_healthy, url=flink_rest_url,
    ),
    "taskmanager": Service(
        "taskmanager", "",
        command=lambda c: [str(flink_home() / "bin" / "taskmanager.sh"), "start-foreground"],
        env=flink_env, healthy=_taskmanager_healthy, url=lambda c: "(registered with jobmanager)",
    ),
    "alertmanager": Service(
        "alertmanager", "local.alertmanager_port", command=alertmanager_command,
        env=lambda c: dict(os.environ), healthy=lambda c: _ready(alertmanager_url(c)),
        url=alertmanager_url, prepare=write_monitoring_files,
    ),
    "prometheus": Service(
        "prometheus", "local.prometheus_port", command=prometheus_command,
        env=lambda c: dict(os.environ), healthy=lambda c: _ready(prometheus_url(c)),
        url=prometheus_url, prepare=write_monitoring_files,
    ),
    "airflow": Service(
        "airflow", "local.airflow_port",
        command=airflow_command, env=airflow_env, healthy=airflow_healthy, url=airflow_url,
    ),
}
CORE_SERVICES = ("moto", "jobmanager", "taskmanager", "alertmanager", "prometheus")


def _service_port(cfg: PlatformConfig, service: Service) -> int | None:
    if not service.config_field:
        return None
    return int(getattr(cfg.local, service.config_field.split(".")[1]))


class LocalStack:
    """Start, stop and inspect the local services of one platform config."""

    def __init__(self, cfg: PlatformConfig | None = None) -> None:
        self.cfg = cfg or load_config("local")
        self.run_dir = self.cfg.state_path / "stack"
        self.log_dir = self.cfg.state_path / "logs"

    # -- records ---------------------------------------------------------------
    def _record_path(self, name: str) -> Path:
        return self.run_dir / f"{name}.json"

    def record(self, name: str) -> dict | None:
        try:
            return json.loads(self._record_path(name).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def running(self, name: str) -> bool:
        rec = self.record(name)
        return bool(rec) and _group_alive(rec["pgid"])

    # -- lifecycle -------------------------------------------------------------
    def start(self, name: str, wait: bool = True) -> None:
        service = SERVICES[name]
        if self.running(name):
            return
        port = _service_port(self.cfg, service)
        if port is not None and port_in_use(port):
            raise StackError(
                f"port {port} on 127.0.0.1 ({service.config_field}) is already in use by another "
                f"process, so {name} cannot start: stop that process (`ss -ltnp 'sport = :{port}'` "
                f"shows it) or set {service.config_field} in include/config/local.yaml"
            )
        if name in ("jobmanager", "taskmanager"):
            write_cluster_files(self.cfg)
        if service.prepare is not None:
            service.prepare(self.cfg)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")  # owned by the child
        proc = subprocess.Popen(
            service.command(self.cfg), env=service.env(self.cfg), stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            cwd=self.cfg.state_path,
        )
        log.close()
        self._record_path(name).write_text(json.dumps(
            {"pid": proc.pid, "pgid": proc.pid, "port": port, "started_at": time.time()}
        ))
        if wait:
            try:
                self.wait_healthy(name, proc)
            except StackError:
                self.stop(name)  # never leave a half-started service behind
                raise

    def wait_healthy(self, name: str, proc: subprocess.Popen | None = None,
                     timeout_s: float = HEALTH_TIMEOUT_S) -> None:
        service = SERVICES[name]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if service.healthy(self.cfg):
                return
            if proc is not None and proc.poll() is not None:
                raise StackError(f"{name} exited with code {proc.returncode}; see "
                                 f"{self.log_dir / (name + '.log')}")
            if proc is None and not self.running(name):
                raise StackError(f"{name} exited; see {self.log_dir / (name + '.log')}")
            time.sleep(0.5)
        raise StackError(f"{name} not healthy after {timeout_s:.0f}s; see "
                         f"{self.log_dir / (name + '.log')}")

    def stop(self, name: str) -> bool:
        rec = self.record(name)
        if not rec:
            return False
        _stop_group(rec["pgid"])
        self._record_path(name).unlink(missing_ok=True)
        return True

    def up(self, services: tuple[str, ...] = CORE_SERVICES) -> dict[str, str]:
        """Start every service not running, all at once, then wait for each to be healthy:
        none needs another to start (the TaskManager registers once the JobManager is up,
        Prometheus scrapes what answers), so their start-up times overlap. A service that
        does not come up is stopped and named; the others stay up, as when started alone."""
        launched = []
        for name in services:
            if not self.running(name):
                self.start(name, wait=False)
                launched.append(name)
        for name in launched:
            self.wait_until_healthy(name)
        return self.status(services)

    def wait_until_healthy(self, name: str) -> None:
        """Wait for a service launched with ``start(name, wait=False)``; stop it if it fails."""
        try:
            self.wait_healthy(name)
        except StackError:
            self.stop(name)  # never leave a half-started service behind
            raise

    def down(self, services: tuple[str, ...] | None = None) -> list[str]:
        """Stop the services: SIGTERM to every process group at once, then wait for each
        (SIGKILL after STOP_TIMEOUT_S), so their shutdowns overlap. Returns those stopped."""
        names = services or tuple(reversed(list(SERVICES)))
        records = {name: rec for name in names if (rec := self.record(name))}
        for rec in records.values():
            _signal_group(rec["pgid"], signal.SIGTERM)
        for name, rec in records.items():
            _stop_group(rec["pgid"], signalled=True)
            self._record_path(name).unlink(missing_ok=True)
        return list(records)

    def status(self, services: tuple[str, ...] | None = None) -> dict[str, str]:
        result = {}
        for name in services or tuple(SERVICES):
            service = SERVICES[name]
            if not self.running(name):
                result[name] = "stopped"
            else:
                state = "healthy" if service.healthy(self.cfg) else "starting/unhealthy"
                result[name] = f"{state}  {service.url(self.cfg)}"
        return result


# -- process groups -------------------------------------------------------------

def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return _has_live_member(pgid)


def _has_live_member(pgid: int) -> bool:
    """True if a non-zombie process of the group exists (zombies keep killpg(0) happy)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to the group; False when no process of it is left."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def _stop_group(pgid: int, timeout_s: float = STOP_TIMEOUT_S, signalled: bool = False) -> None:
    """SIGTERM (unless ``signalled``: sent already), wait up to ``timeout_s``, then SIGKILL."""
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
        if not (signalled and sig == signal.SIGTERM) and not _signal_group(pgid, sig):
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if not _has_live_member(pgid):
                return
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    command = args[0] if args else "status"
    stack = LocalStack()
    try:
        if command == "up":
            report = stack.up()
        elif command == "down":
            stopped = stack.down()
            print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
            return 0
        elif command == "airflow":
            stack.up(CORE_SERVICES + ("airflow",))
            report = stack.status()
        elif command == "status":
            report = stack.status()
        else:
            print("usage: python -m flink_platform.local.stack up|down|status|airflow")
            return 2
    except (StackError, JarLockError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for name, state in report.items():
        print(f"  {name:<12} {state}")
    return 0 if command != "status" or all(s != "stopped" for s in report.values()) else 3


if __name__ == "__main__":
    sys.exit(main())
