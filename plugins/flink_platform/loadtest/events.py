"""The producers' events: the jobs' own deterministic, labelled trading-event generator.

Shared code, not a copy: ``include.flink_jobs.streaming_events`` is the generator the
Flink jobs' ``generator`` source runs, so a load test over Kinesis and one over the
generator carry the same events, scenarios and labels. Event ``i`` of a seed depends only
on ``(seed, i)``, so mapped producers each send their own index range.
"""

from __future__ import annotations

from flink_platform.loadtest.producer import EventSource


def trading_event_source(seed: int) -> EventSource:
    """(JSON line bytes, partition key = account id) for event indices ``[start, start+count)``.

    Keying by account keeps each account's events in order on one shard (the fraud rules
    are per user/account) while tens of thousands of accounts spread over all shards.
    """
    from include.flink_jobs.streaming_events.generator import generate_trading_events
    from include.flink_jobs.streaming_events.schema import encode_event

    def source(start: int, count: int) -> list[tuple[bytes, str]]:
        return [(encode_event(event).encode(), event["account_id"])
                for event in generate_trading_events(seed, start, count)]

    return source
