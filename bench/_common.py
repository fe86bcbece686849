"""Shared by every benchmark: write a flat JSON of named figures to bench/results/<name>.json.

Figure names carry their unit (``events_per_s``, ``p99_latency_ms``, ``wall_s``); the file
also records ``machine`` and ``timestamp``. Results are not committed.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
for _p in (ROOT, ROOT / "plugins", ROOT / "dags"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))


def machine() -> str:
    return f"{platform.system()} {platform.machine()} {os.cpu_count()} cpu, python {platform.python_version()}"


def write_result(name: str, figures: dict[str, float | int | str]) -> Path:
    """Print the figures and write them with machine and timestamp."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {**figures, "machine": machine(),
               "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    width = max(len(k) for k in payload)
    print(f"== {name}")
    for key, value in payload.items():
        print(f"  {key:<{width}}  {value}")
    return path
