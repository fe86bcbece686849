"""Local target: the FlinkDeployment lifecycle on the standalone Flink session cluster.

Jobs are submitted with the distribution's ``bin/flink run -d -py ...`` with the arguments
and Flink options the FlinkDeployment carries (flink_platform.job_launch renders both from
one spec: the provisioned streams, checkpoints and savepoints in the platform bucket) and
driven through the REST API. Savepoints are listed, kept and disposed in S3 by the same
code as on ``aws`` (flink_platform.savepoints). What was deployed is kept in
``<state_dir>/deployments/<job>.json`` (job id, spec, previous spec, last savepoint), so
status, upgrade and rollback work across DAG runs.

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
import subprocess
import time
from pathlib import Path
from typing import Any

from flink_platform.adapters.base import FlinkDeploymentAdapter, FlinkJobStatus
from flink_platform.adapters.job_spec import JobSpec, resolve_job_spec
from flink_platform.config import PROJECT_ROOT, PlatformConfig
from flink_platform.data_plane import DataPlane
from flink_platform.hooks.flink_rest import FlinkRestError, FlinkRestHook, client_error
from flink_platform.job_launch import job_flink_options, program_args, python_driver_args
from flink_platform.savepoints import SavepointStore

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

    def __init__(self, cfg: PlatformConfig, jobs_path: Path | None = None,
                 data_plane: DataPlane | None = None) -> None:
        self.cfg = cfg
        self.jobs_path = (Path(jobs_path) if jobs_path else jobs_dir()).resolve()
        self.rest_url = cfg.local.flink_rest_url
        self.rest = FlinkRestHook(self.rest_url)
        self.restart_grace_s = min(60.0, cfg.flink.ready_timeout_s / 2)
        self.data_plane = data_plane
        self.store = SavepointStore(cfg)

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

    def spec(self, job: str, overrides: dict[str, Any] | None = None) -> JobSpec:
        """The spec of ``job`` on this adapter's data plane, else the one it runs on now."""
        plane = self.data_plane
        if plane is None:
            deployed = ((self.record(job) or {}).get("spec") or {}).get("data_plane")
            plane = DataPlane.from_dict(deployed) if deployed else None
        return resolve_job_spec(self.cfg, job, overrides, plane)

    # -- submission -------------------------------------------------------------------
    def command(self, spec: JobSpec, savepoint: str | None = None) -> list[str]:
        """The ``flink run`` command line of a job spec: the FlinkDeployment's arguments
        and per-job Flink options (job_launch), with the local jobs folder."""
        from flink_platform.local.flink_dist import flink_home

        cmd = [str(flink_home() / "bin" / "flink"), "run", "-d",
               "-m", f"{self.cfg.local.flink_host}:{self.cfg.local.flink_rest_port}"]
        if savepoint:
            cmd += ["-s", savepoint]
        cmd += python_driver_args(spec, str(self.jobs_path))
        cmd += [f"-D{key}={value}" for key, value in sorted(job_flink_options(spec).items())]
        return cmd + ["--", *program_args(spec)]

    def _submit(self, spec: JobSpec, savepoint: str | None) -> str:
        from flink_platform.local.client_cds import ClientSharing
        from flink_platform.local.flink_dist import FlinkLayout, flink_env, write_cluster_files

        if not (FlinkLayout.of(self.cfg).conf / "config.yaml").exists():
            write_cluster_files(self.cfg)  # a client with no local cluster (the Astro image)
        sharing, succeeded = ClientSharing(self.cfg), False
        try:
            proc = subprocess.run(self.command(spec, savepoint),
                                  env=sharing.env(flink_env(self.cfg)), capture_output=True,
                                  text=True, timeout=SUBMIT_TIMEOUT_S, cwd=self.cfg.state_path)
            succeeded = proc.returncode == 0
        finally:
            sharing.finish(succeeded)
        match = re.search(r"JobID ([0-9a-f]{32})", proc.stdout)
        if proc.returncode == 0 and match:
            return match.group(1)
        raise FlinkSubmitError(client_error(proc.stdout, proc.stderr))

    def _deploy(self, job: str, spec: JobSpec, savepoint: str | None,
                rec: dict[str, Any] | None, lifecycle: str | None = None) -> FlinkJobStatus:
        rec = rec or {"job": job}
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
        spec = self.spec(job, overrides)
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
        spec = self.spec(job, overrides)
        rec = self.record(job)
        self._stop_running(rec)
        return self._deploy(job, spec, from_savepoint, rec, "UPGRADING")

    def handover(self, job: str, overrides: dict[str, Any]) -> tuple[FlinkJobStatus, str | None]:
        """Upgrade with the client's planning overlapped with the old job (local_handover):
        returns the new status and the savepoint; a client error leaves the old job running."""
        from flink_platform.adapters.local_handover import handover

        return handover(self, job, overrides)

    def rollback(self, job: str, from_savepoint: str) -> FlinkJobStatus:
        """Re-deploy the previous spec from ``from_savepoint`` (lifecycle ROLLED_BACK)."""
        rec = self.record(job) or {}
        previous = rec.get("previous_spec") or rec.get("spec")
        if not previous:
            raise RuntimeError(f"no previous spec of {job} to roll back to")
        failed_spec = rec.get("spec")
        self._stop_running(rec)
        plane = previous.get("data_plane")
        spec = resolve_job_spec(self.cfg, job,
                                {**previous["job"], "flink_conf": previous["flink_conf"]},
                                DataPlane.from_dict(plane) if plane else self.data_plane)
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
                st.error = (f"job {rec.get('job_id')} is unknown to the Flink cluster at "
                            f"{self.rest_url}")
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
        path = self.rest.stop_with_savepoint(rec["job_id"], self.store.root(job))
        self.rest.wait_terminal(rec["job_id"])
        self._add_savepoint(job, path)
        return path

    def _add_savepoint(self, job: str, path: str) -> None:
        rec = self.record(job) or {"job": job}
        rec["last_savepoint"] = path
        self._save(job, rec)

    def start_savepoint(self, job: str) -> str:
        rec = self.record(job)
        if not rec or not rec.get("job_id"):
            raise RuntimeError(f"{job} is not deployed; nothing to savepoint")
        self._wait_all_tasks_running(job)
        request_id = self.rest.start_savepoint(rec["job_id"], self.store.root(job))
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
        if path:
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
        return self.store.list(job)

    def dispose_savepoint(self, job: str, path: str) -> None:
        self.store.dispose(path)
        rec = self.record(job)
        if rec and rec.get("last_savepoint") == path:
            rec["last_savepoint"] = None
            self._save(job, rec)

    def metrics_endpoint(self, job: str) -> str:
        return self.rest_url

    def rest_session(self) -> Any:
        """A plain session: the local cluster listens on loopback without credentials."""
        import requests

        return requests.Session()

    def prometheus_urls(self, job: str) -> list[str]:
        """Every loopback reporter port of the local cluster (its TaskManagers run every job)."""
        from flink_platform.loadtest.sampler import prometheus_urls

        return prometheus_urls(self.cfg.local.prometheus_ports)

    def prometheus_server(self) -> dict[str, Any]:
        """The local stack's Prometheus (``make stack-up``) on loopback."""
        from flink_platform.local.monitoring import SCRAPE_INTERVAL, prometheus_url

        return {"url": prometheus_url(self.cfg),
                "scrape_interval_s": float(SCRAPE_INTERVAL.removesuffix("s"))}

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
        """Path the running job restored from, as Flink reports it (checkpoint statistics)."""
        rec = self.record(job) or {}
        return self.rest.restored_from(rec["job_id"]) if rec.get("job_id") else None

