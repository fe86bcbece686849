"""The ``platform-kinesis`` connector's harness, shared by its tests and its benchmark.

boto3 against moto (:class:`Streams`), labelled trade lines, the SQL job of
fixtures/kinesis_connector_job.py submitted with ``bin/flink run -d`` (:func:`run_job`,
:func:`submit`), and the stub / pre-filled moto servers of fixtures/kinesis_test_servers.py
(:func:`start_server`, :func:`stop_server`, by process group). No pytest here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import boto3

from flink_platform.config import PROJECT_ROOT
from flink_platform.local.flink_dist import flink_env, flink_home
from include.flink_jobs.streaming_events import generate_trading_lines

JOB = Path(__file__).parent / "fixtures" / "kinesis_connector_job.py"
TEST_SERVERS = Path(__file__).parent / "fixtures" / "kinesis_test_servers.py"
SEED = 7


class Streams:
    """boto3 against moto: create, fill and read back streams; deletes what it created."""

    def __init__(self, endpoint: str, region: str) -> None:
        self.endpoint = endpoint
        self.region = region
        self.client = boto3.client("kinesis", endpoint_url=endpoint, region_name=region,
                                   aws_access_key_id="testing", aws_secret_access_key="testing")
        self.created: list[str] = []

    def create(self, prefix: str, shards: int) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.client.create_stream(StreamName=name, ShardCount=shards)
        summary = self.client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        assert summary["StreamStatus"] == "ACTIVE"
        self.created.append(summary["StreamARN"])
        return summary["StreamARN"]

    def put(self, arn: str, lines: list[str]) -> None:
        """PutRecords in batches of 500, keyed by the line's user (several keys per batch)."""
        for start in range(0, len(lines), 500):
            batch = lines[start:start + 500]
            response = self.client.put_records(StreamARN=arn, Records=[
                {"Data": line.encode(), "PartitionKey": _user(line)} for line in batch])
            assert response["FailedRecordCount"] == 0

    def read(self, arn: str) -> list[dict]:
        """Every record of every shard, from TRIM_HORIZON, as JSON objects."""
        rows = []
        for shard in self.client.list_shards(StreamARN=arn)["Shards"]:
            iterator = self.client.get_shard_iterator(
                StreamARN=arn, ShardId=shard["ShardId"],
                ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while iterator:
                response = self.client.get_records(StreamARN=arn, ShardIterator=iterator,
                                                   Limit=10_000)
                rows += [json.loads(record["Data"]) for record in response["Records"]]
                if not response["Records"]:
                    break
                iterator = response["NextShardIterator"]
        return rows

    def ids(self, arn: str) -> list[str]:
        return [row["id"] for row in self.read(arn)]

    def delete_created(self) -> None:
        for arn in self.created:
            try:
                self.client.delete_stream(StreamARN=arn)
            except self.client.exceptions.ResourceNotFoundException:
                pass


def _user(line: str) -> str:
    try:
        return json.loads(line)["user_id"]
    except (ValueError, KeyError):
        return "malformed"


def labelled_lines(start: int, count: int, malformed_every: int = 0) -> tuple[list[str], set[str]]:
    """Trade lines ``e7-<index>`` (the platform's generator), every ``malformed_every``-th
    replaced by a unique malformed line; and the ids the job writes for them (event_id, or
    the line itself when it does not parse)."""
    lines = generate_trading_lines(seed=SEED, start=start, count=count)
    ids = set()
    for offset, line in enumerate(lines):
        if malformed_every and offset % malformed_every == malformed_every - 1:
            lines[offset] = f"malformed #{start + offset} {{not json"
            ids.add(lines[offset])
        else:
            ids.add(json.loads(line)["event_id"])
    return lines, ids


def run_job(cfg, endpoint: str, *, source_arn: str = "", sink_arn: str = "",
            source_options: dict | None = None, sink_options: dict | None = None,
            savepoint: str | None = None, args: tuple[str, ...] = (),
            name: str = "kinesis-connector-test") -> subprocess.CompletedProcess:
    cmd = [str(flink_home() / "bin" / "flink"), "run", "-d",
           "-m", f"127.0.0.1:{cfg.local.flink_rest_port}", "-py", str(JOB),
           f"-Dpipeline.name={name}", "-Dparallelism.default=1",
           "-Dexecution.checkpointing.interval=1s"]
    if savepoint:
        cmd += ["-s", savepoint]
    cmd += ["--", "--source-arn", source_arn, "--sink-arn", sink_arn, "--region", cfg.region,
            "--endpoint", endpoint, "--source-options", json.dumps(source_options or {}),
            "--sink-options", json.dumps(sink_options or {}), *args]
    return subprocess.run(cmd, env=flink_env(cfg), capture_output=True, text=True, timeout=300,
                          cwd=PROJECT_ROOT)


def submit(cfg, endpoint: str, jobs: list[str], **kwargs) -> str:
    proc = run_job(cfg, endpoint, **kwargs)
    match = re.search(r"JobID ([0-9a-f]{32})", proc.stdout + proc.stderr)
    if proc.returncode != 0 or not match:
        raise AssertionError(f"flink run failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                             f"{proc.stderr[-3000:]}")
    jobs.append(match.group(1))
    return match.group(1)


def start_server(args: list[str]) -> subprocess.Popen:
    from flink_platform.local.ports import free_port_block
    port = free_port_block(1)
    proc = subprocess.Popen([sys.executable, str(TEST_SERVERS), *args, "--port", str(port)],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout.readline().strip() == "ready", "test server did not start"
    proc.port = port
    return proc


def stop_server(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, 15)
    proc.wait(30)
