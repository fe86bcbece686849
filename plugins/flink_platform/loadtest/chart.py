"""The load-test chart: one PNG, four panels over the same time axis (seconds from start).

1. Throughput: producers' accepted events/s (and the ramp target), each Flink job's
   records in/out per second.
2. Latency percentiles per 2 s window: event-to-alert when measured, else PutRecords
   call latency (the panel title says which).
3. Backpressure and busy ratio (most loaded vertex) per job.
4. Checkpoint end-to-end durations per job (state size in the legend).

matplotlib is imported here only (Agg backend): call from a task, never at DAG parse.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from flink_platform.loadtest.report import percentile

LATENCY_WINDOW_S = 2.0


def _origin(report: dict[str, Any]) -> float:
    starts = [report["producers"].get("started_at") or 0,
              report["flink"]["window"].get("started_at") or 0]
    starts = [s for s in starts if s]
    return min(starts) if starts else 0.0


def _latency_windows(points: list[list[float]], t0: float) -> dict[str, list[tuple[float, float]]]:
    buckets: dict[int, list[float]] = defaultdict(list)
    for t, ms in points:
        buckets[int((t - t0) // LATENCY_WINDOW_S)].append(ms)
    out: dict[str, list[tuple[float, float]]] = {"p50": [], "p90": [], "p99": []}
    for b in sorted(buckets):
        for q in (50, 90, 99):
            out[f"p{q}"].append(((b + 0.5) * LATENCY_WINDOW_S, percentile(buckets[b], q)))
    return out


def _target_line(report: dict[str, Any], t0: float) -> tuple[list[float], list[float]]:
    start = report["producers"].get("started_at") or t0
    xs, ys, t = [], [], start - t0
    for step in report["plan"]["steps"]:
        xs += [t, t + step["seconds"]]
        ys += [step["events_per_s"]] * 2
        t += step["seconds"]
    return xs, ys


def render_chart(report: dict[str, Any], path: str | Path) -> Path:
    """Draw the four panels of ``report`` to ``path`` (PNG) and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ts = report["timeseries"]
    t0 = _origin(report)
    fig, axes = plt.subplots(4, 1, figsize=(10, 12), sharex=True)
    fig.suptitle(f"Load test {report['run'].get('run_id', '')} on {report['run'].get('target')}: "
                 f"{'PASS' if report['passed'] else 'FAIL'}")

    ax = axes[0]
    ax.step(*_target_line(report, t0), where="post", color="grey", ls="--", label="target")
    counts = dict((int(t), n) for t, n in ts["producer_events_per_s"])
    prod = [(t, counts.get(t, 0))
            for t in range(min(counts, default=0), max(counts, default=-1) + 1)]
    ax.plot([t + 0.5 - t0 for t, _ in prod], [n for _, n in prod], marker=".",
            label="producers -> Kinesis")
    for job, series in ts["flink"].items():
        for key, style in (("records_in_per_s", "-"), ("records_out_per_s", ":")):
            pts = series[key]
            if pts:
                ax.plot([t - t0 for t, _ in pts], [r for _, r in pts], ls=style, marker=".",
                        label=f"{job} {key.split('_')[1]}")
    ax.set_ylabel("events/s")
    ax.set_title("Throughput" + ("" if report["run"].get("producers_concurrent", True)
                                 else " (producers ran one after another)"))

    ax = axes[1]
    measured = bool(ts["event_to_alert_ms"])
    windows = _latency_windows(ts["event_to_alert_ms"] if measured else ts["put_latency_ms"], t0)
    for name, pts in windows.items():
        ax.plot([x for x, _ in pts], [y for _, y in pts], marker=".", label=name)
    ax.set_ylabel("ms")
    ax.set_title("Event-to-alert latency" if measured
                 else "PutRecords latency (event-to-alert not measured)")

    ax = axes[2]
    for job, series in ts["flink"].items():
        for key, style in (("backpressure_ratio", "-"), ("busy_ratio", ":")):
            pts = series[key]
            ax.plot([t - t0 for t, _ in pts], [r for _, r in pts], ls=style, marker=".",
                    label=f"{job} {key.split('_')[0]}")
    limit = next((s["threshold"] for s in report["slos"]
                  if s["name"] == "max_backpressure_ratio"), None)
    if limit is not None:
        ax.axhline(limit, color="red", ls="--", lw=0.8, label="backpressure SLO")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("ratio of time")
    ax.set_title("Backpressure / busy (most loaded vertex)")

    ax = axes[3]
    for job, series in ts["flink"].items():
        cps = series["checkpoints"]
        if cps:
            size = max(c["state_size_bytes"] for c in cps)
            ax.plot([c["trigger_ts"] - t0 for c in cps], [c["duration_ms"] for c in cps],
                    marker="o", ls="-", label=f"{job} (max state {size / 1024:.0f} KiB)")
    ax.set_ylabel("ms")
    ax.set_title("Checkpoint duration")
    ax.set_xlabel("seconds since start")

    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="upper left")
        else:
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", color="grey")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
