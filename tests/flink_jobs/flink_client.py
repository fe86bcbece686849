"""Drive the real Flink cluster from tests: ``flink run`` subprocesses and the REST API.

No PyFlink here: the Airflow venv runs the tests; jobs run in the Flink venv through the
distribution's ``bin/flink`` with ``flink_env(cfg)``.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import requests

from flink_platform.config import PROJECT_ROOT
from flink_platform.local.flink_dist import flink_env, flink_home

JOBS_DIR = PROJECT_ROOT / "include" / "flink_jobs"
TERMINAL = {"FINISHED", "FAILED", "CANCELED"}


def submit(cfg, job: str, output_dir: Path, *, source: str = "generator",
           events_per_s: int = 1000, parallelism: int = 1, checkpoint: str = "2s",
           input_dir: Path | None = None, sets: dict[str, object] | None = None,
           savepoint: str | None = None, version: str = "1.0.0") -> str:
    """Submit ``include/flink_jobs/<job>.py`` exactly as the platform does; return the job id."""
    name = job.replace("_", "-")
    cmd = [str(flink_home() / "bin" / "flink"), "run", "-d",
           "-m", f"127.0.0.1:{cfg.local.flink_rest_port}",
           "-py", str(JOBS_DIR / f"{job}.py"), "-pyfs", str(JOBS_DIR),
           f"-Dpipeline.name={name}", f"-Dparallelism.default={parallelism}",
           f"-Dexecution.checkpointing.interval={checkpoint}"]
    if savepoint:
        cmd += ["-s", savepoint]
    cmd += ["--", "--source", source, "--events-per-s", str(events_per_s),
            "--output-dir", str(output_dir), "--version", version]
    if input_dir:
        cmd += ["--input", str(input_dir)]
    for key, value in (sets or {}).items():
        cmd += ["--set", f"{key}={value}"]
    proc = subprocess.run(cmd, env=flink_env(cfg), capture_output=True, text=True, timeout=300,
                          cwd=PROJECT_ROOT)
    match = re.search(r"JobID ([0-9a-f]{32})", proc.stdout + proc.stderr)
    if proc.returncode != 0 or not match:
        raise AssertionError(f"flink run failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                             f"{proc.stderr[-3000:]}")
    return match.group(1)


def wait_until(predicate: Callable[[], object], timeout_s: float, what: str,
               interval_s: float = 0.5):
    """Poll ``predicate`` until truthy; fail with ``what`` after the deadline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def job(rest: str, job_id: str) -> dict:
    return requests.get(f"{rest}/jobs/{job_id}", timeout=10).json()


def job_state(rest: str, job_id: str) -> str:
    try:
        return job(rest, job_id).get("state", "UNKNOWN")
    except requests.RequestException:
        return "UNREACHABLE"


def wait_state(rest: str, job_id: str, states: set[str], timeout_s: float) -> str:
    def reached():
        state = job_state(rest, job_id)
        if state in TERMINAL - states:
            raise AssertionError(f"job {job_id} ended {state}: {exceptions(rest, job_id)}")
        return state if state in states else None
    return wait_until(reached, timeout_s, f"job {job_id} in {states}")


def exceptions(rest: str, job_id: str) -> str:
    try:
        data = requests.get(f"{rest}/jobs/{job_id}/exceptions", timeout=10).json()
        return (data.get("rootException") or json.dumps(data))[:3000]
    except requests.RequestException as err:
        return str(err)


def completed_checkpoints(rest: str, job_id: str) -> int:
    try:
        data = requests.get(f"{rest}/jobs/{job_id}/checkpoints", timeout=10).json()
        return int(data.get("counts", {}).get("completed", 0))
    except (requests.RequestException, ValueError):
        return 0


def restored_checkpoints(rest: str, job_id: str) -> int:
    """How many times the job restored from a checkpoint (i.e. recovered from a failure)."""
    data = requests.get(f"{rest}/jobs/{job_id}/checkpoints", timeout=10).json()
    return int(data.get("counts", {}).get("restored", 0))


def cancel(rest: str, job_id: str) -> None:
    """Cancel if still running and wait until it is terminal (slots are shared)."""
    if job_state(rest, job_id) in TERMINAL | {"UNKNOWN"}:
        return
    requests.patch(f"{rest}/jobs/{job_id}?mode=cancel", timeout=10)
    wait_until(lambda: job_state(rest, job_id) in TERMINAL, 60, f"job {job_id} cancelled")


def read_output(output_dir: Path, name: str) -> list[dict]:
    """Committed records of ``<output_dir>/<name>/`` (in-progress ``.part`` files skipped)."""
    folder = output_dir / name
    if not folder.exists():
        return []
    rows = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.startswith((".", "_")):
            rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows
