"""Kinesis load producer: PutRecords batches, per-record retry with backoff, a held rate.

- Batches hold at most 500 records and 5 MiB (data plus partition key, the PutRecords
  limits); a record over 1 MiB is rejected up front.
- A PutRecords response may accept some records and fail others (``FailedRecordCount``):
  only the failed entries are sent again, after exponential backoff with full jitter
  (``uniform(0, min(cap, base * 2**attempt))``), for the retryable codes
  ProvisionedThroughputExceededException and InternalFailure; a whole call throttled or
  a transport error is retried the same way. After ``max_attempts`` a record counts as
  failed: the run reports it and the zero-failed-records SLO catches it.
- ``max_in_flight`` batches may be in flight at once (a thread pool over one boto3
  client, which is thread-safe). The load test keeps 1: one PutRecords at a time per
  producer, so the event time of each shard only rises (loadtest.plan).
- The rate limiter paces event generation; a slow sink shows up as achieved < target.
- :func:`run_producer` sends a producer's range of labelled trades to the trades stream
  and the market ticks of the same event-time span to the ticks stream (the risk job joins
  both); the rate counts both. It keeps the send time of every scenario event (the events
  fraud alerts name), so event-to-alert latency runs from the producer's send.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from flink_platform.loadtest.plan import ProducerSpec
from flink_platform.loadtest.rate import RateLimiter

log = logging.getLogger(__name__)

MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 5 * 1024 * 1024
MAX_RECORD_BYTES = 1024 * 1024
RETRYABLE_CODES = frozenset({"ProvisionedThroughputExceededException", "InternalFailure",
                             "ThrottlingException", "ServiceUnavailable", "InternalError",
                             "KMSThrottlingException", "LimitExceededException"})
LATENCY_SAMPLES_MAX = 50_000

# A record to put: (data, partition key, tag). The data is bytes, or a callable that takes
# the event time of the moment it is sent (events.Stamped; len() is its size). A tagged
# record's send time is kept under its tag (the event id of a scenario event).
Record = tuple["bytes | Callable[[int], bytes]", str, "str | None"]
# records of indices [start, start + count): source(start, count)
EventSource = Callable[[int, int], list[Record]]


def batches(records: list[Record]) -> list[list[Record]]:
    """Split records into PutRecords batches within the count and size limits."""
    out: list[list[Record]] = []
    current: list[Record] = []
    size = 0
    for record in records:
        rec_size = len(record[0]) + len(record[1].encode())
        if rec_size > MAX_RECORD_BYTES:
            raise ValueError(f"record of {rec_size} bytes exceeds the 1 MiB Kinesis limit")
        if current and (len(current) == MAX_BATCH_RECORDS or size + rec_size > MAX_BATCH_BYTES):
            out.append(current)
            current, size = [], 0
        current.append(record)
        size += rec_size
    if current:
        out.append(current)
    return out


@dataclass
class Backoff:
    """Exponential backoff with full jitter."""

    base_s: float = 0.05
    cap_s: float = 2.0
    max_attempts: int = 10
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        return self.rng.uniform(0, min(self.cap_s, self.base_s * 2 ** attempt))


@dataclass
class ProducerStats:
    """Counters of one producer; ``to_dict`` is what the report reads."""

    producer: int = 0
    planned: int = 0
    accepted: int = 0
    failed: int = 0
    retried: int = 0
    batches: int = 0
    calls: int = 0
    bytes: int = 0
    started_at: float = 0.0
    ended_at: float = 0.0
    generated: int = 0
    planned_s: float = 0.0  # the ramp's length: the rate is never over a shorter window
    error_codes: Counter = field(default_factory=Counter)
    shard_counts: Counter = field(default_factory=Counter)
    per_second: Counter = field(default_factory=Counter)
    put_latency_ms: list[tuple[float, float]] = field(default_factory=list)  # (t, ms)
    stream_counts: Counter = field(default_factory=Counter)  # accepted per stream
    heartbeats: Counter = field(default_factory=Counter)  # of those, heartbeats per stream
    sent_ms: dict[str, float] = field(default_factory=dict)  # tag -> send time (epoch ms)
    end_index: int = 0  # the run's trades before this index were all walked (sent if owned)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def to_dict(self) -> dict[str, Any]:
        elapsed = max(1e-9, self.ended_at - self.started_at, self.planned_s)
        return {
            "producer": self.producer, "planned": self.planned, "generated": self.generated,
            "accepted": self.accepted, "failed": self.failed, "retried": self.retried,
            "stream_counts": dict(self.stream_counts), "heartbeats": dict(self.heartbeats),
            "sent_ms": {k: round(v, 1) for k, v in self.sent_ms.items()},
            "end_index": self.end_index,
            "batches": self.batches, "calls": self.calls, "bytes": self.bytes,
            "started_at": self.started_at, "ended_at": self.ended_at,
            "elapsed_s": round(elapsed, 3),
            "achieved_events_per_s": round(self.accepted / elapsed, 1),
            "error_codes": dict(self.error_codes), "shard_counts": dict(self.shard_counts),
            "per_second": {str(k): v for k, v in sorted(self.per_second.items())},
            "put_latency_ms": [[round(t, 3), round(ms, 2)] for t, ms in self.put_latency_ms],
        }


class KinesisProducer:
    """Send records to one stream with batching, per-record retry and bounded concurrency.

    Submitted records gather into batches of up to 500 records / 5 MiB; a batch goes out
    when it is full or its oldest record waited ``linger_s`` (checked at each submit), and
    at :meth:`close`."""

    def __init__(self, client: Any, stream: str, *, max_in_flight: int = 4,
                 backoff: Backoff | None = None, stats: ProducerStats | None = None,
                 event_clock: Callable[[float], int] | None = None,
                 linger_s: float = 0.1) -> None:
        self.client = client
        self.event_clock = event_clock
        self.stream = stream  # a name, or an ARN (the provisioned data plane)
        from flink_platform.loadtest.kinesis_io import stream_target

        self._target = stream_target(stream)
        self.backoff = backoff or Backoff()
        self.stats = stats or ProducerStats()
        self._pool = ThreadPoolExecutor(max_in_flight, thread_name_prefix="kinesis-put")
        self._slots = threading.BoundedSemaphore(max_in_flight + 1)
        self._errors: list[BaseException] = []
        self.linger_s = linger_s
        self._pending: list[Record] = []
        self._pending_since = 0.0

    # -- public -----------------------------------------------------------------
    def submit(self, records: list[Record]) -> None:
        """Add records; full batches (and a batch that lingered) go out, blocking while
        ``max_in_flight + 1`` batches are pending."""
        if self._errors:
            raise self._errors[0]
        if records and not self._pending:
            self._pending_since = time.monotonic()
        self._pending += records
        lingered = time.monotonic() - self._pending_since >= self.linger_s
        ready = batches(self._pending)
        self._pending = []
        if ready and not lingered and len(ready[-1]) < MAX_BATCH_RECORDS:
            self._pending = ready.pop()  # a part batch keeps gathering
        for batch in ready:
            self._dispatch(batch)

    def _dispatch(self, batch: list[Record]) -> None:
        self._slots.acquire()
        future = self._pool.submit(self.put_batch, batch)
        future.add_done_callback(self._done)

    def close(self) -> ProducerStats:
        """Send what is gathered, wait for every pending batch (retries included) and stop
        the threads."""
        for batch in batches(self._pending):
            self._dispatch(batch)
        self._pending = []
        self._pool.shutdown(wait=True)
        if self._errors:
            raise self._errors[0]
        return self.stats

    def put_batch(self, batch: list[Record]) -> int:
        """PutRecords one batch, resending only failed entries; return records failed.
        Records that take their event time when sent get the event clock's time now."""
        sent_ms = time.time() * 1000  # the send time of every record of the batch
        now_event = self.event_clock(sent_ms / 1000) if self.event_clock else None
        pending = [{"Data": data(now_event) if callable(data) else data, "PartitionKey": key}
                   for data, key, _ in batch]
        tags = {id(entry): tag for entry, (_, _, tag) in zip(pending, batch, strict=True) if tag}
        attempt = 0
        with self.stats.lock:
            self.stats.batches += 1
        while pending:
            t0 = time.perf_counter()
            try:
                response = self.client.put_records(**self._target, Records=pending)
            except Exception as err:  # classified below
                code = _error_code(err)
                if code not in RETRYABLE_CODES or attempt + 1 >= self.backoff.max_attempts:
                    raise
                with self.stats.lock:
                    self.stats.error_codes[code] += len(pending)
                    self.stats.retried += len(pending)
                time.sleep(self.backoff.delay(attempt))
                attempt += 1
                continue
            now = time.time()
            failed, fatal = [], []
            with self.stats.lock:
                self.stats.calls += 1
                if len(self.stats.put_latency_ms) < LATENCY_SAMPLES_MAX:
                    self.stats.put_latency_ms.append((now, (time.perf_counter() - t0) * 1000))
                for request, result in zip(pending, response["Records"], strict=True):
                    code = result.get("ErrorCode")
                    if code is None:
                        self.stats.accepted += 1
                        self.stats.bytes += len(request["Data"])
                        self.stats.shard_counts[result.get("ShardId", "?")] += 1
                        self.stats.stream_counts[self.stream] += 1
                        self.stats.per_second[int(now)] += 1
                        if id(request) in tags:
                            self.stats.sent_ms[tags[id(request)]] = sent_ms
                        continue
                    self.stats.error_codes[code] += 1
                    (failed if code in RETRYABLE_CODES else fatal).append(request)
                self.stats.failed += len(fatal)
            if not failed:
                return len(fatal)
            if attempt + 1 >= self.backoff.max_attempts:
                with self.stats.lock:
                    self.stats.failed += len(failed)
                log.warning("%d records still failing after %d attempts", len(failed), attempt + 1)
                return len(fatal) + len(failed)
            with self.stats.lock:
                self.stats.retried += len(failed)
            time.sleep(self.backoff.delay(attempt))
            attempt += 1
            pending = failed
        return 0

    # -- internals --------------------------------------------------------------
    def _done(self, future: Any) -> None:
        self._slots.release()
        err = future.exception()
        if err is not None:
            self._errors.append(err)


def _heartbeats(spec: ProducerSpec, senders: list[KinesisProducer], seconds: float) -> None:
    """Heartbeats into this producer's own shards for ``seconds`` after its last record
    (events.heartbeat): the jobs' per-shard watermarks pass everything it sent."""
    from flink_platform.loadtest.events import heartbeat

    end, n = time.monotonic() + seconds, spec.producer
    while time.monotonic() < end:
        trade, tick = heartbeat(spec.seed, n, 0)  # stamped when sent, like every record
        for sender, record in zip(senders, (trade, tick), strict=False):  # 1 sender: no ticks
            if spec.owns(sender.stream, record[1]):
                sender.submit([record])
                sender.stats.heartbeats[sender.stream] += 1
        n += spec.producers
        time.sleep(0.05)


def _error_code(err: BaseException) -> str:
    response = getattr(err, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", type(err).__name__))
    # transport problems (connection reset, read timeout) are worth a retry
    name = type(err).__name__
    return "InternalFailure" if name.endswith(("ConnectionError", "TimeoutError",
                                               "ReadTimeoutError", "ConnectionClosedError")) \
        else name


def run_producer(spec: ProducerSpec, client: Any, trades: EventSource,
                 ticks: EventSource | None = None, *,
                 max_in_flight: int = 1, wall: Callable[[], float] = time.time,
                 clock: Callable[[], float] = time.monotonic) -> ProducerStats:
    """Send ``spec``'s chunks of trades (and, with ``ticks`` and ``spec.ticks_stream``, the
    ticks of each chunk's event-time span) at its ramp-step rates, each record stamped with
    the run's event clock when its PutRecords call starts; stop at the end of the last step
    (``spec.finish``: at the end of the range, at the last step's rate). ``trades(start,
    count)`` and ``ticks(start, count)`` give the records. The rate counts both.

    One PutRecords in flight per stream (``max_in_flight``): with one writer per shard
    (:meth:`ProducerSpec.owns`), every shard then receives event times in the order they
    were stamped, and the jobs' per-shard watermarks never see this producer's records late.
    """
    from flink_platform.loadtest.plan import EventClock
    from include.flink_jobs.streaming_events import tick_range

    event_clock = EventClock.from_dict(spec.clock).event_ms
    stats = ProducerStats(producer=spec.producer,
                          planned_s=sum(step["seconds"] for step in spec.steps))
    senders = [KinesisProducer(client, spec.stream, max_in_flight=max_in_flight, stats=stats,
                               event_clock=event_clock)]
    if ticks is not None and spec.ticks_stream:
        senders.append(KinesisProducer(client, spec.ticks_stream, max_in_flight=max_in_flight,
                                       stats=stats, event_clock=event_clock))
    limiter = RateLimiter(spec.steps[0]["events_per_s"])
    chunks = iter(spec.chunks())
    sent, stats.end_index = 0, spec.first_index
    stats.started_at = wall()
    step_end = clock()
    steps = list(spec.steps)
    if spec.finish:  # then the rest of the range at the last rate, however long it takes
        steps.append({**steps[-1], "seconds": float("inf")})
    try:
        for step in steps:
            limiter.set_rate(step["events_per_s"])
            step_end += step["seconds"]
            while clock() < step_end and (chunk := next(chunks, None)) is not None:
                start, n = chunk
                mine = [r for r in trades(start, n) if spec.owns(spec.stream, r[1])]
                my_ticks = [r for r in ticks(*tick_range(start, n))
                            if spec.owns(spec.ticks_stream, r[1])] if len(senders) > 1 else []
                limiter.acquire(max(1, len(mine) + len(my_ticks)))
                senders[0].submit(mine)
                if my_ticks:
                    senders[1].submit(my_ticks)
                sent += len(mine)
                stats.end_index = start + n
        stats.generated = stats.planned = sent
        if spec.flush_s > 0:
            _heartbeats(spec, senders, spec.flush_s)
    finally:
        for sender in senders:
            sender.close()
        stats.ended_at = wall()
    return stats
