"""Load-test fixtures: a stand-in Flink job deployed through the real local adapter, and
the Kinesis stream / bucket the provision DAG would have created (made here with boto3)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import boto3
import pytest

HERE = Path(__file__).resolve().parent
STANDIN_RATE = 400
STANDIN_VERSION = "1.1.0"  # not the config's version: driving the rate must keep it


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


def wait_ready(adapter, job: str = "fraud-detection", timeout_s: float = 120):
    """Poll until ``job`` is STABLE and RUNNING (deadline ``timeout_s``); return its status."""
    deadline = time.monotonic() + timeout_s
    status = adapter.status(job)
    while not status.ready:
        assert time.monotonic() < deadline, f"{job} not running after {timeout_s}s: {status}"
        time.sleep(0.5)  # poll interval
        status = adapter.status(job)
    return status


@pytest.fixture(scope="package")
def standin_job(flink_cluster, platform_config, tmp_path_factory, monkeypatch_package):
    """The local adapter with ``fraud-detection`` deployed as the stand-in job (version
    STANDIN_VERSION, STANDIN_RATE events/s); cancelled after."""
    from flink_platform.adapters.local_flink import LocalFlinkAdapter

    jobs_dir = tmp_path_factory.mktemp("standin_jobs")
    shutil.copy(HERE / "standin_job.py", jobs_dir / "fraud_detection.py")
    monkeypatch_package.setenv("FLINK_PLATFORM_JOBS_DIR", str(jobs_dir))
    adapter = LocalFlinkAdapter(platform_config, jobs_path=jobs_dir)
    status = adapter.apply("fraud-detection", {"events_per_s": STANDIN_RATE,
                                               "version": STANDIN_VERSION,
                                               "checkpoint_interval_s": 1})
    assert status.lifecycle_state != "FAILED", status.error
    wait_ready(adapter)
    yield adapter
    adapter.delete("fraud-detection")


@pytest.fixture(scope="package")
def monkeypatch_package():
    with pytest.MonkeyPatch.context() as patch:
        yield patch
