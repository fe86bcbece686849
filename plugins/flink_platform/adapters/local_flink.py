"""Local target: the FlinkDeployment lifecycle on the standalone Flink session cluster.

Jobs are submitted with the distribution's ``bin/flink run -d -py ...`` (same options the
FlinkDeployment carries) and driven through the REST API. What was deployed is kept in
``<state_dir>/deployments/<job>.json`` (job id, spec, previous spec, savepoints), so status,
upgrade and retention work across DAG runs.

Lifecycle states (operator vocabulary) from the record and the REST job state:
- no record -> MISSING; record ``suspended`` -> SUSPENDED; submission rejected -> FAILED
  with the client's root cause;
- CREATED/INITIALIZING, or RUNNING with some tasks not yet RUNNING -> DEPLOYED;
- RUNNING with every task RUNNING -> STABLE (ROLLED_BACK after a rollback);
- RESTARTING/FAILING -> DEPLOYED until ``restart_grace_s`` after submission, then FAILED;
  FAILED -> FAILED; both carry the root exception text of ``/jobs/<id>/exceptions``;
- CANCELED/FINISHED while the record says deployed -> FAILED ("ended outside the platform").
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from flink_platform.adapters.base import FlinkDeploymentAdapter, FlinkJobStatus
from flink_platform.adapters.job_spec import JobSpec, resolve_job_spec
from flink_platform.config import PROJECT_ROOT, PlatformConfig
from flink_platform.hooks.flink_rest import FlinkRestError, FlinkRestHook, client_error

SUBMIT_TIMEOUT_S = 180
TASKS_NOT_RUNNING = "Not all required tasks are currently running"
MAX_SAVEPOINT_RETRIGGERS = 3
ACTIVE_JOB_STATES = ("CREATED", "INITIALIZING", "RUNNING", "RESTARTING", "FAILING",
                     "CANCELLING", "RECONCILING")


class FlinkSubmitError(RuntimeError):
    """``flink run`` rejected the job; the message is the client's root cause."""


def jobs_dir() -> Path:
    """Folder of the PyFlink entrypoints (FLINK_PLATFORM_JOBS_DIR moves it, e.g. in tests)."""
    return Path(os.environ.get("FLINK_PLATFORM_JOBS_DIR", PROJECT_ROOT / "include" / "flink_jobs"))


class LocalFlinkAdapter(FlinkDeploymentAdapter):
    """Deploy, savepoint, upgrade and roll back PyFlink jobs on the local session cluster."""

    def __init__(self, cfg: PlatformConfig, jobs_path: Path | None = None) -> None:
        self.cfg = cfg
        self.jobs_path = (Path(jobs_path) if jobs_path else jobs_dir()).resolve()
        self.rest_url = cfg.local.flink_rest_url
        self.rest = FlinkRestHook(self.rest_url)
        self.restart_grace_s = min(60.0, cfg.flink.ready_timeout_s / 2)

    # -- record ----------------------------------------------------------------------
    def record_path(self, job: str) -> Path:
        return self.cfg.state_path / "deployments" / f"{job}.json"

    def record(self, job: str) -> dict[str, Any] | None:
        try:
            return json.loads(self.record_path(job).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def _save(self, job: str, rec: dict[str, Any]) -> None:
        path = self.record_path(job)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rec, indent=2))
        tmp.replace(path)

    def output_dir(self, job: str) -> Path:
        return self.cfg.state_path / "jobs" / job

    def savepoint_dir(self, job: str) -> Path:
        return self.cfg.state_path / "flink" / "savepoints" / job

    # -- submission -------------------------------------------------------------------
    def command(self, spec: JobSpec, savepoint: str | None = None) -> list[str]:
        """The agreed ``flink run`` command line of a job spec."""
        from flink_platform.local.flink_dist import flink_home

        job = spec.job
        cmd = [str(flink_home() / "bin" / "flink"), "run", "-d",
               "-m", f"127.0.0.1:{self.cfg.local.flink_rest_port}"]
        if savepoint:
            cmd += ["-s", savepoint]
        cmd += ["-py", str(self.jobs_path / job.entrypoint), "-pyfs", str(self.jobs_path),
                f"-Dpipeline.name={spec.name}", f"-Dparallelism.default={job.parallelism}",
                f"-Dexecution.checkpointing.interval={job.checkpoint_interval_s}s"]
        cmd += [f"-D{key}={value}" for key, value in sorted(spec.flink_conf.items())]
        cmd += ["--", "--source", "generator" if job.source == "kinesis" else job.source,
                "--events-per-s", str(job.events_per_s),
                "--output-dir", str(self.output_dir(spec.name)), "--version", job.version]
        for key, value in sorted(job.args.items()):
            cmd += ["--set", f"{key}={value}"]
        return cmd

    def _submit(self, spec: JobSpec, savepoint: str | None) -> str:
        from flink_platform.local.flink_dist import flink_env

        self.output_dir(spec.name).mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(self.command(spec, savepoint), env=flink_env(self.cfg),
                              capture_output=True, text=True, timeout=SUBMIT_TIMEOUT_S,
                              cwd=self.cfg.state_path)
        match = re.search(r"JobID ([0-9a-f]{32})", proc.stdout)
        if proc.returncode == 0 and match:
            return match.group(1)
        raise FlinkSubmitError(client_error(proc.stdout, proc.stderr))

    def _deploy(self, job: str, spec: JobSpec, savepoint: str | None,
                rec: dict[str, Any] | None, lifecycle: str | None = None) -> FlinkJobStatus:
        rec = rec or {"job": job, "savepoints": []}
        if rec.get("spec") and rec["spec"] != spec.to_dict() and rec.get("state") != "failed":
            rec["previous_spec"] = rec["spec"]
        rec.update(spec=spec.to_dict(), version=spec.job.version, restored_from=savepoint,
                   submitted_at=time.time(), lifecycle=lifecycle, error=None, job_id=None)
        try:
            rec["job_id"] = self._submit(spec, savepoint)
            rec.update(state="deployed", submitted_at=time.time())  # restart grace from here
        except (FlinkSubmitError, subprocess.TimeoutExpired) as err:
            rec.update(state="failed", error=str(err))
        self._save(job, rec)
        return self.status(job)

    def _stop_running(self, rec: dict[str, Any] | None) -> None:
        if rec and rec.get("job_id"):
            self.rest.cancel(rec["job_id"])

    # -- interface --------------------------------------------------------------------
    def apply(self, job: str, overrides: dict[str, Any] | None = None) -> FlinkJobStatus:
        """Submit the job, or re-deploy it when its spec changed (savepoint upgrade mode)."""
        spec = resolve_job_spec(self.cfg, job, overrides)
        rec = self.record(job)
        current = self.status(job) if rec else None
        running = current is not None and current.job_state in ACTIVE_JOB_STATES
        if running and rec.get("spec") == spec.to_dict():
            return current  # idempotent: already deployed with this spec
        savepoint = None
        if running and spec.job.upgrade_mode != "stateless":
            savepoint = self._stop_with_savepoint(job, rec)
        elif running:
            self._stop_running(rec)
        elif rec and rec.get("state") == "suspended" and spec.job.upgrade_mode != "stateless":
            savepoint = rec.get("last_savepoint")  # resume a suspended job from its savepoint
        return self._deploy(job, spec, savepoint, self.record(job),
                            "UPGRADING" if savepoint else None)

    def upgrade(self, job: str, overrides: dict[str, Any], from_savepoint: str) -> FlinkJobStatus:
        """Cancel what runs (the caller took ``from_savepoint``) and submit the new spec from it."""
        spec = resolve_job_spec(self.cfg, job, overrides)
        rec = self.record(job)
        self._stop_running(rec)
        return self._deploy(job, spec, from_savepoint, rec, "UPGRADING")

    def handover(self, job: str, overrides: dict[str, Any]) -> tuple[FlinkJobStatus, str | None]:
        """Upgrade with the client's planning overlapped with the old job (local_handover):
        returns the new status and the savepoint; a client error leaves the old job running."""
        import uuid

        from flink_platform.adapters.local_handover import SubmissionGate
        from flink_platform.local.flink_dist import flink_env

        spec, rec = resolve_job_spec(self.cfg, job, overrides), self.record(job)
        placeholder = self.savepoint_dir(job) / f"handover-{uuid.uuid4().hex[:12]}"
        placeholder.parent.mkdir(parents=True, exist_ok=True)
        gate = SubmissionGate(self.cfg.local.flink_rest_port)
        cmd = self.command(spec, placeholder.as_uri())
        cmd[cmd.index("-m") + 1] = f"127.0.0.1:{gate.port}"
        self.output_dir(job).mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(cmd, env=flink_env(self.cfg), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=self.cfg.state_path)
        try:
            deadline = time.monotonic() + SUBMIT_TIMEOUT_S
            while not gate.held.wait(0.05):
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    out, err = proc.communicate()
                    st = self.status(job)
                    st.error = f"new version not submitted, old job kept: {client_error(out, err)}"
                    return st, None
            path = self._stop_with_savepoint(job, rec)
            placeholder.symlink_to(Path(path.removeprefix("file:")), target_is_directory=True)
            gate.release()
            out, err = proc.communicate(timeout=SUBMIT_TIMEOUT_S)
        finally:
            gate.close()
        rec = self.record(job)
        rec["previous_spec"] = rec["spec"]
        rec.update(spec=spec.to_dict(), version=spec.job.version, restored_from=path,
                   lifecycle="UPGRADING", error=None, job_id=None, state="failed")
        match = re.search(r"JobID ([0-9a-f]{32})", out)
        if proc.returncode == 0 and match:
            rec.update(job_id=match.group(1), state="deployed", submitted_at=time.time())
        else:
            rec["error"] = client_error(out, err)
        self._save(job, rec)
        return self.status(job), path

    def rollback(self, job: str, from_savepoint: str) -> FlinkJobStatus:
        """Re-deploy the previous spec from ``from_savepoint`` (lifecycle ROLLED_BACK)."""
        rec = self.record(job) or {}
        previous = rec.get("previous_spec") or rec.get("spec")
        if not previous:
            raise RuntimeError(f"no previous spec of {job} to roll back to")
        failed_spec = rec.get("spec")
        self._stop_running(rec)
        spec = resolve_job_spec(self.cfg, job, {**previous["job"], "flink_conf": previous["flink_conf"]})
        rec["spec"] = previous  # keep previous_spec pointing at what we roll back to
        status = self._deploy(job, spec, from_savepoint, rec, "ROLLED_BACK")
        rec = self.record(job)
        rec["failed_spec"] = failed_spec
        self._save(job, rec)
        return status

    def status(self, job: str) -> FlinkJobStatus:
        rec = self.record(job)
        if not rec:
            return FlinkJobStatus(name=job)
        st = FlinkJobStatus(name=job, job_id=rec.get("job_id"), version=rec.get("version"),
                            last_savepoint=rec.get("last_savepoint"), error=rec.get("error"),
                            details={"restored_from": rec.get("restored_from"),
                                     "rest_url": self.rest_url})
        if rec.get("state") == "failed":
            st.lifecycle_state = "FAILED"
            return st
        info = self.rest.job(rec["job_id"]) if rec.get("job_id") else None
        if info is None:
            st.lifecycle_state = "SUSPENDED" if rec.get("state") == "suspended" else "MISSING"
            if rec.get("state") != "suspended":
                st.error = f"job {rec.get('job_id')} is unknown to the Flink cluster at {self.rest_url}"
            return st
        st.job_state = info.get("state")
        st.last_checkpoint = self.rest.latest_checkpoint(rec["job_id"])
        st.lifecycle_state = self._lifecycle(rec, info, st)
        return st

    def _lifecycle(self, rec: dict[str, Any], info: dict[str, Any], st: FlinkJobStatus) -> str:
        state = info.get("state")
        if rec.get("state") == "suspended":
            return "SUSPENDED"
        if state == "RUNNING":
            vertices = info.get("vertices") or []
            if vertices and all(v.get("status") == "RUNNING" for v in vertices):
                return rec.get("lifecycle") if rec.get("lifecycle") == "ROLLED_BACK" else "STABLE"
            return rec.get("lifecycle") or "DEPLOYED"
        if state in ("RESTARTING", "FAILING", "FAILED"):
            st.error = self.rest.root_exception(rec["job_id"]) or f"job {state}"
            if state == "FAILED" or time.time() - rec["submitted_at"] > self.restart_grace_s:
                return "FAILED"
            return rec.get("lifecycle") or "DEPLOYED"
        if state in ("CANCELED", "FINISHED"):
            st.error = f"job {rec['job_id']} is {state}: it ended outside the platform"
            return "FAILED"
        return rec.get("lifecycle") or "DEPLOYED"

    def _stop_with_savepoint(self, job: str, rec: dict[str, Any]) -> str:
        path = self.rest.stop_with_savepoint(rec["job_id"], self.savepoint_dir(job).as_uri())
        self.rest.wait_terminal(rec["job_id"])
        self._add_savepoint(job, path)
        return path

    def _add_savepoint(self, job: str, path: str) -> None:
        rec = self.record(job) or {"job": job, "savepoints": []}
        rec.setdefault("savepoints", []).append(path)
        rec["last_savepoint"] = path
        self._save(job, rec)

    def start_savepoint(self, job: str) -> str:
        rec = self.record(job)
        if not rec or not rec.get("job_id"):
            raise RuntimeError(f"{job} is not deployed; nothing to savepoint")
        self._wait_all_tasks_running(job)
        request_id = self.rest.start_savepoint(rec["job_id"], self.savepoint_dir(job).as_uri())
        return f"{rec['job_id']}:{request_id}"

    def _wait_all_tasks_running(self, job: str) -> None:
        """A savepoint needs every task RUNNING (e.g. not mid-restart after a rollback)."""
        timeout_s = self.cfg.flink.ready_timeout_s
        deadline = time.monotonic() + timeout_s
        while True:
            st = self.status(job)
            if st.job_state == "RUNNING" and st.lifecycle_state in ("STABLE", "ROLLED_BACK"):
                return
            if st.lifecycle_state == "FAILED":
                raise RuntimeError(f"{job} is FAILED, no savepoint taken: {st.error}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{job} did not have every task RUNNING within {timeout_s}s (lifecycle "
                    f"{st.lifecycle_state}, job {st.job_state}); no savepoint taken")
            time.sleep(0.5)

    def savepoint_result(self, job: str, ref: str) -> str | None:
        ref, hops = self._latest_ref(job, ref)
        job_id, request_id = ref.split(":", 1)
        try:
            path = self.rest.savepoint_status(job_id, request_id)
        except FlinkRestError as err:
            # A task restarted between the readiness check and the trigger: Flink refuses,
            # the job is fine. Trigger again once every task runs (bounded), like the operator.
            if TASKS_NOT_RUNNING not in str(err) or hops >= MAX_SAVEPOINT_RETRIGGERS:
                raise
            new_ref = self.start_savepoint(job)
            rec = self.record(job)
            rec.setdefault("savepoint_retriggers", {})[ref] = new_ref
            self._save(job, rec)
            return None
        if path and path not in self.list_savepoints(job):
            self._add_savepoint(job, path)
        return path

    def _latest_ref(self, job: str, ref: str) -> tuple[str, int]:
        """Follow re-triggers of a savepoint request; return the newest ref and the hops."""
        chain = (self.record(job) or {}).get("savepoint_retriggers", {})
        hops = 0
        while ref in chain:
            ref, hops = chain[ref], hops + 1
        return ref, hops

    def suspend(self, job: str) -> str | None:
        rec = self.record(job)
        if not rec:
            return None
        info = self.rest.job(rec["job_id"]) if rec.get("job_id") else None
        path = None
        if info and info.get("state") == "RUNNING":
            path = self._stop_with_savepoint(job, rec)
        elif info and info.get("state") in ACTIVE_JOB_STATES:
            self.rest.cancel(rec["job_id"])
        rec = self.record(job)
        rec["state"] = "suspended"
        self._save(job, rec)
        return path

    def delete(self, job: str) -> None:
        rec = self.record(job)
        if not rec:
            return
        self._stop_running(rec)
        self.record_path(job).unlink(missing_ok=True)

    def list_savepoints(self, job: str) -> list[str]:
        return list((self.record(job) or {}).get("savepoints", []))

    def dispose_savepoint(self, job: str, path: str) -> None:
        try:
            self.rest.dispose_savepoint(path)
        except FlinkRestError:
            pass  # already gone or unreadable: remove the folder below
        local = Path(path.removeprefix("file:")) if path.startswith("file:") else Path(path)
        for link in self.savepoint_dir(job).glob("handover-*"):
            if link.is_symlink() and link.resolve() == local.resolve():
                link.unlink()
        if local.is_dir() and local.resolve().is_relative_to(self.cfg.state_path.resolve()):
            shutil.rmtree(local, ignore_errors=True)
        rec = self.record(job)
        if rec:
            rec["savepoints"] = [p for p in rec.get("savepoints", []) if p != path]
            self._save(job, rec)

    def metrics_endpoint(self, job: str) -> str:
        return self.rest_url

    # -- additive helpers (sensors, verification) ---------------------------------------
    def deployed_overrides(self, job: str) -> dict[str, Any]:
        """Overrides that rebuild the deployed spec (an upgrade starts from them)."""
        spec = (self.record(job) or {}).get("spec")
        return {**spec["job"], "flink_conf": spec["flink_conf"]} if spec else {}

    def completed_checkpoints(self, job: str, since: float | None = None) -> int:
        """Completed checkpoints of the current job id (a new job id starts from zero)."""
        rec = self.record(job) or {}
        return self.rest.completed_checkpoints(rec["job_id"]) if rec.get("job_id") else 0

    def restored_from(self, job: str) -> str | None:
        """Path the job restored from (a handover placeholder resolved to its savepoint)."""
        rec = self.record(job) or {}
        path = self.rest.restored_from(rec["job_id"]) if rec.get("job_id") else None
        local = Path(path.removeprefix("file:")) if path and path.startswith("file:") else None
        return f"file:{local.resolve()}" if local is not None and local.is_symlink() else path

