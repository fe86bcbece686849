"""Which S3 filesystem plugin: checkpoint and savepoint duration, exactly-once file sinks.

For each of Flink 2.3's S3 plugins (``flink-s3-fs-native``, ``-presto``, ``-hadoop``,
fetched by Maven into a scratch folder: only the chosen one is pinned in jars.lock), a
fresh local cluster (own ports, state dir .local/bench-s3-<plugin>) runs the real
fraud-detection job from its generator at 2,000 events/s with checkpoints every 2 s under
``s3://<bucket>/checkpoints/`` and its file sinks under ``s3://<bucket>/out/`` on the AWS
emulator, then takes savepoints. Recorded per plugin: completed / failed checkpoints,
checkpoint duration p50 and max (ms), savepoint duration median (s), whether the exactly-once
file sink committed parts (a plugin without a recoverable writer fails the job).

``python bench/bench_s3_filesystems.py [native presto hadoop]``
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, isolate_local_stack, write_result

PLUGINS = ("native", "presto", "hadoop")
RUN_S = int(os.environ.get("BENCH_S3_RUN_S", "60"))
SAVEPOINTS = 3


def _plugin_jars(plugin: str) -> Path:
    """A jars folder: the pinned lib/ plus this plugin (fetched by Maven, not pinned)."""
    from flink_platform.local.jars import install, jars_dir

    pinned = install()
    scratch = ROOT / ".local" / f"bench-s3-jars-{plugin}"
    (scratch / "plugins" / f"s3-fs-{plugin}").mkdir(parents=True, exist_ok=True)
    if not (scratch / "lib").exists():
        (scratch / "lib").symlink_to(pinned / "lib", target_is_directory=True)
    subprocess.run(["mvn", "-B", "-q",
                    "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy",
                    f"-Dartifact=org.apache.flink:flink-s3-fs-{plugin}:2.3.0",
                    f"-DoutputDirectory={scratch / 'plugins' / f's3-fs-{plugin}'}"],
                   check=True, cwd=ROOT)
    assert jars_dir() == pinned
    return scratch


def run_plugin(plugin: str) -> dict[str, object]:
    isolate_local_stack(f"s3-{plugin}")
    import boto3

    from flink_platform.config import load_config
    from flink_platform.hooks.flink_rest import FlinkRestHook
    from flink_platform.local import flink_dist
    from flink_platform.local.stack import LocalStack

    jars = _plugin_jars(plugin)
    flink_dist.verified_jars_dir = lambda: jars  # this experiment only: an unpinned plugin
    cfg = load_config()
    stack = LocalStack(cfg)
    figures: dict[str, object] = {}
    try:
        stack.up()
        s3 = boto3.client("s3", endpoint_url=cfg.local.moto_endpoint, region_name=cfg.region,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        s3.create_bucket(Bucket="bench-s3")
        rest = FlinkRestHook(cfg.local.flink_rest_url)
        cmd = [str(flink_dist.flink_home() / "bin" / "flink"), "run", "-d",
               "-m", f"127.0.0.1:{cfg.local.flink_rest_port}",
               "-py", str(ROOT / "include/flink_jobs/fraud_detection.py"),
               "-pyfs", str(ROOT / "include/flink_jobs"), "-Dpipeline.name=fraud-detection",
               "-Dexecution.checkpointing.interval=2s",
               "-Dexecution.checkpointing.dir=s3://bench-s3/checkpoints/fraud-detection",
               "-Dexecution.checkpointing.savepoint-dir=s3://bench-s3/savepoints/fraud-detection",
               "--", "--source", "generator", "--events-per-s", "2000",
               "--output-dir", "s3://bench-s3/out", "--set", "rollover=2 s"]
        proc = subprocess.run(cmd, env=flink_dist.flink_env(cfg), capture_output=True, text=True,
                              timeout=300, cwd=cfg.state_path)
        job_id = next((w for w in proc.stdout.split() if len(w) == 32), None)
        if proc.returncode != 0 or not job_id:
            figures["submit_error"] = (proc.stdout + proc.stderr)[-400:]
            return figures
        deadline = time.monotonic() + RUN_S
        while time.monotonic() < deadline:
            time.sleep(1)
        info = rest.job(job_id) or {}
        figures["job_state"] = info.get("state")
        stats = rest.checkpoints(job_id) or {}
        counts = stats.get("counts") or {}
        durations = [h["end_to_end_duration"] for h in stats.get("history", [])
                     if h.get("status") == "COMPLETED"]
        figures.update(completed_checkpoints=counts.get("completed", 0),
                       failed_checkpoints=counts.get("failed", 0))
        if durations:
            figures.update(checkpoint_p50_ms=statistics.median(durations),
                           checkpoint_max_ms=max(durations),
                           checkpoint_size_bytes=stats["latest"]["completed"]["checkpointed_size"])
        if info.get("state") != "RUNNING":
            figures["root_exception"] = (rest.root_exception(job_id) or "")[:300]
        else:
            took = []
            for _ in range(SAVEPOINTS):
                start = time.monotonic()
                rest.trigger_savepoint(job_id, "s3://bench-s3/savepoints/fraud-detection")
                took.append(time.monotonic() - start)
            figures["savepoint_median_s"] = round(statistics.median(took), 3)
        parts = s3.list_objects_v2(Bucket="bench-s3", Prefix="out/alerts/").get("KeyCount", 0)
        figures["file_sink_committed_parts"] = parts
        rest.cancel(job_id)
    finally:
        stack.down()
    return figures


def main(argv: list[str]) -> None:
    results: dict[str, object] = {}
    for plugin in argv or PLUGINS:
        for key, value in run_plugin(plugin).items():
            results[f"{plugin}_{key}"] = value
    write_result("s3_filesystems", results)


if __name__ == "__main__":
    main(sys.argv[1:])
