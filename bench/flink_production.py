"""The jobs on the production configuration, for bench_flink_jobs.py.

The Flink settings come from the ``aws`` FlinkDeployment as flink_platform.manifests renders
it (``flinkConfiguration`` and ``taskManager.resource.memory``), not from a copy: the local
session cluster gets every option of the manifest except what only the Kubernetes cluster
has (HA, S3 paths and credentials, the reporter port), and the local heap tunings the
manifest does not set (managed fraction, GC options) are dropped, so Flink's defaults apply
as in the job image. Figures (``<job>_aws_p<N>_*``; ``<job>_aws_state_backend`` names the
rendered backend, ``<job>_aws_flink_conf`` lists what was applied):

* ``events_per_s``: the same file replay and dataset as the heap figures, warm-up first;
* ``ckpt_p50_ms`` / ``ckpt_max_ms`` / ``ckpt_size_mb`` (the last checkpoint's full state
  size) / ``ckpt_incremental_mb`` (what it uploaded) / ``ckpt_count``;
* ``tm_cpu_us_per_event`` (TaskManager CPU time / events, from /proc) and ``tm_rss_mb``
  (TaskManager resident set at the end of the run; ``tm_peak_rss_mb``: its high-water mark);
* ``<job>_aws_users<U>_p2_*``: one run whose normal traffic spreads over ``USERS``
  distinct users (each twice), so keyed state holds them all: throughput, checkpoints, RSS;
* ``<job>_aws_p<N>_share_of_heap``: the production rate over the heap figure of this run.
"""

from __future__ import annotations

import os
import re
import statistics
from pathlib import Path

USERS = int(os.environ.get("BENCH_STATE_USERS", "1000000"))
# Cluster-only options of the Kubernetes deployment: the local cluster has its own.
NOT_LOCAL = ("high-availability.", "metrics.", "kubernetes.", "fs.", "s3.", "web.")
NOT_LOCAL_KEYS = ("execution.checkpointing.dir", "execution.checkpointing.savepoint-dir",
                  "pipeline.name", "parallelism.default")
# Local tunings for heap state (flink_dist.cluster_settings): off unless the manifest sets them.
LOCAL_TUNINGS = ("taskmanager.memory.managed.fraction", "env.java.opts.taskmanager")


def production_conf(job: str) -> dict[str, str]:
    """Flink options of ``job``'s rendered aws FlinkDeployment that the local session
    cluster takes (``local.cluster_conf``; "" drops a local default)."""
    from flink_platform.config import load_config
    from flink_platform.manifests import render_flink_deployment

    spec = render_flink_deployment(load_config("aws"), job)["spec"]
    conf = {key: "" for key in LOCAL_TUNINGS}
    conf.update({k: str(v) for k, v in spec["flinkConfiguration"].items()
                 if not k.startswith(NOT_LOCAL) and k not in NOT_LOCAL_KEYS})
    conf["taskmanager.memory.process.size"] = str(spec["taskManager"]["resource"]["memory"])
    return conf


def backend_name(conf: dict[str, str]) -> str:
    return conf.get("state.backend.type", "hashmap")


def interval_s(conf: dict[str, str]) -> int:
    value = conf["execution.checkpointing.interval"]
    return int(value[:-1]) if value.endswith("s") else int(value) // 1000


def write_users_dataset(root: Path, seed: int, count: int, users: int) -> None:
    """The generator's dataset with normal traffic spread over ``users`` distinct users
    (and accounts): event ``i``'s normal user becomes ``i mod users``. Scenarios and
    canaries stay, so the rules fire as before."""
    from include.flink_jobs.streaming_events import (
        encode_event,
        generate_market_ticks,
        generate_trading_lines,
        ticks_covering,
    )
    normal = re.compile(r'"user_id":"U00\d{5}","account_id":"A00\d{5}"')
    for name in ("trades", "market-data"):
        (root / name).mkdir(parents=True, exist_ok=True)
    with open(root / "trades" / "part-0.jsonl", "w") as out:
        for start in range(0, count, 1000):
            lines = generate_trading_lines(seed, start, min(1000, count - start))
            out.write("\n".join(normal.sub(f'"user_id":"V{(start + k) % users:07d}",'
                                           f'"account_id":"B{(start + k) % users:07d}"',
                                           line, count=1)
                                for k, line in enumerate(lines)) + "\n")
    ticks = ticks_covering(count)
    with open(root / "market-data" / "part-0.jsonl", "w") as out:
        for start in range(0, ticks, 200):
            batch = generate_market_ticks(seed, start, min(200, ticks - start))
            out.write("\n".join(encode_event(t) for t in batch) + "\n")


def checkpoint_figures(rest: str, job_id: str, name: str) -> dict[str, object]:
    """Completed checkpoints of the job (REST history): duration p50/max, state sizes."""
    import requests

    body = requests.get(f"{rest}/jobs/{job_id}/checkpoints", timeout=10).json()
    done = sorted((c for c in body.get("history", []) if c.get("status") == "COMPLETED"
                   and not c.get("is_savepoint")), key=lambda c: c["id"])
    if not done:
        return {f"{name}_ckpt_count": 0}
    durations = [c["end_to_end_duration"] for c in done]
    last = done[-1]
    return {f"{name}_ckpt_count": len(done),
            f"{name}_ckpt_p50_ms": round(statistics.median(durations)),
            f"{name}_ckpt_max_ms": max(durations),
            f"{name}_ckpt_durations_ms": durations,
            f"{name}_ckpt_size_mb": round(last["state_size"] / 2**20, 1),
            f"{name}_ckpt_incremental_mb": round(last["checkpointed_size"] / 2**20, 1)}


def taskmanager_pid(conf_dir: Path) -> int | None:
    """The TaskManager JVM of the cluster configured in ``conf_dir`` (this benchmark's)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"TaskManagerRunner" in c for c in cmd) and str(conf_dir).encode() in cmd:
            return int(proc.name)
    return None


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_figures(pid: int | None, name: str) -> dict[str, float]:
    if pid is None:
        return {}
    status = dict(line.split(":", 1) for line in
                  Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    mb = {key: round(int(status[key].split()[0]) / 1024) for key in ("VmRSS", "VmHWM")}
    return {f"{name}_tm_rss_mb": mb["VmRSS"], f"{name}_tm_peak_rss_mb": mb["VmHWM"]}
