"""What the ``platform_load_test`` tasks do, as plain functions of the platform config.

The DAG file stays a thin wiring of these; tests call them directly. Heavy imports
(boto3, the Amazon provider, matplotlib) happen inside the functions.

The data path is the platform's own on both targets: producers put labelled trades on the
provisioned trades stream and market ticks on the market-data stream (ARNs from the
``platform_provisioned`` event), the jobs read them through their Kinesis source, the
fraud job puts its alerts on the alerts stream, which is read back here. Flink's own
source counters show what it read. Every run continues where the previous run on the same
bucket stopped (``loadtest/next-run.json``): the next generator period (fresh scenario
users) and an event clock that starts after the last event time sent (plan.py).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from typing import Any

from flink_platform.config import PlatformConfig
from flink_platform.data_plane import DataPlane
from flink_platform.loadtest.plan import LoadPlan, ProducerSpec, Slos

log = logging.getLogger(__name__)

NEXT_RUN_KEY = "loadtest/next-run.json"
SAMPLE_INTERVAL_S = 1.0
DRAIN_TIMEOUT_S = 120.0
HEARTBEAT_EVERY_S = 0.1
EVENT_TIME_GAP_MS = 600_000  # between runs: longer than any rule's window (CEP: 10 min)


def bucket_name(cfg: PlatformConfig) -> str:
    return cfg.resource_name(cfg.bucket.name)


def s3_client(cfg: PlatformConfig) -> Any:
    from flink_platform.aws.clients import client

    return client(cfg, "s3")


def shard_starts(cfg: PlatformConfig, arn: str) -> list[str]:
    """Starting hash keys of the stream's open shards, ascending (producers' ownership);
    decimal strings as Kinesis gives them: up to 2**128, more than JSON XCom carries."""
    from flink_platform.loadtest.kinesis_io import kinesis_client, stream_shards

    shards = stream_shards(kinesis_client(cfg.aws_conn_id, cfg.region), arn)
    return [str(k) for k in sorted(int(s["HashKeyRange"]["StartingHashKey"]) for s in shards)]


def plan_from_params(cfg: PlatformConfig, params: dict[str, Any], plane: DataPlane,
                     previous: dict[str, int] | None = None) -> LoadPlan:
    """The plan of this run from its Params (knobs validated again, cross-field too), after
    the ``previous`` run (:func:`previous_run`), on the streams' current shards."""
    from flink_platform.loadtest.plan import next_period

    previous = previous or {}
    streams = (plane.trading_events_arn, plane.market_data_arn)
    slos = Slos(**{name: params.get(f"slo_{name}", default)
                   for name, default in Slos().__dict__.items()})
    now = time.time()
    plan = LoadPlan(
        stream=plane.trading_events_arn, ticks_stream=plane.market_data_arn,
        target_events_per_s=int(params["target_events_per_s"]),
        duration_s=int(params["duration_s"]), ramp_steps=int(params.get("ramp_steps", 1)),
        producers=int(params.get("producers", 1)), seed=int(params.get("seed", 42)),
        malformed_rate=float(params.get("malformed_rate", 0.0)),
        first_index=next_period(previous.get("next_index", 0)), start_s=now,
        origin_ms=max(int(now * 1000), previous.get("next_event_ms", 0)), slos=slos,
        finish=bool(params.get("finish", False)),
        shards={arn: shard_starts(cfg, arn) for arn in streams})
    return replace(plan, flush_s=flush_seconds(cfg, plan.clock.steps[-1][1]))


def plan_from_dict(data: dict[str, Any]) -> LoadPlan:
    keep = {k: v for k, v in data.items() if k in LoadPlan.__dataclass_fields__}
    return LoadPlan(**{**keep, "slos": Slos(**data["slos"])})


def check_bucket(cfg: PlatformConfig) -> str:
    """The platform bucket the report goes to; LookupError before any load when missing."""
    from flink_platform.aws.clients import is_not_found

    bucket = bucket_name(cfg)
    try:
        s3_client(cfg).head_bucket(Bucket=bucket)
    except Exception as err:  # botocore's errors are per client
        if is_not_found(err):
            raise LookupError(f"platform bucket {bucket!r} does not exist: run the provision "
                              "DAG first (the report is stored under reports/ there)") from None
        raise
    return bucket


def previous_run(cfg: PlatformConfig) -> dict[str, int]:
    """``next_index`` / ``next_event_ms`` after every earlier run on this bucket ({} first)."""
    from flink_platform.aws.clients import error_code, is_not_found

    try:
        body = s3_client(cfg).get_object(Bucket=bucket_name(cfg), Key=NEXT_RUN_KEY)["Body"].read()
    except Exception as err:
        if is_not_found(err) or error_code(err) == "NoSuchKey":
            return {}
        raise
    return json.loads(body)


def save_next_run(cfg: PlatformConfig, plan: LoadPlan, run_id: str,
                  last_event_ms: int | None = None) -> dict[str, int]:
    """Record what this run used (never moves backwards), so the next run starts after it."""
    first, count = plan.trade_range
    previous = previous_run(cfg)
    used = {"next_index": max(first + count, previous.get("next_index", 0)),
            "next_event_ms": max((last_event_ms or plan.end_event_ms) + EVENT_TIME_GAP_MS,
                                 previous.get("next_event_ms", 0))}
    s3_client(cfg).put_object(Bucket=bucket_name(cfg), Key=NEXT_RUN_KEY,
                        Body=json.dumps({**used, "run_id": run_id}).encode())
    return used


# -- Flink side --------------------------------------------------------------------------

def flink_targets(cfg: PlatformConfig, jobs: list[str]) -> list[dict[str, Any]]:
    """Sampler targets, with each running job's source counters before the load."""
    from flink_platform.adapters import get_flink_adapter
    from flink_platform.loadtest.sampler import source_records

    adapter = get_flink_adapter(cfg)
    session = adapter.rest_session()
    targets = []
    for job in jobs:
        status = adapter.status(job)
        rest_url = adapter.metrics_endpoint(job)
        baseline = (source_records(rest_url, status.job_id, session)
                    if status.job_id and status.job_state == "RUNNING" else {})
        targets.append({"job": job, "rest_url": rest_url, "job_id": status.job_id,
                        "state": status.lifecycle_state, "job_state": status.job_state,
                        "error": status.error, "sources_before": baseline})
    return targets


def sample_flink(cfg: PlatformConfig, targets: list[dict[str, Any]], duration_s: float,
                 interval_s: float = SAMPLE_INTERVAL_S) -> dict[str, Any]:
    """Follow the targets for ``duration_s`` (job state, plan, checkpoints: Flink's REST
    API, on ``aws`` through the Kubernetes API server's proxy), then read the run's time
    series back from the platform's Prometheus (``query_range``, prometheus_series): a
    figure it cannot give fails the task, naming it."""
    from flink_platform.adapters import get_flink_adapter
    from flink_platform.loadtest.prometheus_series import PrometheusRange, read_job_series
    from flink_platform.loadtest.sampler import FlinkMetricsSampler, JobTarget

    live = [JobTarget(t["job"], t["rest_url"], t["job_id"]) for t in targets
            if t.get("job_id") and t.get("rest_url")]
    if not live:
        return {"samples": [], "checkpoints": {}, "failed_checkpoints": {},
                "started_at": time.time(), "ended_at": time.time(), "interval_s": interval_s}
    adapter = get_flink_adapter(cfg)
    session = adapter.rest_session()
    sampled = FlinkMetricsSampler(live, kinesis_lag=True, session=session).run(
        duration_s, interval_s)
    server = adapter.prometheus_server()
    prom = PrometheusRange(server["url"], session)
    # the last scrape of the window lands up to one interval later: poll until it did
    prom.wait_scraped([p["job_id"] for p in sampled.get("plans", {}).values()],
                      sampled["ended_at"], timeout_s=4 * server["scrape_interval_s"])
    sampled["prometheus"] = {
        "url": server["url"], "scrape_interval_s": server["scrape_interval_s"],
        "jobs": read_job_series(prom, sampled.get("plans", {}), sampled["started_at"],
                                sampled["ended_at"], server["scrape_interval_s"])}
    return sampled


def drain_sources(cfg: PlatformConfig, plan: LoadPlan, targets: list[dict[str, Any]],
                  produced: dict[str, int], producers_done_at: float,
                  timeout_s: float = DRAIN_TIMEOUT_S) -> dict[str, Any]:
    """Wait until every job's Kinesis sources have read what the producers put on the
    streams they read (Flink's own counters: ``read = now - before``), while heartbeats
    carry the event clock on until the jobs' watermarks passed every event of the run.

    Returns, per job, what was read and how long after the last send it had all been read;
    and the heartbeats sent."""
    from flink_platform.adapters import get_flink_adapter
    from flink_platform.loadtest.sampler import source_records

    session = get_flink_adapter(cfg).rest_session()
    live = [t for t in targets if t.get("job_id") and t.get("job_state") == "RUNNING"]
    beats = Heartbeats(cfg, plan, _flush_s(cfg, plan, producers_done_at))
    deadline = time.monotonic() + timeout_s
    result: dict[str, Any] = {"jobs": {}, "heartbeats": 0}
    with beats:
        while True:
            final = beats.done.is_set()  # heartbeats over: everything sent is counted
            want = {s: n + (beats.sent if final else 0) for s, n in produced.items()}
            for target in live:
                counts = source_records(target["rest_url"], target["job_id"], session)
                read = {s: counts[s] - target["sources_before"].get(s, 0) for s in counts}
                entry = result["jobs"].setdefault(target["job"], {"caught_up_after_s": None})
                entry["read"] = {s: n - (beats.sent if final else 0) for s, n in read.items()}
                if entry["caught_up_after_s"] is None and all(
                        read[s] >= produced.get(s, 0) for s in read):
                    entry["caught_up_after_s"] = round(time.time() - producers_done_at, 2)
                entry["caught_up"] = all(read[s] >= want.get(s, 0) for s in read)
            if final and all(e["caught_up"] for e in result["jobs"].values()):
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
    result["heartbeats"] = beats.sent
    return result


def flush_seconds(cfg: PlatformConfig, speed: float) -> float:
    """Wall seconds of heartbeats that move the jobs' watermarks past an event: their
    watermark delay (job parameter ``watermark_delay_s``, 5 s by default) plus 2 s, in
    event time at ``speed`` (at least 1 s)."""
    delay_s = max(int(job.args.get("watermark_delay_s", 5)) for job in cfg.jobs.values())
    return max(1.0, (delay_s + 2) / max(speed, 1e-6))


def _flush_s(cfg: PlatformConfig, plan: LoadPlan, producers_done_at: float) -> float:
    """What is left of the flush after the last send, when the drain starts."""
    wall_s = flush_seconds(cfg, plan.clock.steps[-1][1])
    return max(1.0, producers_done_at + wall_s - time.time())


class Heartbeats:
    """Background heartbeats (events.heartbeat) on both input streams for ``seconds``."""

    def __init__(self, cfg: PlatformConfig, plan: LoadPlan, seconds: float) -> None:
        import threading

        from flink_platform.loadtest.kinesis_io import kinesis_client

        self.client = kinesis_client(cfg.aws_conn_id, cfg.region)
        self.plan, self.seconds, self.sent = plan, seconds, 0
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="heartbeats")

    def __enter__(self) -> Heartbeats:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self._thread.join()

    def _run(self) -> None:
        from flink_platform.loadtest.events import heartbeat

        clock, end = self.plan.clock, time.monotonic() + self.seconds
        try:
            while time.monotonic() < end and not self.done.is_set():
                now = clock.event_ms(time.time())
                trade, tick = heartbeat(self.plan.seed, self.sent, now)
                self.client.put_record(StreamARN=self.plan.stream, Data=trade[0](now),
                                       PartitionKey=trade[1])
                if self.plan.ticks_stream:
                    self.client.put_record(StreamARN=self.plan.ticks_stream, Data=tick[0](now),
                                           PartitionKey=tick[1])
                self.sent += 1
                time.sleep(HEARTBEAT_EVERY_S)
        finally:
            self.done.set()


# -- producers ---------------------------------------------------------------------------

def produce(cfg: PlatformConfig, spec: dict[str, Any], max_in_flight: int = 1) -> dict[str, Any]:
    """Run one mapped producer over its slice of the event index range."""
    from flink_platform.loadtest.events import market_tick_source, trading_event_source
    from flink_platform.loadtest.kinesis_io import kinesis_client
    from flink_platform.loadtest.producer import run_producer

    producer_spec = ProducerSpec.from_dict(spec)
    client = kinesis_client(cfg.aws_conn_id, cfg.region, max_pool=max_in_flight * 4)
    stats = run_producer(producer_spec,
                         client, trading_event_source(producer_spec.seed,
                                                      producer_spec.malformed_rate),
                         market_tick_source(producer_spec.seed), max_in_flight=max_in_flight)
    result = stats.to_dict()
    log.info("producer %d: %d accepted (%s), %d failed, %d retried, %.0f events/s",
             spec["producer"], result["accepted"], result["stream_counts"], result["failed"],
             result["retried"], result["achieved_events_per_s"])
    return result


def ground_truth_sent(plan: LoadPlan, producers: list[dict[str, Any]]) -> Any:
    """The labels of what the producers sent. A producer that ran out of time stopped short
    of the plan's range: scenarios past the point every producer reached may have been
    sent in part, so they count as partial (neither expected nor false positives)."""
    from include.flink_jobs.streaming_events import ground_truth

    first = plan.trade_range[0]
    ends = [p.get("end_index", first) for p in producers] or [first]
    truth = ground_truth(plan.seed, first, max(ends) - first, malformed_rate=plan.malformed_rate)
    cut = [s for s in truth.scenarios if max(s.indices) >= min(ends)]
    truth.scenarios = [s for s in truth.scenarios if max(s.indices) < min(ends)]
    truth.partial_users |= {s.user_id for s in cut}
    truth.sent_range = (first, max(ends))
    return truth


def produced_by_stream(plan: LoadPlan, producers: list[dict[str, Any]]) -> dict[str, int]:
    """Records accepted per stream role: ``trades`` and ``ticks`` (the sources' names)."""
    counts = {"trades": 0, "ticks": 0}
    for p in producers:
        for stream, n in p["stream_counts"].items():
            counts["trades" if stream == plan.stream else "ticks"] += n
    return counts


# -- alerts -------------------------------------------------------------------------------

def collect_alerts(cfg: PlatformConfig, plane: DataPlane, plan: LoadPlan,
                   producers: list[dict[str, Any]]) -> dict[str, Any]:
    """Read the alerts stream since the run started; judge against the ground truth."""
    from flink_platform.loadtest.alerts import evaluate, expected_alert_ids, read_alerts
    from flink_platform.loadtest.kinesis_io import kinesis_client

    truth = ground_truth_sent(plan, producers)
    started = min((p["started_at"] for p in producers), default=time.time())
    read = read_alerts(kinesis_client(cfg.aws_conn_id, cfg.region), plane.fraud_alerts_arn,
                       started - 1.0, expected_alert_ids(truth))
    sent_ms = {k: v for p in producers for k, v in p.get("sent_ms", {}).items()}
    result = evaluate(truth, read.alerts, sent_ms)
    result.update(alerts_delivered=len(read.alerts), alert_records=read.records,
                  duplicates=read.duplicates, complete=read.complete, waited_s=read.waited_s,
                  scenarios=len(truth.scenarios), malformed_sent=len(truth.malformed),
                  trade_range=list(truth.sent_range))
    return result
