"""`make bench`: run every bench/bench_*.py in turn; each writes bench/results/<name>.json.

A benchmark that fails is reported and the others still run; the exit code is non-zero
when any failed. ``python bench/run_all.py dag_parse demo`` runs only those.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def main(selected: list[str]) -> int:
    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    if selected:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in selected]
    outcomes = []
    for script in scripts:
        print(f"\n### {script.name}", flush=True)
        started = time.monotonic()
        code = subprocess.run([sys.executable, str(script)], cwd=BENCH_DIR.parent).returncode
        outcomes.append((script.name, code, time.monotonic() - started))
    print("\n### benchmarks")
    for name, code, took in outcomes:
        print(f"  {name:<32} {'ok' if code == 0 else f'FAILED ({code})':<12} {took:7.1f}s")
    return 0 if all(code == 0 for _, code, _ in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
