"""Event-to-alert latency of the fraud-detection job, when its alert output allows it.

Definition: for each fraud alert the job emits during the load window, its
``detection_time_ms`` (the job's processing time when the rule fired) minus the
triggering event's ``ingest_ms`` (processing time when the source parsed the record: the
generator's emission on ``local``, the read from Kinesis on ``aws``). Alerts are read from
the committed files of ``<state_dir>/jobs/fraud-detection/alerts/`` (they commit on each
checkpoint, so alerts of the last checkpoint interval may be missing). Event time is not used: the shared generator's
event time is synthetic (10 ms per event index), so it says nothing about wall-clock delay.

When the alerts carry no such pair of timestamps, or no alert fell in the window, the
result says "not measured" with the reason; the SLO check then reports "not measured"
instead of inventing a number.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flink_platform.config import PlatformConfig

FRAUD_JOB = "fraud-detection"
DEFINITION = ("fraud-detection alert detection_time_ms minus the triggering event's "
              "ingest_ms (both processing time, from the committed alert files)")
EMITTED_KEYS = ("detection_time_ms",)  # the fraud job's alert columns (fraud_detection.py)
INGEST_KEYS = ("ingest_ms",)
MAX_SAMPLES = 20_000


def _alert_files(cfg: PlatformConfig) -> list[Path]:
    root = cfg.state_path / "jobs" / FRAUD_JOB
    return sorted(p for p in root.rglob("*") if p.is_file() and "alert" in str(p.relative_to(root))
                  and not p.name.startswith(".")) if root.is_dir() else []


def _ms(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number


def event_to_alert_latency(cfg: PlatformConfig, targets: list[dict[str, Any]],
                           window: tuple[float, float]) -> dict[str, Any]:
    """``{"measured", "definition", "count", "p50_ms", "p90_ms", "p99_ms", "samples"}``."""
    from flink_platform.loadtest.report import percentile

    result: dict[str, Any] = {"measured": False, "definition": DEFINITION, "count": 0,
                              "p50_ms": None, "p90_ms": None, "p99_ms": None, "samples": []}
    if not any(t["job"] == FRAUD_JOB and t.get("job_id") for t in targets):
        result["reason"] = f"{FRAUD_JOB} was not running"
        return result
    if cfg.target != "local":
        result["reason"] = "alert output is not readable from Airflow on aws yet"
        return result
    lo, hi = window[0] * 1000, window[1] * 1000
    samples, seen_keys = [], False
    files = _alert_files(cfg)
    if not files:
        result["reason"] = (f"no committed alert file under "
                            f"{cfg.state_path / 'jobs' / FRAUD_JOB / 'alerts'}")
        return result
    for path in files:
        for line in path.read_text(errors="replace").splitlines():
            try:
                alert = json.loads(line)
            except ValueError:
                continue
            emitted = next((_ms(alert[k]) for k in EMITTED_KEYS if k in alert), None)
            ingested = next((_ms(alert[k]) for k in INGEST_KEYS if k in alert), None)
            if emitted is None or ingested is None:
                continue
            seen_keys = True
            if lo <= emitted <= hi and len(samples) < MAX_SAMPLES:
                samples.append([emitted / 1000, emitted - ingested])
    if not samples:
        result["reason"] = ("no alert emitted during the run" if seen_keys else
                            "the fraud job's alerts carry no emission/ingest timestamps")
        return result
    values = [ms for _, ms in samples]
    result.update(measured=True, count=len(values), samples=sorted(samples),
                  **{f"p{q}_ms": round(percentile(values, q), 1) for q in (50, 90, 99)})
    return result
