"""The producers' events: the jobs' own deterministic, labelled trading-event generator.

Shared code, not a copy: ``include.flink_jobs.streaming_events`` is the generator the
Flink jobs' ``generator`` source runs, so a load test over Kinesis and one over the
generator carry the same events, scenarios and labels. Event ``i`` of a seed depends only
on ``(seed, i)``, so mapped producers each walk the run's range and send the records of
their own shards (flink_platform.loadtest.plan).
"""

from __future__ import annotations

from collections.abc import Callable

from flink_platform.loadtest.producer import EventSource, Record


class Stamped:
    """A record's data that takes its event time when it is sent: ``stamped(event_ms)``
    gives the bytes; ``len()`` is the size of the line as generated (for batching)."""

    __slots__ = ("line", "make")

    def __init__(self, line: bytes, make: Callable[[int], str]) -> None:
        self.line, self.make = line, make

    def __len__(self) -> int:
        return len(self.line)

    def __call__(self, event_ms: int) -> bytes:
        return self.make(event_ms).encode()


def trading_event_source(seed: int, malformed_rate: float = 0.0) -> EventSource:
    """Records (line stamped when sent, partition key = account id, tag) for trades
    ``[start, start+count)``.

    Keying by account keeps each account's events in order on one shard (the fraud rules
    are per user/account) while tens of thousands of accounts spread over all shards.
    Scenario events are tagged with their event id: the producer keeps their send time,
    the start of event-to-alert latency.
    """
    from include.flink_jobs.streaming_events import generate_trading_records

    def source(start: int, count: int):
        return [(Stamped(r.line.encode(), r.at), r.account_id,
                 r.event_id if r.label.startswith("scenario:") else None)
                for r in generate_trading_records(seed, start, count,
                                                  malformed_rate=malformed_rate)]

    return source


def market_tick_source(seed: int) -> EventSource:
    """Records (line stamped when sent, partition key = symbol, no tag) for ticks
    ``[start, start+count)``; a tick keeps its jitter from its second's start."""
    from include.flink_jobs.streaming_events import (
        DEFAULT_BASE_TIME_MS,
        encode_event,
        generate_market_ticks,
    )

    def stamped(tick: dict, k: int) -> Stamped:
        jitter = tick["event_time"] - (DEFAULT_BASE_TIME_MS + k // 20 * 1000)
        line = encode_event(tick)
        return Stamped(line.encode(), lambda ms: encode_event({**tick, "event_time": ms + jitter}))

    def source(start: int, count: int):
        return [(stamped(t, start + i), t["symbol"], None)
                for i, t in enumerate(generate_market_ticks(seed, start, count))]

    return source


HEARTBEAT_USERS = 990_000  # U0990000...: outside the generator's users (normal, canary, scenario)


def heartbeat(seed: int, n: int, event_ms: int = 0) -> tuple[Record, Record]:
    """The ``n``-th heartbeat: a trade of a user of its own and a tick (stamped when sent,
    or at ``event_ms``).

    A real stream never stops; a load test does, and its last events would wait for the
    next ones to move the jobs' watermarks past them. Heartbeats after the load keep the
    event clock going until every alert of the run was emitted. One trade per heartbeat
    user, of the same amount and place every run: no rule can fire on it."""
    from include.flink_jobs.streaming_events import (
        encode_event,
        generate_market_ticks,
        generate_trading_events,
    )

    number = HEARTBEAT_USERS + n % 10_000
    trade = {**generate_trading_events(seed, n % 10_000, 1, late_rate=0.0)[0],
             "user_id": f"U{number:07d}", "account_id": f"A{number:07d}"}
    tick = generate_market_ticks(seed, n, 1)[0]

    def stamped(event: dict, name: str) -> Stamped:
        def make(ms: int) -> str:
            ms = event_ms or ms
            return encode_event({**event, "event_time": ms,
                                 **({"event_id": f"hb{seed}-{ms}-{n}"} if name else {})})
        return Stamped(encode_event(event).encode(), make)

    return ((stamped(trade, "trade"), trade["account_id"], None),
            (stamped(tick, ""), tick["symbol"], None))
