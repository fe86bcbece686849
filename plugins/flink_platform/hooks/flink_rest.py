"""A small client of the Flink REST API (jobs, checkpoints, savepoints, stop, cancel).

Used by both Flink adapters, the sensors and the benchmark (on ``aws`` through the
Kubernetes API server's service proxy, with the cluster's credentials in the session).
Asynchronous operations (savepoint, stop-with-savepoint, disposal) are triggered and then
polled with a deadline.
Endpoints as measured on Flink 2.3 (docs/../shared notes): ``POST /jobs/<id>/savepoints``,
``POST /jobs/<id>/stop``, ``PATCH /jobs/<id>?mode=cancel``, ``POST /savepoint-disposal``.
"""

from __future__ import annotations

import re
import time
from typing import Any

import requests

TERMINAL_JOB_STATES = ("FAILED", "CANCELED", "FINISHED", "SUSPENDED")


class FlinkRestError(RuntimeError):
    """A Flink REST call failed or an asynchronous operation did not complete."""


class FlinkRestHook:
    """Talk to one Flink cluster's REST API at ``base_url``.

    :param base_url: e.g. ``http://127.0.0.1:8081`` (local), or the JobManager's Service
        through the Kubernetes API server's proxy (aws: ``KubernetesFlinkAdapter.rest``).
    :param session: requests session carrying the credentials the URL needs (aws: the
        cluster's bearer token and CA, ``KubeAccess.session()``); a plain one by default.
    """

    def __init__(self, base_url: str, timeout_s: float = 10.0,
                 session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.session = session or requests.Session()

    # -- plumbing ----------------------------------------------------------------
    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.base_url}{path}"
        try:
            resp = self.session.request(method, url, timeout=self.timeout_s, **kwargs)
        except requests.RequestException as err:
            raise FlinkRestError(f"{method} {url}: {err}") from None
        if resp.status_code == 404:
            return None
        if not resp.ok:
            raise FlinkRestError(f"{method} {url}: HTTP {resp.status_code} {resp.text[:500]}")
        return resp.json() if resp.content else {}

    # -- reads ---------------------------------------------------------------------
    def overview(self) -> dict[str, Any]:
        return self._call("GET", "/overview") or {}

    def jobs(self) -> list[dict[str, Any]]:
        """Every job the cluster knows: jid, name, state, start-time ..."""
        return (self._call("GET", "/jobs/overview") or {}).get("jobs", [])

    def running_job_id(self, name: str) -> str | None:
        """Id of the newest RUNNING job called ``name``, or None."""
        running = [j for j in self.jobs() if j.get("state") == "RUNNING" and j.get("name") == name]
        return max(running, key=lambda j: j.get("start-time", 0))["jid"] if running else None

    def job(self, job_id: str) -> dict[str, Any] | None:
        return self._call("GET", f"/jobs/{job_id}")

    def checkpoints(self, job_id: str) -> dict[str, Any] | None:
        return self._call("GET", f"/jobs/{job_id}/checkpoints")

    def latest_checkpoint(self, job_id: str) -> str | None:
        """External path of the latest completed checkpoint, or None."""
        latest = (self.checkpoints(job_id) or {}).get("latest") or {}
        return (latest.get("completed") or {}).get("external_path")

    def completed_checkpoints(self, job_id: str) -> int:
        return int(((self.checkpoints(job_id) or {}).get("counts") or {}).get("completed", 0))

    def restored_from(self, job_id: str) -> str | None:
        """Path of the checkpoint/savepoint the job restored from, or None."""
        latest = (self.checkpoints(job_id) or {}).get("latest") or {}
        return (latest.get("restored") or {}).get("external_path")

    def root_exception(self, job_id: str) -> str | None:
        """The first lines of the job's root exception (what a person needs to read)."""
        data = self._call("GET", f"/jobs/{job_id}/exceptions") or {}
        history = (data.get("exceptionHistory") or {}).get("entries") or []
        text = history[0].get("stacktrace") if history else data.get("root-exception")
        return summarize_exception(text) if text else None

    def all_tasks_running(self, job_id: str) -> bool:
        job = self.job(job_id) or {}
        vertices = job.get("vertices") or []
        return bool(vertices) and all(v.get("status") == "RUNNING" for v in vertices)

    def records_in(self, job_id: str) -> int:
        """Records received by all vertices but the sources (a job that processes moves it)."""
        job = self.job(job_id) or {}
        return sum(int((v.get("metrics") or {}).get("read-records", 0))
                   for v in job.get("vertices") or [])

    # -- asynchronous operations ---------------------------------------------------
    @staticmethod
    def _completed(data: dict[str, Any] | None, what: str) -> dict[str, Any] | None:
        """The operation of a COMPLETED async result, None while in progress; raises on failure."""
        data = data or {}
        if (data.get("status") or {}).get("id") != "COMPLETED":
            return None
        op = data.get("operation") or {}
        if op.get("failure-cause"):
            stack_trace = op["failure-cause"].get("stack-trace", "")
            raise FlinkRestError(f"{what} failed: {summarize_exception(stack_trace)}")
        return op

    def _poll(self, path: str, what: str, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            op = self._completed(self._call("GET", path), what)
            if op is not None:
                return op
            time.sleep(0.2)
        raise FlinkRestError(f"{what} did not complete within {timeout_s:.0f}s")

    def _trigger(self, job_id: str, action: str, body: dict[str, Any]) -> str:
        """POST /jobs/<id>/<action> (savepoints, stop); return the trigger (request) id."""
        trig = self._call("POST", f"/jobs/{job_id}/{action}", json=body)
        if trig is None:
            raise FlinkRestError(f"job {job_id} not found")
        return trig["request-id"]

    def start_savepoint(self, job_id: str, target_dir: str | None = None) -> str:
        """Trigger a savepoint; return the trigger (request) id."""
        body: dict[str, Any] = {"cancel-job": False, "formatType": "CANONICAL"}
        if target_dir:
            body["target-directory"] = target_dir
        return self._trigger(job_id, "savepoints", body)

    def savepoint_status(self, job_id: str, request_id: str) -> str | None:
        """Location once the savepoint completed, None while in progress; raises on failure."""
        op = self._completed(self._call("GET", f"/jobs/{job_id}/savepoints/{request_id}"),
                             f"savepoint of job {job_id}")
        return None if op is None else op["location"]

    def trigger_savepoint(self, job_id: str, target_dir: str | None = None,
                          timeout_s: float = 300) -> str:
        request_id = self.start_savepoint(job_id, target_dir)
        return self._poll(f"/jobs/{job_id}/savepoints/{request_id}",
                          f"savepoint of job {job_id}", timeout_s)["location"]

    def stop_with_savepoint(self, job_id: str, target_dir: str | None = None,
                            timeout_s: float = 300) -> str:
        body: dict[str, Any] = {"drain": False, "formatType": "CANONICAL"}
        if target_dir:
            body["targetDirectory"] = target_dir
        request_id = self._trigger(job_id, "stop", body)
        return self._poll(f"/jobs/{job_id}/savepoints/{request_id}",
                          f"stop-with-savepoint of job {job_id}", timeout_s)["location"]

    def cancel(self, job_id: str, timeout_s: float = 60) -> None:
        """Cancel and wait until the job is terminal; unknown or finished jobs are fine."""
        job = self.job(job_id)
        if job is None or job.get("state") in TERMINAL_JOB_STATES:
            return
        self._call("PATCH", f"/jobs/{job_id}?mode=cancel")
        self.wait_terminal(job_id, timeout_s)

    def wait_terminal(self, job_id: str, timeout_s: float = 60) -> str | None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            state = (self.job(job_id) or {}).get("state")
            if state is None or state in TERMINAL_JOB_STATES:
                return state
            time.sleep(0.2)
        raise FlinkRestError(f"job {job_id} not terminal after {timeout_s:.0f}s")

    def dispose_savepoint(self, path: str, timeout_s: float = 60) -> None:
        trig = self._call("POST", "/savepoint-disposal", json={"savepoint-path": path})
        self._poll(f"/savepoint-disposal/{trig['request-id']}", f"disposal of {path}", timeout_s)


def summarize_exception(text: str, max_lines: int = 6) -> str:
    """Exception headline plus its ``Caused by`` lines: readable, without the stack frames."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    keep = [ln for ln in lines if not ln.startswith(("at ", "..."))]
    head = keep[:1] + [ln for ln in keep[1:] if ln.startswith("Caused by")]
    return "\n".join(head[-max_lines:] if len(head) > max_lines else head)


def client_error(stdout: str, stderr: str) -> str:
    """The readable root cause out of ``flink run``: the job's own last Python output line
    when its Python process exited, and the Java causes, without stack frames."""
    output = stdout + "\n" + stderr
    causes = [ln.strip() for ln in output.splitlines() if ln.strip().startswith("Caused by")
              and "Python process exits" not in ln]
    lines = causes[-2:]
    if "Python process exits" in output:
        own = [ln.strip() for ln in stdout.splitlines() if ln.strip() and not ln.strip()
               .startswith(("at ", "...", "File ", "Traceback", "raise ", "Job has been"))]
        lines = own[-1:] + lines
    if not lines:
        lines = [ln.strip() for ln in output.splitlines()
                 if re.search(r"(Error|Exception)\b", ln) and not ln.strip().startswith("at ")][:1]
    return "\n".join(lines) if lines else output.strip()[-800:] or "flink run failed"
