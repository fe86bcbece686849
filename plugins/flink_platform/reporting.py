"""Stage summaries: each lifecycle DAG's last task records what it did for the demo report.

A DAG calls ``write_stage_summary(dag_id, {...})`` with flat, JSON-serialisable facts
(what was created, paths, figures). The demo runner reads them back with
``read_stage_summaries()`` and prints one readable table.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from flink_platform.config import PlatformConfig, load_config


def summaries_dir(cfg: PlatformConfig | None = None) -> Path:
    return (cfg or load_config()).state_path / "reports" / "stages"


def write_stage_summary(dag_id: str, facts: dict[str, Any],
                        cfg: PlatformConfig | None = None) -> Path:
    path = summaries_dir(cfg) / f"{dag_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"dag_id": dag_id, "written_at": time.time(), **facts},
                               indent=2, default=str))
    return path


def read_stage_summaries(cfg: PlatformConfig | None = None) -> dict[str, dict[str, Any]]:
    folder = summaries_dir(cfg)
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))}
