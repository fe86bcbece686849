"""The ``platform-kinesis`` table connector (include/flink_jobs/java/.../kinesis/) end to end.

Real moto server (Kinesis over HTTP, calls serialized) and the real Flink session cluster of
the test session (its lib/ holds the AWS SDK jars and the compiled connector). Jobs are
PyFlink SQL scripts (fixtures/kinesis_connector_job.py) submitted with ``bin/flink run -d``:
read stream A with ``platform-kinesis`` + ``event-json``, write ``id`` (event_id, or the raw
line of a malformed record), ``user_id``, ``amount``, ``parse_problem`` to stream B with
``platform-kinesis`` + ``json`` keyed by ``user_id``. B is read back with boto3.

* round trip: every record of A arrives in B exactly once, malformed records included;
* restore: stop-with-savepoint, more records, resubmit from the savepoint: every record
  exactly once over both runs (the source resumed after its checkpointed sequence numbers);
* LATEST: records put after the enumerator's start are read even when the reader starts
  later; records put before are not;
* a stream that does not exist fails the job naming its ARN;
* the sink sends rejected entries again (each row accepted once), and fails naming the stream
  and the last error code when ``sink.retry.max-attempts`` is exhausted (a stub endpoint,
  fixtures/kinesis_test_servers.py: moto never rejects an entry);
* a misspelt option fails at planning naming the option.

Throughput: bench/bench_kinesis_connector.py.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from .flink_client import (
    cancel,
    completed_checkpoints,
    exceptions,
    job_state,
    wait_state,
    wait_until,
)
from .kinesis_harness import (
    Streams,
    labelled_lines,
    run_job,
    start_server,
    stop_server,
    submit,
)

pytestmark = [pytest.mark.flink, pytest.mark.slow]


@pytest.fixture()
def streams(moto_server, platform_config):
    helper = Streams(moto_server, platform_config.region)
    yield helper
    helper.delete_created()


def wait_for_ids(streams: Streams, arn: str, expected: set[str], rest: str, job_id: str,
                 timeout_s: float = 240) -> list[str]:
    """Poll B until every expected id is there (fails early if the job fails)."""
    def arrived():
        if job_state(rest, job_id) in ("FAILED", "CANCELED", "FINISHED"):
            raise AssertionError(f"job {job_id} ended: {exceptions(rest, job_id)}")
        ids = streams.ids(arn)
        return ids if expected <= set(ids) else None
    return wait_until(arrived, timeout_s, f"{len(expected)} records in {arn}", interval_s=1)


def settle(rest: str, job_id: str) -> None:
    """Wait for a checkpoint that started after now: the sink flushed all it had before."""
    done = completed_checkpoints(rest, job_id)
    wait_until(lambda: completed_checkpoints(rest, job_id) >= done + 2, 60,
               f"two more checkpoints of {job_id}")


def subtask_metric(rest: str, job_id: str, suffix: str) -> str | None:
    """Value of the first metric of subtask 0 (any vertex) whose id ends with ``suffix``
    (None until the REST metric fetcher has it: poll)."""
    for vertex in requests.get(f"{rest}/jobs/{job_id}", timeout=10).json()["vertices"]:
        url = f"{rest}/jobs/{job_id}/vertices/{vertex['id']}/subtasks/0/metrics"
        names = [m["id"] for m in requests.get(url, timeout=10).json() if m["id"].endswith(suffix)]
        if names:
            values = requests.get(url, params={"get": names[0]}, timeout=10).json()
            return values[0]["value"] if values else None
    return None


def enumerator_metric(rest: str, job_id: str, suffix: str) -> str | None:
    for vertex in requests.get(f"{rest}/jobs/{job_id}", timeout=10).json()["vertices"]:
        url = f"{rest}/jobs/{job_id}/vertices/{vertex['id']}/jm-operator-metrics"
        names = [m["id"] for m in requests.get(url, timeout=10).json() if m["id"].endswith(suffix)]
        if names:
            values = requests.get(url, params={"get": names[0]}, timeout=10).json()
            return values[0]["value"] if values else None
    return None


def root_exception(rest: str, job_id: str) -> str:
    """The job's latest root exception (stack trace with its causes), in full. Flink 2.x
    dropped the ``root-exception`` field: it is the newest entry of ``exceptionHistory``."""
    data = requests.get(f"{rest}/jobs/{job_id}/exceptions", timeout=10).json()
    entries = data.get("exceptionHistory", {}).get("entries", [])
    return data.get("rootException") or (entries[0].get("stacktrace") or "" if entries else "")


def stop_with_savepoint(rest: str, job_id: str, target: Path) -> str:
    response = requests.post(f"{rest}/jobs/{job_id}/stop", timeout=30,
                             json={"targetDirectory": target.as_uri(), "drain": False})
    response.raise_for_status()
    trigger = response.json()["request-id"]

    def location():
        status = requests.get(f"{rest}/jobs/{job_id}/savepoints/{trigger}", timeout=10).json()
        if status["status"]["id"] != "COMPLETED":
            return None
        operation = status["operation"]
        assert "failure-cause" not in operation, operation["failure-cause"]
        return operation["location"]
    return wait_until(location, 120, f"savepoint of {job_id}")


def job_ids(rest: str) -> set[str]:
    return {job["id"] for job in requests.get(f"{rest}/jobs", timeout=10).json()["jobs"]}


def test_round_trip_exactly_the_records_sent(streams, flink_cluster, platform_config,
                                             moto_server, submitted_jobs):
    """20,000 records (0.5% malformed) over 2 shards and many keys -> job -> B: the same
    ids, each once; malformed records arrive as rows with their parse_problem."""
    source, sink = streams.create("kin-a", 2), streams.create("kin-b", 2)
    lines, expected = labelled_lines(0, 20_000, malformed_every=200)
    streams.put(source, lines)
    job_id = submit(platform_config, moto_server, submitted_jobs, source_arn=source,
                    sink_arn=sink, source_options={"source.init.position": "TRIM_HORIZON"})
    wait_for_ids(streams, sink, expected, flink_cluster, job_id)
    settle(flink_cluster, job_id)

    rows = streams.read(sink)
    ids = [row["id"] for row in rows]
    assert set(ids) == expected
    duplicates = len(ids) - len(set(ids))
    assert duplicates == 0, f"{duplicates} duplicates"
    malformed = [row for row in rows if row["id"].startswith("malformed #")]
    assert len(malformed) == 100 and {row["parse_problem"] for row in malformed} == {"bad_json"}
    assert all(row["parse_problem"] is None for row in rows if row["id"].startswith("e7-"))
    # B is keyed by user_id (sink.partition-key.field); rows without one get a random key.
    for shard in streams.client.list_shards(StreamARN=sink)["Shards"]:
        iterator = streams.client.get_shard_iterator(
            StreamARN=sink, ShardId=shard["ShardId"],
            ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        for record in streams.client.get_records(StreamARN=sink, ShardIterator=iterator,
                                                 Limit=10_000)["Records"]:
            user = json.loads(record["Data"])["user_id"]
            assert (record["PartitionKey"] == user if user
                    else re.fullmatch(r"[0-9a-f]{1,16}", record["PartitionKey"])), record
    behind = wait_until(lambda: subtask_metric(flink_cluster, job_id, ".millisBehindLatest"),
                        60, "the reader's millisBehindLatest metric")
    assert int(behind) == 0  # caught up


def test_restore_from_savepoint_reads_each_record_once(streams, flink_cluster, platform_config,
                                                       moto_server, submitted_jobs, tmp_path):
    source, sink = streams.create("kin-a", 2), streams.create("kin-b", 1)
    first, first_ids = labelled_lines(0, 5_000)
    second, second_ids = labelled_lines(5_000, 5_000)
    streams.put(source, first)
    job_id = submit(platform_config, moto_server, submitted_jobs, source_arn=source,
                    sink_arn=sink, source_options={"source.init.position": "TRIM_HORIZON"})
    wait_for_ids(streams, sink, first_ids, flink_cluster, job_id)
    savepoint = stop_with_savepoint(flink_cluster, job_id, tmp_path / "savepoints")
    wait_state(flink_cluster, job_id, {"FINISHED"}, 60)

    streams.put(source, second)  # while no job runs
    restored = submit(platform_config, moto_server, submitted_jobs, source_arn=source,
                      sink_arn=sink, source_options={"source.init.position": "TRIM_HORIZON"},
                      savepoint=savepoint)
    wait_for_ids(streams, sink, first_ids | second_ids, flink_cluster, restored)
    settle(flink_cluster, restored)

    ids = streams.ids(sink)
    assert set(ids) == first_ids | second_ids
    duplicates = len(ids) - len(set(ids))
    assert duplicates == 0, f"{duplicates} records read twice across the restore"
    checkpoints = requests.get(f"{flink_cluster}/jobs/{restored}/checkpoints", timeout=10).json()
    assert checkpoints["latest"]["restored"]["external_path"].rstrip("/") == savepoint.rstrip("/")


class Producer(threading.Thread):
    """Puts small batches of labelled lines at a steady pace until stopped; remembers, per
    batch, the wall-clock window [sent, acknowledged] of its PutRecords call (ms)."""

    def __init__(self, streams: Streams, arn: str, start: int) -> None:
        super().__init__(daemon=True)
        self.streams, self.arn, self.next = streams, arn, start
        self.batches: list[tuple[float, float, set[str]]] = []
        self.stopped = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stopped.is_set():
                lines, ids = labelled_lines(self.next, 20)
                self.next += 20
                sent = time.time() * 1000
                self.streams.put(self.arn, lines)
                self.batches.append((sent, time.time() * 1000, ids))
                self.stopped.wait(0.05)  # pace: ~20 batches/s
        except BaseException as err:  # reported by the test
            self.error = err

    def stop(self) -> None:
        self.stopped.set()
        self.join(30)
        assert self.error is None, self.error


def test_latest_reads_every_record_after_the_job_started(streams, flink_cluster, platform_config,
                                                         moto_server, submitted_jobs):
    """LATEST = AT_TIMESTAMP of the enumerator's start (the ``latestAsTimestamp`` metric):
    a producer runs from before the submission until the job is reading; every batch sent
    after that time must arrive (the first ones before the reader got its iterators: ~0.5 s
    later), none acknowledged before it, nor the records put before the submission."""
    source, sink = streams.create("kin-a", 2), streams.create("kin-b", 1)
    before, before_ids = labelled_lines(0, 1_000)
    streams.put(source, before)
    producer = Producer(streams, source, start=1_000_000)
    producer.start()
    try:
        job_id = submit(platform_config, moto_server, submitted_jobs, source_arn=source,
                        sink_arn=sink)  # default position: LATEST
        latest = int(wait_until(
            lambda: enumerator_metric(flink_cluster, job_id, ".latestAsTimestamp"), 60,
            "the enumerator's latestAsTimestamp"))
        wait_until(lambda: streams.ids(sink), 120, "the first records in B", interval_s=1)
    finally:
        producer.stop()
    after_ids = set().union(*(ids for sent, _, ids in producer.batches if sent > latest))
    early_ids = set().union(*(ids for _, acked, ids in producer.batches if acked < latest))
    assert after_ids and early_ids, "the producer must straddle the enumerator's start"
    ids = set(wait_for_ids(streams, sink, after_ids, flink_cluster, job_id))
    assert not ids & before_ids, "records put before the submission were read"
    assert not ids & early_ids, "records put before the enumerator started were read"


def test_missing_stream_fails_the_job_naming_its_arn(streams, flink_cluster, platform_config,
                                                     moto_server, submitted_jobs):
    sink = streams.create("kin-b", 1)
    missing = sink.rsplit("/", 1)[0] + f"/missing-{uuid.uuid4().hex[:8]}"
    job_id = submit(platform_config, moto_server, submitted_jobs, source_arn=missing,
                    sink_arn=sink)

    def failure():
        text = root_exception(flink_cluster, job_id)
        return text if missing in text else None
    root = wait_until(failure, 120, f"a job exception naming {missing}", interval_s=1)
    assert f"Kinesis stream {missing} does not exist" in root
    cancel(flink_cluster, job_id)


def test_sink_retries_rejected_entries(flink_cluster, platform_config, submitted_jobs):
    """A stub endpoint rejects every other entry the first time it sees it (throughput
    exceeded): the sink sends only the rejected entries again, each row is accepted once."""
    arn = f"arn:aws:kinesis:{platform_config.region}:123456789012:stream/stub"
    stub = start_server(["stub", "--reject", "first"])
    try:
        job_id = submit(platform_config, f"http://127.0.0.1:{stub.port}", submitted_jobs,
                        sink_arn=arn, args=("--source", "datagen", "--rows", "2000"))
        wait_state(flink_cluster, job_id, {"FINISHED"}, 180)
        stats = requests.get(f"http://127.0.0.1:{stub.port}/stats", timeout=10).json()
    finally:
        stop_server(stub)
    ids = [json.loads(base64.b64decode(data))["id"] for data in stats["accepted"]]
    assert sorted(ids) == sorted(f"g{n}" for n in range(2000))
    assert stats["rejected"] == 1000
    assert sum(count for _, count in stats["requests"]) == 3000  # only rejected ones again


def test_sink_fails_naming_stream_and_error_after_max_attempts(flink_cluster, platform_config,
                                                               submitted_jobs):
    arn = f"arn:aws:kinesis:{platform_config.region}:123456789012:stream/always-rejecting"
    stub = start_server(["stub", "--reject", "all"])
    try:
        job_id = submit(platform_config, f"http://127.0.0.1:{stub.port}", submitted_jobs,
                        sink_arn=arn, sink_options={"sink.retry.max-attempts": "3"},
                        args=("--source", "datagen", "--rows", "100"))
        root = wait_until(lambda: root_exception(flink_cluster, job_id), 120,
                          "the sink's failure")
        cancel(flink_cluster, job_id)
    finally:
        stop_server(stub)
    assert f"Kinesis stream {arn}: 100 records not accepted after 3 attempts" in root
    assert "last error code: InternalFailure" in root


@pytest.mark.parametrize("table, option, value", [
    ("source", "source.init.positon", "TRIM_HORIZON"),   # misspelt key
    ("sink", "sink.partition-key.field", "usr_id"),      # no such column
])
def test_bad_option_fails_at_planning_naming_it(streams, platform_config, moto_server,
                                                flink_cluster, table, option, value):
    source, sink = streams.create("kin-a", 1), streams.create("kin-b", 1)
    options = {"source_options" if table == "source" else "sink_options": {option: value}}
    jobs_before = job_ids(flink_cluster)
    proc = run_job(platform_config, moto_server, source_arn=source, sink_arn=sink, **options)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, "the job was submitted despite the bad option"
    assert option in output and "JobID" not in output, output[-3000:]
    assert job_ids(flink_cluster) == jobs_before
