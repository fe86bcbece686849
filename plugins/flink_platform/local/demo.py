"""`make demo`: the whole local lifecycle end to end, then a readable summary.

Starts the local stack (unless already running), migrates the Airflow DB, runs each
lifecycle DAG with ``airflow dags test`` in order, always runs the teardown (even after a
failure, like an ALL_DONE teardown), prints each stage with its duration and the facts its
DAG recorded (``reporting.write_stage_summary``), writes the summary to
``<state_dir>/reports/demo-summary.json`` and stops what it started.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from flink_platform.config import load_config
from flink_platform.local.env import airflow_env
from flink_platform.local.flink_dist import StackError
from flink_platform.local.stack import CORE_SERVICES, LocalStack
from flink_platform.reporting import read_stage_summaries, summaries_dir

DAGS_DIR = Path(__file__).resolve().parents[3] / "dags"


@dataclass(frozen=True)
class Stage:
    dag_id: str
    title: str
    conf: dict = field(default_factory=dict)
    always: bool = False  # runs even when an earlier stage failed (teardown)


STAGES = (
    Stage("platform_provision", "provision"),
    Stage("flink_deploy", "deploy jobs"),
    Stage("flink_savepoint_upgrade", "savepoint and upgrade",
          {"jobs": ["fraud-detection"], "new_version": "1.1.0",
           "job_args": {"velocity_max_count": "5"}}),
    Stage("platform_load_test", "load test",
          # one producer: `airflow dags test` runs mapped tasks one after another, and the
          # jobs' per-shard watermarks would wait for a second producer's shards
          {"target_events_per_s": 2000, "duration_s": 15, "producers": 1,
           "malformed_rate": 0.002}),
    Stage("platform_teardown", "teardown", always=True),
)


@dataclass
class StageResult:
    stage: Stage
    status: str  # passed, FAILED, skipped, missing
    duration_s: float = 0.0
    log: Path | None = None


def available_stages() -> list[Stage]:
    """Stages whose DAG file exists (each lifecycle DAG joins the demo as it lands)."""
    return [s for s in STAGES if (DAGS_DIR / f"{s.dag_id}.py").exists()]


def run_stage(stage: Stage, env: dict[str, str], log_dir: Path) -> StageResult:
    log = log_dir / f"{stage.dag_id}.log"
    cmd = [str(Path(sys.executable).parent / "airflow"), "dags", "test", stage.dag_id]
    if stage.conf:
        cmd += ["--conf", json.dumps(stage.conf)]
    print(f"--> {stage.title:<24} airflow dags test {stage.dag_id}", flush=True)
    started = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    status = "passed" if proc.returncode == 0 else "FAILED"
    result = StageResult(stage, status, time.monotonic() - started, log)
    print(f"    {status} in {result.duration_s:.1f}s  (log: {log})", flush=True)
    return result


def _facts_lines(facts: dict) -> list[str]:
    lines = []
    for key, value in facts.items():
        if key in ("dag_id", "written_at"):
            continue
        if isinstance(value, (dict, list)):
            value = json.dumps(value, default=str)
        text = str(value)
        lines.append(f"      {key}: {text if len(text) <= 110 else text[:107] + '...'}")
    return lines


def render_summary(results: list[StageResult], summaries: dict[str, dict], wall_s: float) -> str:
    lines = ["", "=" * 78, "flink-platform local demo: summary", "=" * 78]
    for res in results:
        lines.append(f"  {res.stage.title:<24} {res.status:<8} {res.duration_s:7.1f}s")
        if res.status == "passed" or res.stage.dag_id in summaries:
            lines += _facts_lines(summaries.get(res.stage.dag_id, {}))
        if res.status == "FAILED" and res.log:
            lines.append(f"      see {res.log}")
    ok = all(r.status in ("passed", "missing") for r in results)
    lines += ["-" * 78,
              f"  result: {'ALL STAGES PASSED' if ok else 'FAILED'}   wall time {wall_s:.0f}s",
              "=" * 78]
    return "\n".join(lines)


def main() -> int:
    started = time.monotonic()
    cfg = load_config("local")
    stack = LocalStack(cfg)
    already_running = [name for name in CORE_SERVICES if stack.running(name)]
    env = airflow_env(cfg)
    log_dir = cfg.state_path / "logs" / "demo"
    log_dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(summaries_dir(cfg), ignore_errors=True)
    results: list[StageResult] = []
    try:
        print("starting the local stack (moto + Flink) ...", flush=True)
        for name, state in stack.up().items():
            print(f"  {name:<12} {state}")
        subprocess.run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
                       env=env, check=True, capture_output=True)
        failed = False
        for stage in available_stages():
            if failed and not stage.always:
                results.append(StageResult(stage, "skipped"))
                continue
            result = run_stage(stage, env, log_dir)
            results.append(result)
            failed = failed or result.status == "FAILED"
    except (StackError, subprocess.CalledProcessError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        started_here = [n for n in CORE_SERVICES if n not in already_running]
        stack.down(tuple(reversed(started_here)))
    wall_s = time.monotonic() - started
    summary = render_summary(results, read_stage_summaries(cfg), wall_s)
    print(summary)
    report = cfg.state_path / "reports" / "demo-summary.json"
    report.write_text(json.dumps({
        "wall_s": round(wall_s, 1),
        "stages": [{"dag_id": r.stage.dag_id, "status": r.status,
                    "duration_s": round(r.duration_s, 1)} for r in results],
        "facts": read_stage_summaries(cfg),
    }, indent=2, default=str))
    print(f"summary written to {report}")
    return 0 if results and all(r.status == "passed" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
