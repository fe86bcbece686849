"""A small client of Airflow's REST API (``/api/v2``), the way the UI drives the runtime.

The local stack's API server runs with the simple auth manager in all-admins mode
(flink_platform.local.env), so requests need no token; on a deployment with users, pass a
bearer token. Used by the runtime tests to trigger DAGs and follow their runs.
"""

from __future__ import annotations

import time
from typing import Any

import requests

TERMINAL_RUN_STATES = frozenset({"success", "failed"})


def _log_line(line: Any) -> str:
    """One structured log line as text, with the exception it carries (type: message)."""
    if not isinstance(line, dict):
        return str(line)
    text = str(line.get("event", line))
    for err in line.get("error_detail") or []:
        if isinstance(err, dict):
            text += f"\n  {err.get('exc_type')}: {err.get('exc_value')}"
    return text


class AirflowApiError(RuntimeError):
    """The API answered something unexpected, or a run did not finish in time."""


def poll(what: str, fn: Any, timeout_s: float, poll_s: float = 0.5) -> Any:
    """``fn()``'s first truthy value; AirflowApiError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AirflowApiError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(poll_s)  # poll interval


class AirflowApi:
    """:param base_url: the API server, e.g. ``http://127.0.0.1:8080``
    :param token: a bearer token (None: the all-admins local stack)"""

    def __init__(self, base_url: str, token: str | None = None, timeout_s: float = 30) -> None:
        self.base = base_url.rstrip("/") + "/api/v2"
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only: no proxy
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.timeout_s = timeout_s

    def _get(self, path: str, **params: Any) -> dict[str, Any]:
        resp = self.session.get(self.base + path, params=params, timeout=self.timeout_s)
        if resp.status_code != 200:
            raise AirflowApiError(f"GET {path}: HTTP {resp.status_code}: {resp.text[:500]}")
        return resp.json()

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        resp = self.session.get(f"{self.base}/dags/{dag_id}", timeout=self.timeout_s)
        return resp.json() if resp.status_code == 200 else None

    def wait_dags(self, dag_ids: list[str], timeout_s: float = 300) -> None:
        """Until the dag-processor has parsed every DAG in ``dag_ids`` (unpaused or not)."""
        deadline = time.monotonic() + timeout_s
        missing = list(dag_ids)
        while missing:
            missing = [d for d in missing if self.dag(d) is None]
            if missing and time.monotonic() > deadline:
                raise AirflowApiError(f"DAGs not parsed after {timeout_s:.0f}s: {missing}")
            if missing:
                time.sleep(0.5)  # poll interval

    def _patch(self, path: str, body: dict[str, Any], what: str) -> dict[str, Any]:
        resp = self.session.patch(self.base + path, json=body, timeout=self.timeout_s)
        if resp.status_code != 200:
            raise AirflowApiError(f"{what}: HTTP {resp.status_code}: {resp.text[:300]}")
        return resp.json()

    def unpause(self, dag_id: str) -> None:
        self._patch(f"/dags/{dag_id}", {"is_paused": False}, f"unpause {dag_id}")

    def pause(self, dag_id: str) -> None:
        self._patch(f"/dags/{dag_id}", {"is_paused": True}, f"pause {dag_id}")

    def runs(self, dag_id: str, run_type: str | None = None) -> list[dict[str, Any]]:
        """The DAG's runs, newest first (``run_type``: manual, scheduled, asset_triggered)."""
        runs = self._get(f"/dags/{dag_id}/dagRuns", order_by="-run_after", limit=100)
        return [r for r in runs["dag_runs"] if run_type is None or r["run_type"] == run_type]

    def mark_run(self, dag_id: str, run_id: str, state: str) -> dict[str, Any]:
        """Set a run's state as the UI's "Mark run as" does (its unfinished tasks end too)."""
        return self._patch(f"/dags/{dag_id}/dagRuns/{run_id}", {"state": state},
                           f"mark {dag_id} {run_id} {state}")

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value",
             map_index: int = -1) -> Any:
        """A task's XCom value (deserialized), or None when it pushed none."""
        resp = self.session.get(
            f"{self.base}/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/"
            f"{key}", params={"map_index": map_index, "deserialize": "true"},
            timeout=self.timeout_s)
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise AirflowApiError(f"xcom {task_id}: HTTP {resp.status_code}: {resp.text[:300]}")
        return resp.json().get("value")

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> requests.Response:
        """POST a manual run; the raw response (the caller checks 200 against 400)."""
        return self.session.post(f"{self.base}/dags/{dag_id}/dagRuns",
                                 json={"logical_date": None, "conf": conf or {}},
                                 timeout=self.timeout_s)

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self._get(f"/dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        data = self._get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=1000)
        return {ti["task_id"] + (f"[{ti['map_index']}]" if ti.get("map_index", -1) >= 0
                                 else ""): ti for ti in data["task_instances"]}

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int,
                 map_index: int = -1) -> str:
        """The task's log text (one try), as the UI shows it."""
        resp = self.session.get(
            f"{self.base}/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/"
            f"{try_number}", params={"map_index": map_index, "full_content": "true"},
            headers={"Accept": "application/json"}, timeout=self.timeout_s)
        if resp.status_code != 200:
            return f"(log unavailable: HTTP {resp.status_code})"
        content = resp.json().get("content", "")
        if isinstance(content, list):
            return "\n".join(_log_line(line) for line in content)
        return str(content)

    def wait_run(self, dag_id: str, run_id: str, timeout_s: float = 600,
                 poll_s: float = 0.5) -> dict[str, Any]:
        """Poll the run until it is terminal; returns it (its ``state`` may be failed).
        Every 0.5 s: the demo waits on six runs in a row, one GET is ~10 ms."""
        deadline = time.monotonic() + timeout_s
        while True:
            run = self.run(dag_id, run_id)
            if run["state"] in TERMINAL_RUN_STATES:
                return run
            if time.monotonic() > deadline:
                raise AirflowApiError(f"{dag_id} run {run_id} still {run['state']} after "
                                      f"{timeout_s:.0f}s")
            time.sleep(poll_s)
