"""Load-test fixtures: a stand-in Flink job submitted straight to the local cluster (the
sampler needs a job with real metrics, not the platform's data plane), and boto3 helpers."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import boto3
import pytest
import requests

HERE = Path(__file__).resolve().parent
STANDIN_RATE = 400


def aws_client(service: str, moto_url: str, region: str):
    return boto3.client(service, endpoint_url=moto_url, region_name=region,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def create_stream(client, name: str, shards: int, timeout_s: float = 30) -> None:
    client.create_stream(StreamName=name, ShardCount=shards)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        summary = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE":
            return
        time.sleep(0.1)  # poll interval
    raise TimeoutError(f"stream {name} not ACTIVE after {timeout_s}s")


def wait_running(rest: str, job_id: str, timeout_s: float = 120) -> str:
    """Poll until every task of ``job_id`` runs (deadline ``timeout_s``); return the id."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        vertices = requests.get(f"{rest}/jobs/{job_id}", timeout=5).json().get("vertices", [])
        if vertices and all(v["status"] == "RUNNING" for v in vertices):
            return job_id
        time.sleep(0.5)  # poll interval
    raise AssertionError(f"{job_id} not running after {timeout_s}s")


@pytest.fixture(scope="package")
def standin_job(flink_cluster, platform_config):
    """The stand-in job named ``fraud-detection`` at STANDIN_RATE events/s; cancelled after."""
    from flink_platform.local.flink_dist import flink_env, flink_home

    cmd = [str(flink_home() / "bin" / "flink"), "run", "-d",
           "-m", f"127.0.0.1:{platform_config.local.flink_rest_port}",
           "-py", str(HERE / "standin_job.py"), "-Dpipeline.name=fraud-detection",
           "-Dexecution.checkpointing.interval=1s", "--", "--events-per-s", str(STANDIN_RATE)]
    proc = subprocess.run(cmd, env=flink_env(platform_config), capture_output=True, text=True,
                          timeout=300)
    match = re.search(r"JobID ([0-9a-f]{32})", proc.stdout)
    assert proc.returncode == 0 and match, proc.stdout[-2000:] + proc.stderr[-2000:]
    job_id = wait_running(flink_cluster, match.group(1))
    yield job_id
    requests.patch(f"{flink_cluster}/jobs/{job_id}?mode=cancel", timeout=10)
