"""Kinesis load producer: PutRecords batches, per-record retry with backoff, a held rate.

- Batches hold at most 500 records and 5 MiB (data plus partition key, the PutRecords
  limits); a record over 1 MiB is rejected up front.
- A PutRecords response may accept some records and fail others (``FailedRecordCount``):
  only the failed entries are sent again, after exponential backoff with full jitter
  (``uniform(0, min(cap, base * 2**attempt))``), for the retryable codes
  ProvisionedThroughputExceededException and InternalFailure; a whole call throttled or
  a transport error is retried the same way. After ``max_attempts`` a record counts as
  failed: the run reports it and the zero-failed-records SLO catches it.
- ``max_in_flight`` batches are in flight at once (a thread pool over one boto3 client,
  which is thread-safe), so one worker slot outruns a shard's 1,000 records/s limit.
- The rate limiter paces event generation; a slow sink shows up as achieved < target.
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

# (data, partition_key) pairs for event indices [start, start + count)
EventSource = Callable[[int, int], list[tuple[bytes, str]]]


def batches(records: list[tuple[bytes, str]]) -> list[list[tuple[bytes, str]]]:
    """Split records into PutRecords batches within the count and size limits."""
    out: list[list[tuple[bytes, str]]] = []
    current: list[tuple[bytes, str]] = []
    size = 0
    for data, key in records:
        rec_size = len(data) + len(key.encode())
        if rec_size > MAX_RECORD_BYTES:
            raise ValueError(f"record of {rec_size} bytes exceeds the 1 MiB Kinesis limit")
        if current and (len(current) == MAX_BATCH_RECORDS or size + rec_size > MAX_BATCH_BYTES):
            out.append(current)
            current, size = [], 0
        current.append((data, key))
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
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def to_dict(self) -> dict[str, Any]:
        elapsed = max(1e-9, self.ended_at - self.started_at, self.planned_s)
        return {
            "producer": self.producer, "planned": self.planned, "generated": self.generated,
            "accepted": self.accepted, "failed": self.failed, "retried": self.retried,
            "batches": self.batches, "calls": self.calls, "bytes": self.bytes,
            "started_at": self.started_at, "ended_at": self.ended_at,
            "elapsed_s": round(elapsed, 3),
            "achieved_events_per_s": round(self.accepted / elapsed, 1),
            "error_codes": dict(self.error_codes), "shard_counts": dict(self.shard_counts),
            "per_second": {str(k): v for k, v in sorted(self.per_second.items())},
            "put_latency_ms": [[round(t, 3), round(ms, 2)] for t, ms in self.put_latency_ms],
        }


class KinesisProducer:
    """Send records to one stream with batching, per-record retry and bounded concurrency."""

    def __init__(self, client: Any, stream: str, *, max_in_flight: int = 4,
                 backoff: Backoff | None = None, stats: ProducerStats | None = None) -> None:
        self.client = client
        self.stream = stream
        self.backoff = backoff or Backoff()
        self.stats = stats or ProducerStats()
        self._pool = ThreadPoolExecutor(max_in_flight, thread_name_prefix="kinesis-put")
        self._slots = threading.BoundedSemaphore(max_in_flight * 2)
        self._errors: list[BaseException] = []

    # -- public -----------------------------------------------------------------
    def submit(self, records: list[tuple[bytes, str]]) -> None:
        """Queue records; blocks while ``2 * max_in_flight`` batches are pending."""
        if self._errors:
            raise self._errors[0]
        for batch in batches(records):
            self._slots.acquire()
            future = self._pool.submit(self.put_batch, batch)
            future.add_done_callback(self._done)

    def close(self) -> ProducerStats:
        """Wait for every pending batch (retries included) and stop the threads."""
        self._pool.shutdown(wait=True)
        if self._errors:
            raise self._errors[0]
        return self.stats

    def put_batch(self, batch: list[tuple[bytes, str]]) -> int:
        """PutRecords one batch, resending only failed entries; return records failed."""
        pending = [{"Data": data, "PartitionKey": key} for data, key in batch]
        attempt = 0
        with self.stats.lock:
            self.stats.batches += 1
        while pending:
            t0 = time.perf_counter()
            try:
                response = self.client.put_records(StreamName=self.stream, Records=pending)
            except Exception as err:  # noqa: BLE001 - classified below
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
                for request, result in zip(pending, response["Records"]):
                    code = result.get("ErrorCode")
                    if code is None:
                        self.stats.accepted += 1
                        self.stats.bytes += len(request["Data"])
                        self.stats.shard_counts[result.get("ShardId", "?")] += 1
                        self.stats.per_second[int(now)] += 1
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


def _error_code(err: BaseException) -> str:
    response = getattr(err, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", type(err).__name__))
    # transport problems (connection reset, read timeout) are worth a retry
    name = type(err).__name__
    return "InternalFailure" if name.endswith(("ConnectionError", "TimeoutError",
                                               "ReadTimeoutError", "ConnectionClosedError")) \
        else name


def run_producer(spec: ProducerSpec, client: Any, events: EventSource, *,
                 max_in_flight: int = 4, chunk_s: float = 0.1,
                 clock: Callable[[], float] = time.monotonic) -> ProducerStats:
    """Send ``spec``'s event range at its ramp-step rates; stop at the end of the last step."""
    stats = ProducerStats(producer=spec.producer, planned=spec.planned_count,
                          planned_s=sum(step["seconds"] for step in spec.steps))
    producer = KinesisProducer(client, spec.stream, max_in_flight=max_in_flight, stats=stats)
    limiter = RateLimiter(spec.steps[0]["events_per_s"])
    sent, next_index = 0, spec.start_index
    stats.started_at = time.time()
    step_end = clock()
    try:
        for step in spec.steps:
            limiter.set_rate(step["events_per_s"])
            step_end += step["seconds"]
            chunk = int(min(MAX_BATCH_RECORDS, max(1, step["events_per_s"] * chunk_s)))
            while clock() < step_end and sent < spec.planned_count:
                n = min(chunk, spec.planned_count - sent)
                limiter.acquire(n)
                records = events(next_index, n)
                producer.submit(records)
                sent += n
                next_index += n
        stats.generated = sent
    finally:
        producer.close()
        stats.ended_at = time.time()
    return stats
