"""Wall time of the whole local demo (after installs). Target: < 300 s.

Runs ``python -m flink_platform.local.demo`` exactly as `make demo` does and records the
wall time and each stage's duration from the demo's own summary file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from _common import ROOT, write_result


def main() -> int:
    summary = ROOT / ".local" / "reports" / "demo-summary.json"
    summary.unlink(missing_ok=True)  # never report a previous run's stages
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        str(p) for p in (ROOT, ROOT / "plugins", ROOT / "dags"))}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "flink_platform.local.demo"], cwd=ROOT,
                          capture_output=True, text=True, env=env)
    wall = time.monotonic() - started
    passed = proc.returncode == 0
    figures: dict[str, float | int] = {"wall_s": round(wall, 1), "passed": int(passed),
                                       "target_wall_s": 300,
                                       "meets_target": int(passed and wall < 300)}
    if summary.exists():
        for stage in json.loads(summary.read_text())["stages"]:
            figures[f"{stage['dag_id']}_s"] = stage["duration_s"]
    write_result("demo", figures)
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-2000:])
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
