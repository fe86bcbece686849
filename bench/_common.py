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


def isolate_local_stack(name: str, extra: dict | None = None) -> dict:
    """Point this benchmark's process at its own local stack: own state dir, free ports.

    Ports come from below the ephemeral range (flink_platform.local.ports), so a developer's
    running stack and parallel test sessions are never disturbed.
    """
    from flink_platform.local.ports import free_port_block

    base = free_port_block(8)
    overrides = {
        "local.state_dir": f".local/bench-{name}", "local.moto_port": base,
        "local.flink_rest_port": base + 1, "local.flink_rpc_port": base + 2,
        "local.prometheus_ports": f"{base + 3}-{base + 4}", "local.airflow_port": base + 5,
        "local.prometheus_port": base + 6, "local.alertmanager_port": base + 7,
        **(extra or {}),
    }
    os.environ["FLINK_PLATFORM_OVERRIDES"] = json.dumps(overrides)
    return overrides


def machine() -> str:
    return (f"{platform.system()} {platform.machine()} {os.cpu_count()} cpu, "
            f"python {platform.python_version()}")


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


def provision_data_plane(cfg):
    """The streams and the bucket as platform_provision names them, on this stack's
    emulator (``aws_default`` must point at it: ``airflow_settings``); the DataPlane."""
    from flink_platform.aws.clients import client
    from flink_platform.aws.specs import PlatformSpec
    from flink_platform.data_plane import DataPlane, connection_endpoint

    spec = PlatformSpec(cfg)
    kinesis, s3 = client(cfg, "kinesis"), client(cfg, "s3")
    arns = {}
    for key in ("trading_events", "market_data", "fraud_alerts"):
        name = spec.names[key]
        kinesis.create_stream(StreamName=name, ShardCount=getattr(cfg.streams, key).shards)
        arns[key] = kinesis.describe_stream_summary(StreamName=name)[
            "StreamDescriptionSummary"]["StreamARN"]
    s3.create_bucket(Bucket=spec.names["bucket"])
    return DataPlane(region=cfg.region, bucket=spec.names["bucket"],
                     trading_events_arn=arns["trading_events"],
                     market_data_arn=arns["market_data"], fraud_alerts_arn=arns["fraud_alerts"],
                     aws_endpoint=connection_endpoint(cfg))


def reporter_lines(cfg) -> list[str]:
    """Every line the local cluster's Prometheus reporters serve now (all reporter ports;
    a port with no TaskManager behind it is skipped)."""
    import requests

    low, high = (int(p) for p in str(cfg.local.prometheus_ports).split("-"))
    lines: list[str] = []
    for port in range(low, high + 1):
        try:
            lines += requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text.splitlines()
        except requests.RequestException:
            continue
    return lines
