"""The load-test report: one JSON document, the SLO verdicts, and a Markdown summary.

``build_report`` merges the plan, the mapped producers' stats, the Flink time series
(read back from Prometheus with ``query_range``: prometheus_series; the sampler's own
samples only where a run has none), what Flink's sources read and the alerts read back
from the alerts stream into a flat, documented JSON; ``evaluate_slos`` judges it;
``markdown_summary`` renders target vs achieved and pass/fail for the task log and the
bucket. Pure Python: no Airflow, boto3 or matplotlib here.

SLO definitions (what "observed" means). A figure that could not be measured FAILS its
SLO, naming what was missing: a check that cannot fail proves nothing.
- ``max_p99_latency_ms``: p99 of event-to-alert latency (alerts.py: producer send time to
  the alert's arrival in the alerts stream).
- ``max_backpressure_ratio``: per job, the 95th percentile over the run (Prometheus'
  points, one per scrape) of the most back-pressured subtask's
  backPressuredTimeMsPerSecond / 1000; the worst job counts.
- ``zero_failed_records``: records the producers gave up on after every retry.
- ``min_achieved_ratio``: records accepted by Kinesis / records the ramp plan called for.
- ``min_alert_recall`` / ``min_alert_precision``: (rule, user) pairs of the unique alerts
  against the labelled ground truth of what was sent.
- ``all_records_read``: every job's Kinesis sources read (Flink's numRecordsIn, after minus
  before the run) every record accepted on the streams they read.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from flink_platform.loadtest.sampler import rates

REPORT_VERSION = 1


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0-100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _r(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _summarise_producers(plan: dict[str, Any], producers: list[dict[str, Any]]) -> dict[str, Any]:
    accepted = sum(p["accepted"] for p in producers)
    started = min((p["started_at"] for p in producers), default=0.0)
    ended = max((p["ended_at"] for p in producers), default=0.0)
    wall = max(ended - started, 1e-9)  # the whole produce phase, first send to last
    per_second: Counter = Counter()
    latencies = []
    errors: Counter = Counter()
    shards: Counter = Counter()
    for p in producers:
        per_second.update({int(k): v for k, v in p["per_second"].items()})
        latencies += [ms for _, ms in p["put_latency_ms"]]
        errors.update(p["error_codes"])
        shards.update(p["shard_counts"])
    planned = plan["planned_events"]
    return {
        "producers": len(producers),
        "target_events_per_s": plan["target_events_per_s"],
        "planned_events": planned,
        "accepted": accepted,
        "failed": sum(p["failed"] for p in producers),
        "retried": sum(p["retried"] for p in producers),
        # records / wall time of the whole produce phase (producers that ran one after the
        # other do not add up their rates)
        "achieved_events_per_s": round(accepted / wall, 1),
        "peak_events_per_s": max(per_second.values(), default=0),
        "achieved_ratio": round(accepted / planned, 4) if planned else None,
        "started_at": started, "ended_at": ended, "wall_s": round(wall, 2),
        "error_codes": dict(errors), "shard_counts": dict(sorted(shards.items())),
        "put_latency_ms": {f"p{q}": _r(percentile(latencies, q), 2) for q in (50, 90, 99)},
        "per_producer": [
            {k: p[k] for k in ("producer", "planned", "accepted", "failed", "retried",
                               "achieved_events_per_s", "elapsed_s")} for p in producers
        ],
    }


def _summarise_job(job: str, sampled: dict[str, Any]) -> dict[str, Any]:
    samples = [s for s in sampled["samples"] if s["job"] == job]
    live = [s for s in samples if s.get("job_id")]
    ins = [r for _, r in rates(samples, job, "records_in")]
    outs = [r for _, r in rates(samples, job, "records_out")]
    bp = [s["backpressure_ratio"] for s in live]
    busy = [s["busy_ratio"] for s in live]
    lag = [s["millis_behind_latest"] for s in live if s.get("millis_behind_latest") is not None]
    cps = sampled["checkpoints"].get(job, [])
    durations = [c["duration_ms"] for c in cps]
    return {
        "job_ids": sorted({s["job_id"] for s in live}),
        "states": sorted({s["state"] for s in samples}),
        "samples": len(live),
        "metrics_source": live[-1]["metrics_source"] if live else None,
        "records_in_per_s": {"avg": _r(sum(ins) / len(ins)) if ins else None,
                             "max": _r(max(ins, default=None))},
        "records_out_per_s": {"avg": _r(sum(outs) / len(outs)) if outs else None,
                              "max": _r(max(outs, default=None))},
        "backpressure_ratio": {"p95": _r(percentile(bp, 95), 3),
                               "max": _r(max(bp, default=None), 3)},
        "busy_ratio": {"p95": _r(percentile(busy, 95), 3), "max": _r(max(busy, default=None), 3)},
        "millis_behind_latest": {"max": max(lag, default=None)},
        "checkpoints": {
            "completed": len(cps), "failed": sampled["failed_checkpoints"].get(job, 0),
            "duration_ms_p50": percentile(durations, 50),
            "duration_ms_max": max(durations, default=None),
            "state_size_bytes_max": max((c["state_size_bytes"] for c in cps), default=None),
        },
        "errors": sorted({s["error"] for s in samples if s.get("error")})[:3],
        **_from_prometheus(job, sampled),
    }


def _from_prometheus(job: str, sampled: dict[str, Any]) -> dict[str, Any]:
    """The time-series figures as Prometheus gave them (query_range over the run), when
    the run read them there (it does on both targets; a hand-built report may not)."""
    from flink_platform.loadtest.prometheus_series import summary

    prom = sampled.get("prometheus") or {}
    series = ((prom.get("jobs") or {}).get(job) or {}).get("series")
    if not series:
        return {}
    rate = {k: summary(series[k]) for k in ("records_in_per_s", "records_out_per_s")}
    ratio = {k: summary(series[k]) for k in ("backpressure_ratio", "busy_ratio")}
    return {
        "metrics_source": f"prometheus query_range {prom['url']}",
        **{k: {"avg": _r(v["avg"]), "max": _r(v["max"])} for k, v in rate.items()},
        **{k: {"p95": _r(v["p95"], 3), "max": _r(v["max"], 3)} for k, v in ratio.items()},
        "millis_behind_latest": {"max": summary(series["millis_behind_latest"])["max"]},
    }


def _data_path(produced: dict[str, int], drained: dict[str, Any],
               alerts: dict[str, Any]) -> dict[str, Any]:
    jobs = drained.get("jobs", {})
    read = {job: d["read"] for job, d in jobs.items()}
    after = [d["caught_up_after_s"] for d in jobs.values()]
    return {
        "produced": produced,
        "read_by_flink": read,
        "heartbeats": drained.get("heartbeats", 0),
        "all_read": bool(read) and all(d["caught_up"] for d in jobs.values()),
        "caught_up_after_s": None if not after or None in after else max(after),
        "alerts_delivered": alerts.get("alerts_delivered"),
        "alert_duplicates": alerts.get("duplicates"),
        "alert_recall": alerts.get("recall"),
        "alert_precision": alerts.get("precision"),
        "scenarios": alerts.get("scenarios"),
        "missed": alerts.get("missed", []),
        "false_positives": alerts.get("false_positives", []),
        "alerts_complete": alerts.get("complete"),
    }


def build_report(*, run: dict[str, Any], plan: dict[str, Any], slos: dict[str, Any],
                 producers: list[dict[str, Any]], sampled: dict[str, Any] | None,
                 alerts: dict[str, Any], drained: dict[str, Any],
                 produced: dict[str, int]) -> dict[str, Any]:
    """The full report (SLO verdicts included); ``timeseries`` feeds the chart."""
    sampled = sampled or {"samples": [], "checkpoints": {}, "failed_checkpoints": {}}
    jobs = sorted({s["job"] for s in sampled["samples"]})
    latency = dict(alerts.get("latency") or {})
    if not latency.get("count"):
        latency["reason"] = ("no alert of a sent scenario arrived in the alerts stream"
                             if alerts else "the alerts stream was not read")
    report: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "run": run,
        "plan": plan,
        "producers": _summarise_producers(plan, producers),
        "data_path": _data_path(produced, drained, alerts),
        "flink": {
            "mode": "the jobs read the provisioned streams through their Kinesis source",
            "window": {"started_at": sampled.get("started_at"),
                       "ended_at": sampled.get("ended_at")},
            "jobs": {job: _summarise_job(job, sampled) for job in jobs},
        },
        "latency": latency,
    }
    report["timeseries"] = _timeseries(producers, sampled, latency, jobs)
    report["slos"] = evaluate_slos(report, slos)
    report["passed"] = all(s["status"] != "fail" for s in report["slos"])
    return report


def _timeseries(producers: list[dict[str, Any]], sampled: dict[str, Any],
                latency: dict[str, Any], jobs: list[str]) -> dict[str, Any]:
    per_second: Counter = Counter()
    for p in producers:
        per_second.update({int(k): v for k, v in p["per_second"].items()})
    return {
        "producer_events_per_s": sorted([t, n] for t, n in per_second.items()),
        "put_latency_ms": sorted(x for p in producers for x in p["put_latency_ms"]),
        "event_to_alert_ms": latency.get("samples", []),
        "flink": {job: _prometheus_series(sampled, job) or _sampled_series(sampled, job)
                  for job in jobs},
    }


def _prometheus_series(sampled: dict[str, Any], job: str) -> dict[str, Any] | None:
    series = (((sampled.get("prometheus") or {}).get("jobs") or {}).get(job) or {}).get("series")
    return {**series, "checkpoints": sampled["checkpoints"].get(job, [])} if series else None


def _sampled_series(sampled: dict[str, Any], job: str) -> dict[str, Any]:
    live = [s for s in sampled["samples"] if s["job"] == job and s.get("job_id")]
    return {
        "records_in_per_s": [[round(t, 3), round(r, 1)]
                             for t, r in rates(sampled["samples"], job, "records_in")],
        "records_out_per_s": [[round(t, 3), round(r, 1)]
                              for t, r in rates(sampled["samples"], job, "records_out")],
        "backpressure_ratio": [[round(s["t"], 3), s["backpressure_ratio"]] for s in live],
        "busy_ratio": [[round(s["t"], 3), s["busy_ratio"]] for s in live],
        "checkpoints": sampled["checkpoints"].get(job, []),
    }


def _verdict(name: str, threshold: Any, observed: Any, ok: bool | None, unit: str,
             detail: str = "") -> dict[str, Any]:
    """``ok`` None: the figure could not be measured, which fails the SLO (``detail`` says
    what was missing)."""
    return {"name": name, "threshold": threshold, "observed": observed, "unit": unit,
            "status": "pass" if ok else "fail", "measured": ok is not None, "detail": detail}


def _at_least(name: str, limit: float | None, observed: float | None, missing: str,
              what: str) -> list[dict[str, Any]]:
    if limit is None:
        return []
    if observed is None:
        return [_verdict(name, limit, None, None, "ratio", f"not measured: {missing}")]
    ok = observed >= limit
    return [_verdict(name, limit, observed, ok, "ratio",
                     "" if ok else f"{what} {observed:.2%} < {limit:.0%}")]


def evaluate_slos(report: dict[str, Any], slos: dict[str, Any]) -> list[dict[str, Any]]:
    """One verdict per enabled SLO; a breach's ``detail`` says by how much."""
    out = []
    prod = report["producers"]
    limit = slos.get("max_p99_latency_ms")
    if limit is not None:
        p99 = report["latency"].get("p99_ms")
        if p99 is None:
            reason = report["latency"].get("reason", "no alert latency")
            out.append(_verdict("max_p99_latency_ms", limit, None, None, "ms",
                                f"not measured: {reason}"))
        else:
            out.append(_verdict("max_p99_latency_ms", limit, p99, p99 <= limit, "ms",
                                "" if p99 <= limit else f"p99 {p99:.0f} ms > {limit} ms "
                                                        f"(over by {p99 - limit:.0f} ms)"))
    limit = slos.get("max_backpressure_ratio")
    if limit is not None:
        per_job = {j: v["backpressure_ratio"]["p95"] for j, v in report["flink"]["jobs"].items()
                   if v["backpressure_ratio"]["p95"] is not None}
        if not per_job:
            out.append(_verdict("max_backpressure_ratio", limit, None, None, "ratio",
                                "not measured: no running Flink job was sampled"))
        else:
            job, worst = max(per_job.items(), key=lambda kv: kv[1])
            ok = worst <= limit
            out.append(_verdict("max_backpressure_ratio", limit, worst, ok, "ratio",
                                "" if ok else f"{job}: backpressure p95 {worst:.2f} > {limit} "
                                              f"(over by {worst - limit:.2f})"))
    if slos.get("zero_failed_records"):
        failed = prod["failed"]
        out.append(_verdict("zero_failed_records", 0, failed, failed == 0, "records",
                            "" if failed == 0 else
                            f"{failed} records failed after every retry "
                            f"(over by {failed}; codes {prod['error_codes']})"))
    limit = slos.get("min_achieved_ratio")
    if limit is not None:
        ratio = prod["achieved_ratio"] or 0.0
        ok = ratio >= limit
        out.append(_verdict("min_achieved_ratio", limit, ratio, ok, "ratio",
                            "" if ok else
                            f"accepted {prod['accepted']} of {prod['planned_events']} "
                            f"planned ({ratio:.0%} < {limit:.0%}, short by "
                            f"{limit - ratio:.0%})"))
    path = report["data_path"]
    no_alerts = "no alert read from the alerts stream (is fraud-detection running?)"
    out += _at_least("min_alert_recall", slos.get("min_alert_recall"), path["alert_recall"],
                     no_alerts if path["alerts_delivered"] is not None else "alerts not read",
                     f"missed {path['missed'][:5]}: recall")
    out += _at_least("min_alert_precision", slos.get("min_alert_precision"),
                     path["alert_precision"], no_alerts,
                     f"false positives {path['false_positives'][:5]}: precision")
    if slos.get("all_records_read"):
        read = path["read_by_flink"]
        if not read:
            out.append(_verdict("all_records_read", True, None, None, "records",
                                "not measured: no running job's source counters were read"))
        else:
            short = {job: {s: path["produced"].get(s, 0) - n for s, n in counts.items()
                           if n < path["produced"].get(s, 0)} for job, counts in read.items()}
            short = {job: s for job, s in short.items() if s}
            out.append(_verdict("all_records_read", True, not short, not short, "records",
                                "" if not short else f"records produced but not read by Flink "
                                                     f"within the drain timeout: {short}"))
    return out


def breaches(report: dict[str, Any]) -> list[str]:
    return [f"{s['name']}: {s['detail']}" for s in report["slos"] if s["status"] == "fail"]


def markdown_summary(report: dict[str, Any], artifacts: dict[str, str] | None = None) -> str:
    """Target vs achieved, the Flink side, SLO pass/fail and where the files are."""
    run, prod = report["run"], report["producers"]
    verdict = "PASS" if report["passed"] else "FAIL"
    lines = [
        f"# Load test {run.get('run_id', '')} on `{run.get('target')}`: {verdict}", "",
        f"Streams `{run.get('stream')}` (trades) and `{run.get('ticks_stream')}` (ticks), "
        f"{report['plan']['producers']} producers, "
        f"{report['plan']['duration_s']} s in {report['plan']['ramp_steps']} ramp step(s)"
        + ("." if run.get("producers_concurrent", True) else
           "; the producers ran one after another (e.g. `airflow dags test` runs tasks "
           "serially): achieved events/s is over the whole produce phase."), "",
        "| producers -> Kinesis | target | achieved |", "|---|---|---|",
        f"| events/s | {prod['target_events_per_s']} | {prod['achieved_events_per_s']} "
        f"(peak {prod['peak_events_per_s']}) |",
        f"| records | {prod['planned_events']} planned | {prod['accepted']} accepted, "
        f"{prod['failed']} failed, {prod['retried']} retried |",
        f"| PutRecords latency | | p50 {prod['put_latency_ms']['p50']} ms, "
        f"p99 {prod['put_latency_ms']['p99']} ms |", "",
        f"Flink: {report['flink']['mode']}", "",
    ]
    path = report["data_path"]
    lines += [
        "| data path | value |", "|---|---|",
        f"| records produced (accepted by Kinesis) | {path['produced']} |",
        f"| records read by Flink (sources' numRecordsIn) | {path['read_by_flink']} |",
        f"| sources caught up after the producers stopped | {path['caught_up_after_s']} s |",
        f"| alerts delivered (unique) / duplicates | {path['alerts_delivered']} / "
        f"{path['alert_duplicates']} |",
        f"| alert recall / precision | {path['alert_recall']} / {path['alert_precision']} |", "",
    ]
    if report["flink"]["jobs"]:
        lines += ["| job | in events/s (avg) | out events/s (avg) | backpressure p95 | busy p95 "
                  "| checkpoints (n, p50 ms, max bytes) |", "|---|---|---|---|---|---|"]
        for job, j in report["flink"]["jobs"].items():
            cp = j["checkpoints"]
            lines.append(f"| {job} | {j['records_in_per_s']['avg']} "
                         f"| {j['records_out_per_s']['avg']} "
                         f"| {j['backpressure_ratio']['p95']} | {j['busy_ratio']['p95']} "
                         f"| {cp['completed']}, {cp['duration_ms_p50']}, "
                         f"{cp['state_size_bytes_max']} |")
    else:
        lines.append("No Flink job was sampled.")
    lat = report["latency"]
    lines += ["", "Event-to-alert latency: " + (
        f"p50 {lat.get('p50_ms')} ms, p99 {lat.get('p99_ms')} ms over {lat.get('count')} alerts"
        if lat.get("p99_ms") is not None else f"not measured ({lat.get('reason')})"), "",
        "| SLO | threshold | observed | result |", "|---|---|---|---|"]
    for s in report["slos"]:
        lines.append(f"| {s['name']} | {s['threshold']} | {s['observed']} | "
                     f"{s['status'].upper()} {s['detail']} |")
    if artifacts:
        lines += ["", "Artifacts: " + ", ".join(f"{k} `{v}`" for k, v in artifacts.items())]
    return "\n".join(lines) + "\n"
