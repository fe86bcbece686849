"""`make demo`: the whole local lifecycle end to end, then a readable summary.

Starts the local stack (unless already running): moto, Flink, Prometheus, Alertmanager
and the real Airflow runtime (scheduler, dag-processor, triggerer, api-server). Drives each
lifecycle DAG over the REST API as a user in the UI would (local.demo_runtime): provision,
the Asset-triggered deploy, the scheduled savepoint, an upgrade, the load test, and always
the teardown (even after a failure, like an ALL_DONE teardown). Prints each stage with its
duration, run id, UI link and the facts its DAG recorded (``reporting.write_stage_summary``),
then the Prometheus server and the alerts that fired; writes the summary to
``<state_dir>/reports/demo-summary.json`` and stops what it started.

``--dags-test`` (or a runtime that cannot start) runs each DAG with ``airflow dags test``
instead: serial tasks, no scheduler or triggerer; it proves less and says so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from flink_platform.config import PlatformConfig, load_config
from flink_platform.local.demo_runtime import LOAD_TEST_CONF
from flink_platform.local.env import airflow_env
from flink_platform.local.flink_dist import StackError
from flink_platform.local.stack import CORE_SERVICES, LocalStack, airflow_url
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
    Stage("platform_load_test", "load test", LOAD_TEST_CONF),  # `dags test`: one producer too
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


def run_dags_test(cfg: PlatformConfig) -> list[StageResult]:
    env = airflow_env(cfg)
    log_dir = cfg.state_path / "logs" / "demo"
    log_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
                   env=env, check=True, capture_output=True)
    results: list[StageResult] = []
    failed = False
    for stage in available_stages():
        if failed and not stage.always:
            results.append(StageResult(stage, "skipped"))
            continue
        results.append(run_stage(stage, env, log_dir))
        failed = failed or results[-1].status == "FAILED"
    return results


def run_runtime(cfg: PlatformConfig, stack: LocalStack) -> list:
    from flink_platform.local.airflow_api import AirflowApi
    from flink_platform.local.demo_runtime import RUNTIME_STAGES, RuntimeDemo

    print("waiting for the Airflow runtime (scheduler, dag-processor, triggerer, api-server) ...",
          flush=True)
    if not stack.running("airflow"):
        stack.start("airflow", wait=False)
    stack.wait_until_healthy("airflow")
    api = AirflowApi(airflow_url(cfg))
    api.wait_dags(sorted({s.dag_id for s in RUNTIME_STAGES}))
    return RuntimeDemo(cfg, api, airflow_url(cfg)).run()


def main(argv: list[str] | None = None) -> int:
    from flink_platform.local.demo_render import monitoring_facts, render_runtime, summary_json

    argv = sys.argv[1:] if argv is None else argv
    started, started_at = time.monotonic(), time.time()
    cfg = load_config("local")
    stack = LocalStack(cfg)
    services = CORE_SERVICES + ("airflow",)
    already_running = [name for name in services if stack.running(name)]
    shutil.rmtree(summaries_dir(cfg), ignore_errors=True)
    mode = "dags-test" if "--dags-test" in argv else "runtime"
    results: list = []
    try:
        print("starting the local stack (moto, Flink, Prometheus, Alertmanager"
              + (", and the Airflow runtime" if mode == "runtime" else "") + ") ...", flush=True)
        if mode == "runtime" and not stack.running("airflow"):
            try:  # launched first: its start-up (DB migration, DAG parsing) overlaps the stack's
                stack.start("airflow", wait=False)
            except StackError as err:
                print(f"the Airflow runtime cannot start ({err})", file=sys.stderr)
        for name, state in stack.up().items():
            print(f"  {name:<12} {state}")
        if mode == "runtime":
            try:
                results = run_runtime(cfg, stack)
            except StackError as err:
                print(f"the Airflow runtime did not start ({err}); falling back to "
                      f"`airflow dags test` (serial tasks, no scheduler or triggerer)",
                      file=sys.stderr)
                mode = "dags-test"
        if mode == "dags-test":
            results = run_dags_test(cfg)
        monitoring = monitoring_facts(cfg, started_at, time.time())
    except (StackError, subprocess.CalledProcessError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        started_here = [n for n in services if n not in already_running]
        stopping = time.monotonic()
        stack.down(tuple(reversed(started_here)))
        down_s = time.monotonic() - stopping
    wall_s = time.monotonic() - started
    if mode == "runtime":
        summary = render_runtime(results, monitoring, wall_s)
    else:
        summary = render_summary(results, read_stage_summaries(cfg), wall_s)
        summary += "\n" + "\n".join(f"  {k}: {v}" for k, v in monitoring.items())
    print(summary)
    report = cfg.state_path / "reports" / "demo-summary.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    data = summary_json(mode, results, monitoring, wall_s, read_stage_summaries(cfg))
    # start-up (until the first stage) and stop of the stack: the wall time no DAG run has
    data.update(stack_down_s=round(down_s, 1), stack_up_s=round(
        wall_s - down_s - sum(r.duration_s for r in results), 1))
    report.write_text(json.dumps(data, indent=2, default=str))
    print(f"summary written to {report}")
    return 0 if results and all(r.status == "passed" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
