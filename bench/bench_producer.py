"""Load-test producer throughput: into the AWS emulator, and the producer's own ceiling.

Runs its own moto server (free port, state dir .local/bench-producer) and measures:
- ``emulator_1_producer_events_per_s``: one producer process into a fresh 2-shard stream.
- ``emulator_<N>_producers_events_per_s``: N producer processes side by side (as N mapped
  tasks would run), each with 1/N of the rate, into a fresh stream. The emulator
  serializes Kinesis calls (flink_platform.local.moto_server: moto's own server loses
  records to concurrent writers), so the emulator, not the producer, is the limit here;
  ``emulator_failed_records`` and ``emulator_records_lost`` (read back) must be 0.
- ``ceiling_<RTT>ms_sink_events_per_s``: one producer (one worker slot, 4 batches in
  flight) against an in-process sink that answers every PutRecords after a fixed round
  trip (0 and 30 ms, a typical in-region Kinesis call): what the producer itself can
  generate, encode, batch and send. Not Kinesis: the figure that says whether the
  producer could ever be the bottleneck on ``aws``.
Target: ceiling_30ms >= 1,000 records/s per shard x the shard count of aws.yaml's stream.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time

from _common import isolate_local_stack, write_result

SECONDS = 8
OFFERED_EVENTS_PER_S = 50_000  # more than any sink here takes: measures the ceiling
N_PRODUCERS = 4



def _setup_env() -> None:
    isolate_local_stack("producer")
    os.environ["FLINK_PLATFORM_TARGET"] = "local"
    from flink_platform.config import load_config
    from flink_platform.local.env import airflow_settings

    os.environ.update(airflow_settings(load_config("local")))  # aws_default -> this moto


class TimedSink:
    """PutRecords that accepts every record after ``rtt_s`` (the producer-ceiling sink)."""

    def __init__(self, rtt_s: float) -> None:
        self.rtt_s = rtt_s

    def put_records(self, Records, **stream):  # boto3's argument names
        if self.rtt_s:
            time.sleep(self.rtt_s)
        return {"FailedRecordCount": 0,
                "Records": [{"ShardId": "shardId-000000000000", "SequenceNumber": "1"}
                            for _ in Records]}


def _client(cfg):
    from flink_platform.loadtest.kinesis_io import kinesis_client

    return kinesis_client(cfg.aws_conn_id, cfg.region)


def _spec(stream: str, producers: int, producer: int = 0):
    from flink_platform.loadtest.plan import LoadPlan

    plan = LoadPlan(stream=stream, target_events_per_s=OFFERED_EVENTS_PER_S,
                    duration_s=SECONDS, producers=producers, start_s=time.time(),
                    origin_ms=int(time.time() * 1000))
    return plan.producer_specs()[producer]


def _produce(stream: str, producers: int, producer: int, queue) -> None:
    from flink_platform.config import load_config
    from flink_platform.loadtest.events import trading_event_source
    from flink_platform.loadtest.producer import run_producer

    cfg = load_config("local")
    stats = run_producer(_spec(stream, producers, producer), _client(cfg), trading_event_source(7))
    queue.put(stats.to_dict())


def _emulator_run(cfg, kinesis, producers: int) -> dict:
    stream = f"bench-{producers}-{int(time.time())}"
    kinesis.create_stream(StreamName=stream, ShardCount=cfg.streams.trading_events.shards)
    deadline = time.monotonic() + 30
    while kinesis.describe_stream_summary(StreamName=stream)[
            "StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise TimeoutError(stream)
        time.sleep(0.1)  # poll interval
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_produce, args=(stream, producers, p, queue))
             for p in range(producers)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=SECONDS * 10) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    started = min(r["started_at"] for r in results)
    ended = max(r["ended_at"] for r in results)
    accepted = sum(r["accepted"] for r in results)
    from flink_platform.loadtest.kinesis_io import read_stream

    read = len(read_stream(kinesis, stream, expected=accepted, timeout_s=120))
    return {"events_per_s": round(accepted / (ended - started)),
            "failed": sum(r["failed"] for r in results), "lost": accepted - read}


def _ceiling(rtt_s: float) -> int:
    from flink_platform.loadtest.events import trading_event_source
    from flink_platform.loadtest.producer import run_producer

    stats = run_producer(_spec("sink", 1), TimedSink(rtt_s), trading_event_source(7),
                         max_in_flight=4)
    return round(stats.accepted / (stats.ended_at - stats.started_at))


def main() -> int:
    _setup_env()
    from flink_platform.config import load_config
    from flink_platform.loadtest.kinesis_io import kinesis_client
    from flink_platform.local.stack import LocalStack

    cfg = load_config("local")
    stack = LocalStack(cfg)
    figures: dict[str, float | int | str] = {}
    try:
        stack.start("moto")
        kinesis = kinesis_client(cfg.aws_conn_id, cfg.region)
        one = _emulator_run(cfg, kinesis, 1)
        many = _emulator_run(cfg, kinesis, N_PRODUCERS)
        figures.update({
            "emulator_1_producer_events_per_s": one["events_per_s"],
            f"emulator_{N_PRODUCERS}_producers_events_per_s": many["events_per_s"],
            "emulator_failed_records": one["failed"] + many["failed"],
            "emulator_records_lost": one["lost"] + many["lost"],
        })
    finally:
        stack.down(("moto",))
    shards = load_config("aws").streams.trading_events.shards  # the aws stream's shards
    required = 1000 * shards
    ceiling_0 = _ceiling(0.0)
    ceiling_30 = _ceiling(0.030)
    figures.update({
        "ceiling_0ms_sink_events_per_s": ceiling_0,
        "ceiling_30ms_sink_events_per_s": ceiling_30,
        "aws_shards": shards,
        "aws_required_events_per_s": required,
        "producer_not_bottleneck_on_aws": ceiling_30 >= required,
        "seconds_per_run": SECONDS,
        "cpus": os.cpu_count() or 0,
    })
    write_result("producer", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
