"""The load test's Flink time series, read back from the platform's Prometheus (``query_range``).

The same queries on both targets; only the server differs (``adapter.prometheus_server()``:
the local stack's Prometheus on loopback, or kube-prometheus-stack's through the Kubernetes
API server's service proxy). Per job, over the run's window, one point per scrape interval:

- ``records_in_per_s``: records the job's source vertices emitted (task ``numRecordsOut``);
- ``records_out_per_s``: records its sink vertices took in (task ``numRecordsIn``);
- ``backpressure_ratio`` / ``busy_ratio``: the most back-pressured / busiest subtask
  (``...TimeMsPerSecond`` / 1000);
- ``millis_behind_latest``: the Kinesis source's lag (max over its readers).

Sources and sinks are the vertices of the job's plan without inputs / without consumers
(the sampler reads the plan from Flink's REST API), by the ``task_id`` label the reporter
gives them. A series with no point fails the report, naming the figure, the query and the
server: a figure that could not be read is a failure, not a gap in a chart.
"""

from __future__ import annotations

import math
import time
from typing import Any

import requests

FIGURES = ("records_in_per_s", "records_out_per_s", "backpressure_ratio", "busy_ratio",
           "millis_behind_latest")
TASK = "flink_taskmanager_job_task"


class PrometheusSeriesError(RuntimeError):
    """Prometheus could not give a figure of the report: the message names it."""


def queries(job_id: str, sources: list[str], sinks: list[str], window_s: int) -> dict[str, str]:
    """PromQL of each figure for one Flink job (``window_s``: the rate window)."""
    job = f'job_id="{job_id}"'
    w = f"[{window_s}s]"
    src, snk = (f'{job},task_id=~"{"|".join(ids)}"' for ids in (sources, sinks))
    return {
        "records_in_per_s": f"sum(rate({TASK}_numRecordsOut{{{src}}}{w}))",
        "records_out_per_s": f"sum(rate({TASK}_numRecordsIn{{{snk}}}{w}))",
        "backpressure_ratio": f"max({TASK}_backPressuredTimeMsPerSecond{{{job}}}) / 1000",
        "busy_ratio": f"max({TASK}_busyTimeMsPerSecond{{{job}}}) / 1000",
        # -1 before the reader's first GetRecords answer: dropped
        "millis_behind_latest": f"max({TASK}_operator_millisBehindLatest{{{job}}} >= 0)",
    }


class PrometheusRange:
    """``/api/v1/query_range`` of one server.

    :param url: the server's base URL (``http://127.0.0.1:9090`` or an API-server proxy URL)
    :param session: requests session with the credentials the URL needs
    """

    def __init__(self, url: str, session: requests.Session | None = None,
                 timeout_s: float = 15) -> None:
        self.url = url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout_s = timeout_s

    def query(self, expr: str, start: float, end: float, step_s: float) -> list[list[float]]:
        """``[[t, value], ...]`` of a single-series expression (NaN points dropped)."""
        try:
            resp = self.session.get(f"{self.url}/api/v1/query_range", timeout=self.timeout_s,
                                    params={"query": expr, "start": f"{start:.3f}",
                                            "end": f"{end:.3f}", "step": f"{step_s:g}"})
        except requests.RequestException as err:
            raise PrometheusSeriesError(f"Prometheus at {self.url} did not answer: {err}") from None
        body = resp.json() if resp.headers.get("content-type", "").startswith(
            "application/json") else {}
        if resp.status_code != 200 or body.get("status") != "success":
            raise PrometheusSeriesError(
                f"Prometheus at {self.url} rejected {expr!r}: HTTP {resp.status_code} "
                f"{body.get('error') or resp.text[:200]}")
        points = [[float(t), float(v)] for series in body["data"]["result"]
                  for t, v in series["values"]]
        return sorted(p for p in points if not math.isnan(p[1]))


    def wait_scraped(self, job_ids: list[str], since: float, timeout_s: float) -> bool:
        """Poll until every job's reporters were scraped at or after ``since`` (True), or
        ``timeout_s`` passed (False: the read that follows names what is missing)."""
        if not job_ids:
            return True
        expr = f'min(timestamp({TASK}_busyTimeMsPerSecond{{job_id=~"{"|".join(job_ids)}"}}))'
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                resp = self.session.get(f"{self.url}/api/v1/query", params={"query": expr},
                                        timeout=self.timeout_s)
                result = resp.json()["data"]["result"] if resp.status_code == 200 else []
            except (requests.RequestException, ValueError, KeyError):
                result = []
            if result and float(result[0]["value"][1]) >= since:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)  # poll interval


def read_job_series(prom: PrometheusRange, plans: dict[str, dict[str, Any]], start: float,
                    end: float, scrape_interval_s: float) -> dict[str, dict[str, Any]]:
    """Every figure of every job in ``plans`` ({job: {job_id, sources, sinks}}) over
    [start, end]; raises PrometheusSeriesError naming the first figure without data."""
    step = max(1.0, scrape_interval_s)
    window = int(math.ceil(3 * step))  # a rate needs two scrapes inside its window
    out: dict[str, dict[str, Any]] = {}
    for job, plan in plans.items():
        series: dict[str, Any] = {}
        for figure, expr in queries(plan["job_id"], plan["sources"], plan["sinks"],
                                    window).items():
            # the window's end plus one scrape: the last sample of the run is scraped late
            points = prom.query(expr, start, end + step, step)
            if not points:
                raise PrometheusSeriesError(
                    f"load-test figure {figure} of {job} could not be read: Prometheus at "
                    f"{prom.url} has no data for {expr!r} between {start:.0f} and "
                    f"{end + step:.0f} (is it scraping the job's reporters?)")
            series[figure] = [[round(t, 3), round(v, 4)] for t, v in points]
        out[job] = {"job_id": plan["job_id"], "series": series}
    return out


def summary(points: list[list[float]]) -> dict[str, float | None]:
    values = sorted(v for _, v in points)
    if not values:
        return {"avg": None, "p95": None, "max": None}
    p95 = values[min(len(values) - 1, int(math.ceil(0.95 * len(values))) - 1)]
    return {"avg": round(sum(values) / len(values), 3), "p95": round(p95, 3),
            "max": round(values[-1], 3)}
