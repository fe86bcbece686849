"""Sample the Flink jobs' metrics while a load test runs (REST API, Prometheus when reachable).

Per job and sample: job state; records in (source vertices' ``numRecordsOut`` counter) and
records out (sink vertices' ``numRecordsIn``); the most back-pressured and the busiest
vertex (``backPressuredTimeMsPerSecond`` / ``busyTimeMsPerSecond`` as a 0-1 ratio of the
max subtask); the Kinesis source's ``millisBehindLatest`` (max), on both targets. Completed
checkpoints (duration, size) come from ``/jobs/<id>/checkpoints``.

Rates are computed from counter deltas between the instants a counter changed, not read
from Flink's ``...PerSecond`` meters, which average over 60 s. The JobManager REST API
serves metrics from a cache refreshed every ``metrics.fetcher.update-interval`` (set to
1 s on both targets; 10 s is Flink's default); the Prometheus reporter of each TaskManager
is read live and is preferred for counters and gauges when its URL is given.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import requests

log = logging.getLogger(__name__)

COUNTERS = ("numRecordsIn", "numRecordsOut")
GAUGES = ("backPressuredTimeMsPerSecond", "busyTimeMsPerSecond")
LAG_METRIC = "millisBehindLatest"
_PROM_LINE = re.compile(r'^(flink_taskmanager_job_task(?:_operator)?_\w+)\{(.*)\}\s+(\S+)$')
_PROM_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass
class JobTarget:
    """A Flink job to sample: its config name, REST base URL (``adapter.metrics_endpoint``)
    and (if known) job id."""

    job: str
    rest_url: str
    job_id: str | None = None


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def prometheus_task_metrics(urls: Iterable[str], session: requests.Session,
                            timeout: float = 2.0) -> dict[tuple[str, str], dict[str, float]]:
    """{(job_id, task_id): {metric: value}} from TaskManager Prometheus reporters.

    Counters are summed over subtasks; gauges and lag keep the max over subtasks.
    """
    out: dict[tuple[str, str], dict[str, float]] = {}
    for url in urls:
        try:
            text = session.get(url, timeout=timeout).text
        except requests.RequestException:
            continue
        for line in text.splitlines():
            match = _PROM_LINE.match(line)
            if not match:
                continue
            name, labels, raw = match.groups()
            metric = name.removeprefix("flink_taskmanager_job_task_")
            if metric not in COUNTERS + GAUGES and not name.endswith(LAG_METRIC):
                continue  # task-level counters/gauges only; operator-level for the lag
            value = _num(raw)
            if value is None:
                continue
            tags = dict(_PROM_LABEL.findall(labels))
            key = (tags.get("job_id", ""), tags.get("task_id", ""))
            metric = LAG_METRIC if name.endswith(LAG_METRIC) else metric
            slot = out.setdefault(key, {})
            if metric in COUNTERS:
                slot[metric] = slot.get(metric, 0.0) + value
            else:
                slot[metric] = max(slot.get(metric, value), value)
    return out


class FlinkMetricsSampler:
    """Polls the jobs' metrics; ``run`` returns the raw samples and completed checkpoints."""

    def __init__(self, targets: list[JobTarget], prometheus_urls: Iterable[str] = (),
                 kinesis_lag: bool = False, timeout: float = 3.0,
                 session: requests.Session | None = None) -> None:
        self.targets = targets
        self.prometheus_urls = list(prometheus_urls)
        self.kinesis_lag = kinesis_lag
        self.timeout = timeout
        # aws: the targets' URLs go through the Kubernetes API server's proxy and need the
        # cluster's token and CA (the Flink adapter's rest_session())
        self.session = session or requests.Session()
        self.checkpoints: dict[str, dict[int, dict[str, Any]]] = {t.job: {} for t in targets}
        self.failed_checkpoints: dict[str, int] = {t.job: 0 for t in targets}
        self._lag_ids: dict[str, list[str]] = {}
        # per job, its running job id and source / sink vertex ids (prometheus_series)
        self.plans: dict[str, dict[str, Any]] = {}
        self.since = time.time()  # checkpoints triggered before this are not the run's

    # -- REST -----------------------------------------------------------------------
    def _get(self, base: str, path: str, **params: str) -> Any:
        resp = self.session.get(f"{base}{path}", params=params or None, timeout=self.timeout)
        resp.raise_for_status()
        return resp.json()

    def _resolve(self, target: JobTarget) -> str | None:
        """The job id to sample: the given one while it runs, else a RUNNING job by name."""
        jobs = self._get(target.rest_url, "/jobs/overview")["jobs"]
        by_id = {j["jid"]: j for j in jobs}
        if target.job_id in by_id and by_id[target.job_id]["state"] == "RUNNING":
            return target.job_id
        running = [j for j in jobs if j["state"] == "RUNNING" and j["name"] == target.job]
        if running:
            target.job_id = max(running, key=lambda j: j["start-time"])["jid"]
        return target.job_id

    def _rest_vertex_metrics(self, base: str, job_id: str, vertex: str,
                             is_source: bool) -> dict[str, float]:
        path = f"/jobs/{job_id}/vertices/{vertex}/subtasks/metrics"
        names = list(COUNTERS + GAUGES)
        if self.kinesis_lag and is_source:
            if vertex not in self._lag_ids:
                self._lag_ids[vertex] = [m["id"] for m in self._get(base, path)
                                         if m["id"].endswith(LAG_METRIC)]
            names += self._lag_ids[vertex]
        values: dict[str, float] = {}
        for item in self._get(base, path, get=",".join(names), agg="sum,max"):
            metric = LAG_METRIC if item["id"].endswith(LAG_METRIC) else item["id"]
            value = _num(item.get("sum" if metric in COUNTERS else "max"))
            if value is not None:
                values[metric] = max(values.get(metric, value), value)
        return values

    def _record_checkpoints(self, target: JobTarget, job_id: str) -> None:
        data = self._get(target.rest_url, f"/jobs/{job_id}/checkpoints")
        self.failed_checkpoints[target.job] = max(self.failed_checkpoints[target.job],
                                                  data.get("counts", {}).get("failed", 0))
        for item in data.get("history", []):
            if (item.get("status") == "COMPLETED" and not item.get("is_savepoint")
                    and item["trigger_timestamp"] / 1000 >= self.since):
                self.checkpoints[target.job][item["id"]] = {
                    "job_id": job_id, "id": item["id"],
                    "trigger_ts": item["trigger_timestamp"] / 1000,
                    "duration_ms": item["end_to_end_duration"],
                    "state_size_bytes": item.get("state_size", 0),
                    "checkpointed_size_bytes": item.get("checkpointed_size", 0),
                }

    # -- sampling -------------------------------------------------------------------
    def sample(self) -> list[dict[str, Any]]:
        """One sample per target; a job that is not running yields its state only."""
        now = time.time()
        prom = (prometheus_task_metrics(self.prometheus_urls, self.session)
                if self.prometheus_urls else {})
        out = []
        for target in self.targets:
            row: dict[str, Any] = {"t": now, "job": target.job, "state": "MISSING"}
            try:
                job_id = self._resolve(target)
                if job_id:
                    row.update(self._sample_job(target, job_id, prom))
            except (requests.RequestException, KeyError, ValueError) as err:
                row["error"] = f"{type(err).__name__}: {err}"
            out.append(row)
        return out

    def _sample_job(self, target: JobTarget, job_id: str,
                    prom: dict[tuple[str, str], dict[str, float]]) -> dict[str, Any]:
        detail = self._get(target.rest_url, f"/jobs/{job_id}")
        nodes = detail.get("plan", {}).get("nodes", [])
        fed = {i["id"] for n in nodes for i in n.get("inputs", [])}
        sources = {n["id"] for n in nodes if not n.get("inputs")}
        sinks = {n["id"] for n in nodes} - fed
        self.plans[target.job] = {"job_id": job_id, "sources": sorted(sources),
                                  "sinks": sorted(sinks)}
        row: dict[str, Any] = {"job_id": job_id, "state": detail["state"], "records_in": 0.0,
                               "records_out": 0.0, "backpressure_ratio": 0.0,
                               "busy_ratio": 0.0, "millis_behind_latest": None,
                               "metrics_source": "prometheus" if prom else "rest"}
        for vertex in detail.get("vertices", []):
            vid = vertex["id"]
            values = prom.get((job_id, vid)) if prom else None
            if values is None:
                values = self._rest_vertex_metrics(target.rest_url, job_id, vid, vid in sources)
            if vid in sources:
                row["records_in"] += values.get("numRecordsOut", 0.0)
                if LAG_METRIC in values:
                    row["millis_behind_latest"] = max(row["millis_behind_latest"] or 0.0,
                                                      values[LAG_METRIC])
            if vid in sinks:
                row["records_out"] += values.get("numRecordsIn", 0.0)
            row["backpressure_ratio"] = max(
                row["backpressure_ratio"], values.get("backPressuredTimeMsPerSecond", 0.0) / 1000)
            row["busy_ratio"] = max(row["busy_ratio"],
                                    values.get("busyTimeMsPerSecond", 0.0) / 1000)
        self._record_checkpoints(target, job_id)
        return row

    def run(self, duration_s: float, interval_s: float = 1.0,
            should_stop: Callable[[], bool] = lambda: False) -> dict[str, Any]:
        """Sample every ``interval_s`` for ``duration_s``; return samples and checkpoints."""
        started = self.since = time.time()
        deadline = time.monotonic() + duration_s
        samples: list[dict[str, Any]] = []
        next_at = time.monotonic()
        while True:
            samples += self.sample()
            next_at += interval_s
            if next_at > deadline or should_stop():
                break
            time.sleep(max(0.0, next_at - time.monotonic()))
        return {
            "started_at": started, "ended_at": time.time(), "interval_s": interval_s,
            "samples": samples,
            "checkpoints": {job: sorted(c.values(), key=lambda c: c["id"])
                            for job, c in self.checkpoints.items()},
            "failed_checkpoints": self.failed_checkpoints,
            "plans": self.plans,
        }


def prometheus_urls(port_range: str, host: str = "127.0.0.1",
                    session: requests.Session | None = None) -> list[str]:
    """The Prometheus reporter URLs in ``port_range`` (e.g. ``9249-9250``) that answer."""
    session = session or requests.Session()
    low, high = (int(p) for p in port_range.split("-"))
    urls = []
    for port in range(low, high + 1):
        url = f"http://{host}:{port}/metrics"
        try:
            if "flink_taskmanager" in session.get(url, timeout=1.0).text:
                urls.append(url)
        except requests.RequestException:
            continue
    return urls


def rates(samples: list[dict[str, Any]], job: str, counter: str) -> list[tuple[float, float]]:
    """(t, events/s) of ``counter`` for ``job``, from deltas between the samples where it
    changed (a restarted job's counter reset is skipped)."""
    points = [(s["t"], s[counter]) for s in samples
              if s["job"] == job and s.get(counter) is not None and s.get("job_id")]
    out, last = [], None
    for t, value in points:
        if last is None:
            last = (t, value)
            continue
        if value == last[1]:
            continue
        if value > last[1] and t > last[0]:
            out.append((t, (value - last[1]) / (t - last[0])))
        last = (t, value)
    return out


# Source operators of the jobs' raw tables (sql_sources): what each Kinesis source read.
SOURCE_TABLES = {"trades": "trades_raw_source", "ticks": "market_raw_source"}


def source_records(rest_url: str, job_id: str, session: requests.Session | None = None,
                   timeout: float = 3.0) -> dict[str, float]:
    """Records each source of the job has read, by stream role (``trades`` / ``ticks``):
    the source operators' ``numRecordsIn`` summed over subtasks (Flink's own count)."""
    session = session or requests.Session()
    base = f"{rest_url.rstrip('/')}/jobs/{job_id}"
    counts: dict[str, float] = {}
    for vertex in session.get(base, timeout=timeout).json().get("vertices", []):
        path = f"{base}/vertices/{vertex['id']}/subtasks/metrics"
        ids = [m["id"] for m in session.get(path, timeout=timeout).json()]
        for role, table in SOURCE_TABLES.items():
            wanted = [i for i in ids if i.startswith("Source") and table in i
                      and i.endswith(".numRecordsIn")]
            if not wanted:
                continue
            values = session.get(path, params={"get": ",".join(wanted), "agg": "sum"},
                                 timeout=timeout).json()
            counts[role] = counts.get(role, 0.0) + sum(_num(v.get("sum")) or 0.0 for v in values)
    return counts
