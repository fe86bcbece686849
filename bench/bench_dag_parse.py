"""Parse time of each DAG file, median of several runs. Target: < 1 s per file.

"Cold" is what a DAG processor pays for a file in a fresh process that already has Airflow
loaded (our plugin modules included in the cost); "warm" re-parses in the same process.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from _common import ROOT, write_result

RUNS = 5
PROBE = r"""
import importlib.util, json, sys, time
sys.path[:0] = {paths!r}
import airflow.sdk
def parse(name):
    spec = importlib.util.spec_from_file_location(name, {path!r})
    module = importlib.util.module_from_spec(spec)
    t0 = time.perf_counter(); spec.loader.exec_module(module); return time.perf_counter() - t0
cold = parse("cold")
warm = [parse(f"warm{{i}}") for i in range(5)]
print("PARSE" + json.dumps({{"cold": cold, "warm": sorted(warm)[2]}}))
"""


def parse_times(path) -> tuple[float, float]:
    paths = [str(ROOT), str(ROOT / "plugins"), str(ROOT / "dags")]
    colds, warms = [], []
    for _ in range(RUNS):
        out = subprocess.run([sys.executable, "-c", PROBE.format(paths=paths, path=str(path))],
                             capture_output=True, text=True, check=True).stdout
        figures = json.loads(out.rsplit("PARSE", 1)[1])
        colds.append(figures["cold"])
        warms.append(figures["warm"])
    return statistics.median(colds), statistics.median(warms)


def main() -> None:
    figures: dict[str, float | int] = {"runs": RUNS}
    worst = 0.0
    for path in sorted((ROOT / "dags").glob("*.py")):
        cold, warm = parse_times(path)
        figures[f"{path.stem}_parse_cold_s"] = round(cold, 4)
        figures[f"{path.stem}_parse_warm_s"] = round(warm, 4)
        worst = max(worst, cold)
    figures["max_parse_cold_s"] = round(worst, 4)
    figures["target_max_parse_s"] = 1.0
    figures["meets_target"] = int(worst < 1.0)
    write_result("dag_parse", figures)


if __name__ == "__main__":
    main()
