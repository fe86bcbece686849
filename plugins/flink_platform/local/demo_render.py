"""The demo's readable summary and its JSON (``<state_dir>/reports/demo-summary.json``)."""

from __future__ import annotations

import json
from typing import Any

from flink_platform.config import PlatformConfig

WIDTH = 78


def monitoring_facts(cfg: PlatformConfig, since: float, until: float) -> dict[str, Any]:
    """The Prometheus server the demo ran with and the alerts that fired meanwhile."""
    from flink_platform.local.demo_runtime import alerts_fired
    from flink_platform.local.monitoring import alertmanager_url, prometheus_url

    url = prometheus_url(cfg)
    fired = alerts_fired(url, since, until)
    return {"prometheus": url, "alertmanager": alertmanager_url(cfg),
            "alerts_fired": fired if isinstance(fired, str) else (fired or "none")}


def _fact_lines(facts: dict[str, Any]) -> list[str]:
    lines = []
    for key, value in facts.items():
        if key in ("dag_id", "written_at"):
            continue
        text = json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value)
        lines.append(f"      {key}: {text if len(text) <= 110 else text[:107] + '...'}")
    return lines


def render_runtime(results: list, monitoring: dict[str, Any], wall_s: float) -> str:
    lines = ["", "=" * WIDTH, "flink-platform local demo on the Airflow runtime: summary",
             "=" * WIDTH]
    for res in results:
        lines.append(f"  {res.stage.title:<24} {res.status:<8} {res.duration_s:7.1f}s"
                     + (f"  run {res.run_id}" if res.run_id else ""))
        if res.link:
            lines.append(f"      {res.link}")
        if res.note:
            lines.append(f"      ({res.note})")
        lines += _fact_lines(res.facts)
    lines += ["-" * WIDTH, "  monitoring"]
    lines += [f"      {k}: {json.dumps(v) if isinstance(v, list) else v}"
              for k, v in monitoring.items()]
    ok = bool(results) and all(r.status == "passed" for r in results)
    lines += ["-" * WIDTH,
              f"  result: {'ALL STAGES PASSED' if ok else 'FAILED'}   wall time {wall_s:.0f}s",
              "=" * WIDTH]
    return "\n".join(lines)


def summary_json(mode: str, results: list, monitoring: dict[str, Any], wall_s: float,
                 facts: dict[str, Any]) -> dict[str, Any]:
    stages = []
    for r in results:
        stage = {"dag_id": r.stage.dag_id, "title": r.stage.title, "status": r.status,
                 "duration_s": round(r.duration_s, 1)}
        for key in ("run_id", "link", "note", "task_s", "busy_s", "run_wall_s"):
            if getattr(r, key, None) not in (None, ""):
                value = getattr(r, key)
                stage[key] = round(value, 2) if isinstance(value, float) else value
        if getattr(r, "facts", None):
            stage["facts"] = r.facts
        stages.append(stage)
    return {"mode": mode, "wall_s": round(wall_s, 1), "stages": stages,
            "monitoring": monitoring, "facts": facts}
