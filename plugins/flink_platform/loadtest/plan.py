"""The load-test plan: ramp steps, SLO thresholds, the event clock, and who sends what.

Pure Python (no Airflow, no boto3): the DAG builds a :class:`LoadPlan` from its Params and
fans :meth:`LoadPlan.producer_specs` out to mapped producer tasks. Ramp step ``i`` of ``k``
runs at ``target * i / k`` records/s (trades and the market ticks of their event time) for
``duration / k`` seconds; producer ``p`` of ``N`` sends ``1/N`` of every step's rate.

The run's trades are the generator's indices ``[first_index, first_index + trades)``. Every
producer walks the whole range in order, in chunks of ``CHUNK`` (one second of generator
time), and sends only the records that Kinesis routes to its own shards (the MD5 of the
partition key in the shard's hash range; shard ``i`` belongs to producer ``i mod N``), one
PutRecords at a time per stream: every shard has one writer whose records go out in
order, whether the producers run side by side or one after the other. More producers than
shards leaves the extra ones idle. ``first_index`` starts a generator period (every
scenario of the period is complete) after the previous run's trades: fresh scenario users
every run.

Event time comes from one :class:`EventClock` shared by every producer, starting after the
previous run's last event time. Each record is stamped with the clock's time when its
PutRecords call starts (plus the generator's jitter), so producers that start late or run
at different speeds never make each other's events late: per shard, event time rises but
for the skew between concurrent PutRecords calls. The clock runs at the generator's
density at the planned rate (100 trades per event-time second: every scenario's timing
and each user's rhythm as designed; denser, the canary users alone would trip the velocity
rule), so it runs ``trades/s / 100`` times the wall clock: the jobs' 5 s watermark delay is
``500 / trades/s`` seconds of wall time (0.12 s at 4,000 trades/s). That is both the floor
of event-to-alert latency and the skew between producers the jobs tolerate before they
dead-letter an event as late; a run that falls short of its rate has sparser event time,
which only stretches the scenarios (each still fires within its rule's window).
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

CHUNK = 100  # trades per chunk: one second of generator time (EVENT_STEP_MS = 10 ms)
PERIOD = 60_000  # generator period (BLOCK * PERIOD_BLOCKS): every scenario lane once
NOMINAL_EVENTS_PER_S = 100  # the generator's trades per event-time second
TICKS_PER_TRADE = 0.2  # 20 ticks per event-time second


@dataclass(frozen=True)
class RampStep:
    events_per_s: float
    seconds: float


@dataclass(frozen=True)
class Slos:
    """Thresholds; ``None`` disables a check."""

    max_p99_latency_ms: float | None = 5000.0
    max_backpressure_ratio: float | None = 0.5
    zero_failed_records: bool = True
    min_achieved_ratio: float | None = 0.9
    min_alert_recall: float | None = 1.0
    min_alert_precision: float | None = 0.99
    all_records_read: bool = True


@dataclass(frozen=True)
class EventClock:
    """Event time (epoch ms) as a function of wall time (epoch s), the same in every producer.

    Before ``start_s`` and during step ``i`` event time advances ``speed_i`` ms per wall ms
    (the step's trades per second / 100); after the last step at the last step's speed."""

    start_s: float
    origin_ms: int
    steps: tuple[tuple[float, float], ...]  # (seconds, speed)

    def event_ms(self, wall_s: float) -> int:
        elapsed = wall_s - self.start_s
        event = float(self.origin_ms)
        if elapsed <= 0:
            return int(event + elapsed * 1000 * self.steps[0][1])
        for seconds, speed in self.steps:
            span = min(elapsed, seconds)
            event += span * 1000 * speed
            elapsed -= span
            if elapsed <= 0:
                return int(event)
        return int(event + elapsed * 1000 * self.steps[-1][1])

    def to_dict(self) -> dict[str, Any]:
        return {"start_s": self.start_s, "origin_ms": self.origin_ms,
                "steps": [list(s) for s in self.steps]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EventClock:
        return cls(data["start_s"], data["origin_ms"], tuple(tuple(s) for s in data["steps"]))


@dataclass(frozen=True)
class ProducerSpec:
    """What one mapped producer does; JSON-serialisable for XCom."""

    producer: int
    producers: int
    stream: str  # trades (a name or the provisioned ARN)
    seed: int
    first_index: int  # the run's range [first_index, first_index + run_trades)
    run_trades: int
    steps: list[dict[str, float]]
    clock: dict[str, Any]
    ticks_stream: str | None = None  # market ticks of the same event time, when set
    malformed_rate: float = 0.0
    finish: bool = False  # send the whole range even past the ramp (tests, benchmarks)
    # stream -> shard starting hash keys, decimal strings (up to 2**128: not a JSON number)
    shards: dict[str, list[str]] = field(default_factory=dict)
    flush_s: float = 0.0  # heartbeats into its own shards after its last record

    def chunks(self) -> list[tuple[int, int]]:
        """(first index, count) of every chunk of the run, in order (each producer walks all
        of them and keeps its own records: :meth:`owns`)."""
        return [(self.first_index + c, min(CHUNK, self.run_trades - c))
                for c in range(0, self.run_trades, CHUNK)]

    def owns(self, stream: str, partition_key: str) -> bool:
        """Whether this producer writes ``partition_key``'s records to ``stream``: Kinesis
        routes the key to shard i (the MD5 of the key in i's hash range); i mod N owns it."""
        starts = [int(key) for key in self.shards.get(stream) or ["0"]]
        shard = bisect.bisect_right(starts, hash_key(partition_key)) - 1
        return shard % self.producers == self.producer


    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProducerSpec:
        return cls(**data)


@dataclass(frozen=True)
class LoadPlan:
    stream: str
    target_events_per_s: int
    duration_s: int
    ramp_steps: int = 1
    producers: int = 1
    seed: int = 42
    slos: Slos = field(default_factory=Slos)
    ticks_stream: str | None = None
    first_index: int = 0
    malformed_rate: float = 0.0
    start_s: float = 0.0  # wall time the event clock starts (plan time)
    origin_ms: int = 0  # event time at start_s (after every earlier run's events)
    finish: bool = False  # producers send every planned trade, past the ramp if need be
    shards: dict[str, list[str]] = field(default_factory=dict)  # as ProducerSpec.shards
    flush_s: float = 0.0  # producers' heartbeats after their last record (runner.flush_seconds)

    def __post_init__(self) -> None:
        problems = []
        if self.target_events_per_s < 1:
            problems.append(f"target_events_per_s must be >= 1, got {self.target_events_per_s}")
        if self.duration_s < 1:
            problems.append(f"duration_s must be >= 1, got {self.duration_s}")
        if not 1 <= self.ramp_steps <= self.duration_s:
            problems.append(f"ramp_steps must be between 1 and duration_s ({self.duration_s}), "
                            f"got {self.ramp_steps}")
        if self.producers < 1:
            problems.append(f"producers must be >= 1, got {self.producers}")
        if not 0 <= self.malformed_rate <= 0.5:
            problems.append(f"malformed_rate must be between 0 and 0.5, got {self.malformed_rate}")
        if self.first_index % PERIOD:
            problems.append(f"first_index must start a generator period (a multiple of {PERIOD})")
        if problems:
            raise ValueError("invalid load-test plan: " + "; ".join(problems))

    @property
    def steps(self) -> list[RampStep]:
        k = self.ramp_steps
        return [RampStep(self.target_events_per_s * i / k, self.duration_s / k)
                for i in range(1, k + 1)]

    @property
    def planned_events(self) -> int:
        """Records the ramp calls for (trades, plus ticks when a ticks stream is set)."""
        return round(sum(s.events_per_s * s.seconds for s in self.steps))

    @property
    def _trade_share(self) -> float:
        return 1 / (1 + TICKS_PER_TRADE) if self.ticks_stream else 1.0

    @property
    def planned_trades(self) -> int:
        return int(self.planned_events * self._trade_share)

    @property
    def trade_range(self) -> tuple[int, int]:
        """(first index, count) of every trade the run sends."""
        return self.first_index, self.planned_trades

    @property
    def clock(self) -> EventClock:
        share = self._trade_share
        return EventClock(self.start_s, self.origin_ms, tuple(
            (s.seconds, s.events_per_s * share / NOMINAL_EVENTS_PER_S) for s in self.steps))

    @property
    def end_event_ms(self) -> int:
        """Event time at the end of the ramp: the next run's clock starts after it."""
        return self.clock.event_ms(self.start_s + self.duration_s)

    def producer_specs(self) -> list[ProducerSpec]:
        """One spec per producer: its share of each step's rate; the run's range and clock."""
        n = self.producers
        steps = [{"events_per_s": s.events_per_s / n, "seconds": s.seconds} for s in self.steps]
        return [ProducerSpec(p, n, self.stream, self.seed, self.first_index, self.planned_trades,
                             steps, self.clock.to_dict(), self.ticks_stream, self.malformed_rate,
                             self.finish, self.shards, self.flush_s)
                for p in range(n)]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["steps"] = [asdict(s) for s in self.steps]
        data["planned_events"] = self.planned_events
        data["planned_trades"] = self.planned_trades
        return data


def next_period(index: int) -> int:
    """The first index of the generator period at or after ``index``."""
    return -(-index // PERIOD) * PERIOD


def hash_key(partition_key: str) -> int:
    """The 128-bit hash Kinesis routes a partition key by (MD5, big-endian)."""
    return int.from_bytes(hashlib.md5(partition_key.encode()).digest(), "big")
