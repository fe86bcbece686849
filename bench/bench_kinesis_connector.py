"""The ``platform-kinesis`` connector's throughput at parallelism 1, on this machine.

Its own local stack (free ports, state dir .local/bench-kinesis-connector); the SQL job and
servers of tests/flink_jobs (kinesis_harness). Figures, per case:

* read: TRIM_HORIZON -> blackhole, from the source's ``numRecordsIn`` (live Prometheus
  counters), for 200k records over 4 shards and one shard of 50k / 500k records, with
  ``source.get-records.max`` 10,000 and 1,000; plus the pre-filled moto server's CPU share;
* write: datagen -> json -> platform-kinesis, into moto (4 shards, 100k rows: from the
  records' arrival times) and into a stub endpoint that accepts everything (1M rows: the
  connector's own ceiling).

``steady_records_per_s``: between 10% and 90% of the records; ``overall_records_per_s``:
first to last record. ``python bench/bench_kinesis_connector.py``
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from pathlib import Path

import requests

from _common import ROOT, isolate_local_stack, reporter_lines, write_result

sys.path.insert(0, str(ROOT / "tests" / "flink_jobs"))


def prometheus_counter(cfg, job_name: str, metric: str, operator: str) -> float | None:
    """Live value of an operator counter of a job from the cluster's Prometheus reporters
    (REST metrics are refreshed only every 10 s): ``metric`` summed over the lines of job
    ``job_name`` whose operator_name (sanitized: ``Source:_src_1_``) contains ``operator``."""
    pattern = re.compile(rf"^flink_taskmanager_job_task_operator_{metric}\{{(.*)\}} (\S+)$")
    total = None
    for line in reporter_lines(cfg):
        match = pattern.match(line)
        labels = match.group(1) if match else ""
        if (match and f'job_name="{job_name}"' in labels
                and re.search(rf'operator_name="[^"]*{re.escape(operator)}', labels)):
            total = (total or 0.0) + float(match.group(2))
    return total


def rates(events: list[tuple[float, float]], total: int) -> dict:
    """``events``: (time s, records) in time order, summing to ``total``. The rate between
    10% and 90% of the records (steady state) and from the first to the last record."""
    events = sorted(events)
    cumulative, done = [], 0.0
    for at, count in events:
        done += count
        cumulative.append((at, done))

    def time_at(level: float) -> float:
        previous = (events[0][0], 0.0)
        for at, value in cumulative:
            if value >= level:
                t0, v0 = previous
                return t0 + (at - t0) * ((level - v0) / (value - v0) if value > v0 else 1.0)
            previous = (at, value)
        return cumulative[-1][0]
    assert cumulative[-1][1] >= total, f"{cumulative[-1][1]:.0f} of {total} records"
    seconds = cumulative[-1][0] - events[0][0]
    return {"records": total, "seconds": round(seconds, 1),
            "steady_records_per_s": round(
                0.8 * total / (time_at(0.9 * total) - time_at(0.1 * total))),
            "overall_records_per_s": round(total / seconds) if seconds > 0 else None}


class CounterSampler(threading.Thread):
    """Samples a counter every 0.2 s (from before the job exists) until it reaches ``total``:
    the increments are the events of :func:`rates`. ``pid``: a process whose CPU share
    between the first and the last increment is reported too."""

    def __init__(self, read, total: int, pid: int | None = None, timeout_s: float = 900) -> None:
        super().__init__(daemon=True)
        self.read, self.total, self.pid, self.timeout_s = read, total, pid, timeout_s
        self.events: list[tuple[float, float]] = []
        self.cpu: list[float] = []

    def run(self) -> None:
        deadline, last = time.monotonic() + self.timeout_s, 0.0
        while time.monotonic() < deadline and last < self.total:
            value = self.read()
            if value is not None and value > last:
                self.events.append((time.monotonic(), value - last))
                if self.pid:
                    self.cpu.append(cpu_seconds(self.pid))
                last = value
            time.sleep(0.2)

    def cpu_share(self) -> float | None:
        if len(self.cpu) < 2:
            return None
        return round((self.cpu[-1] - self.cpu[0]) / (self.events[-1][0] - self.events[0][0]), 2)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(cfg, rest: str, moto_server: str, jobs: list[str]) -> dict:
    from flink_client import cancel, wait_state
    from flink_platform.local.stack import LocalStack
    from kinesis_harness import Streams, start_server, stop_server, submit

    streams = Streams(moto_server, cfg.region)

    results = {}
    for name, shards, records, limit in (("source_4_shards_200k", 4, 200_000, 10_000),
                                         ("source_1_shard_50k", 1, 50_000, 10_000),
                                         ("source_1_shard_500k", 1, 500_000, 10_000),
                                         ("source_1_shard_50k_max1000", 1, 50_000, 1_000),
                                         ("source_1_shard_500k_max1000", 1, 500_000, 1_000)):
        server = start_server(["moto", "--shards", str(shards), "--records", str(records),
                               "--region", cfg.region])
        try:
            job_name = f"kinesis_bench_{name}"
            sampler = CounterSampler(
                lambda job_name=job_name: prometheus_counter(cfg, job_name, "numRecordsIn",
                                                             "Source:_src"), records,
                pid=server.pid)
            sampler.start()
            job_id = submit(cfg, f"http://127.0.0.1:{server.port}", jobs,
                            source_arn=f"arn:aws:kinesis:{cfg.region}:123456789012:stream/bench",
                            source_options={"source.init.position": "TRIM_HORIZON",
                                            "source.get-records.max": str(limit)},
                            args=("--sink", "blackhole"), name=job_name)
            sampler.join()
            results[name] = {**rates(sampler.events, records),
                             "moto_cpu_share": sampler.cpu_share()}
            cancel(rest, job_id)
        finally:
            stop_server(server)
        print(name, results[name], flush=True)

    rows = 100_000
    sink = streams.create("kin-bench-sink", 4)
    moto_pid = LocalStack(cfg).record("moto")["pid"]
    cpu0 = cpu_seconds(moto_pid)
    job_id = submit(cfg, moto_server, jobs, sink_arn=sink, name="kinesis_bench_sink",
                    args=("--source", "datagen", "--rows", str(rows)))
    wait_state(rest, job_id, {"FINISHED"}, 600)
    moto_cpu = cpu_seconds(moto_pid) - cpu0
    arrivals = []
    for shard in streams.client.list_shards(StreamARN=sink)["Shards"]:
        iterator = streams.client.get_shard_iterator(
            StreamARN=sink, ShardId=shard["ShardId"],
            ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while True:
            response = streams.client.get_records(StreamARN=sink, ShardIterator=iterator,
                                                  Limit=10_000)
            arrivals += [(r["ApproximateArrivalTimestamp"].timestamp(), 1)
                         for r in response["Records"]]
            if not response["Records"]:
                break
            iterator = response["NextShardIterator"]
    results["sink_moto_4_shards_100k"] = rates(arrivals, rows)
    results["sink_moto_4_shards_100k"]["moto_cpu_seconds"] = round(moto_cpu, 1)
    print("sink_moto_4_shards_100k", results["sink_moto_4_shards_100k"], flush=True)

    rows = 1_000_000
    stub = start_server(["stub"])
    try:
        job_id = submit(cfg, f"http://127.0.0.1:{stub.port}", jobs, sink_arn=sink,
                        name="kinesis_bench_sink_stub",
                        args=("--source", "datagen", "--rows", str(rows)))
        wait_state(rest, job_id, {"FINISHED"}, 600)
        stats = requests.get(f"http://127.0.0.1:{stub.port}/stats", timeout=10).json()
    finally:
        stop_server(stub)
    results["sink_stub_1m"] = rates([tuple(e) for e in stats["requests"]], rows)
    print("sink_stub_1m", results["sink_stub_1m"], flush=True)
    streams.delete_created()
    return results


def main() -> int:
    isolate_local_stack("kinesis-connector")
    from flink_platform.config import load_config
    from flink_platform.local.stack import LocalStack

    cfg = load_config("local")
    stack = LocalStack(cfg)
    jobs: list[str] = []
    try:
        stack.up(("moto", "jobmanager", "taskmanager"))
        results = run(cfg, f"http://127.0.0.1:{cfg.local.flink_rest_port}",
                      f"http://127.0.0.1:{cfg.local.moto_port}", jobs)
    finally:
        stack.down()
    figures = {f"{case}.{key}": value for case, row in results.items()
               for key, value in row.items()}
    write_result("kinesis_connector", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
