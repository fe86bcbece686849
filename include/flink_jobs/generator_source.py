"""Python side of the ``generator`` source: batch numbers -> JSON lines, paced.

The JVM ``NumberSequenceSource`` emits batch numbers (its position is checkpointed); each
batch ``b`` becomes trades ``[b*100, (b+1)*100)`` (1 s of event time) or the 20 ticks of
the same second, produced by ``streaming_events`` exactly as producers and tests make them.
Each subtask sleeps to hold ``--events-per-s / parallelism``.
"""

from __future__ import annotations

import time

from pyflink.datastream import FlatMapFunction, RuntimeContext

TRADE_BATCH = 100
TICK_BATCH = 20


class _PacedExpander(FlatMapFunction):
    def __init__(self, args, parallelism: int) -> None:
        self.seed = int(args["seed"])
        self.max_events = int(args["max_events"])
        self.malformed_rate = float(args["malformed_rate"])
        self.rate = float(args.events_per_s)
        self.batch_rate = max(self.rate / TRADE_BATCH / max(parallelism, 1), 1e-3)
        self.started = 0.0
        self.batches = 0

    def open(self, runtime_context: RuntimeContext) -> None:
        self.started = time.monotonic()
        self.batches = 0

    def _pace(self) -> None:
        due = self.started + self.batches / self.batch_rate
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        elif wait < -5:  # fell behind (restore, backpressure): do not burst to catch up
            self.started, self.batches = time.monotonic(), 0
        self.batches += 1


class TradeBatchExpander(_PacedExpander):
    """Batch ``b`` -> JSON lines of trades ``b*100 .. b*100+99`` (capped by max_events)."""

    def flat_map(self, value):
        from streaming_events import generate_trading_lines

        self._pace()
        start = int(value) * TRADE_BATCH
        count = TRADE_BATCH if not self.max_events else min(TRADE_BATCH, self.max_events - start)
        yield from generate_trading_lines(self.seed, start, count,
                                          malformed_rate=self.malformed_rate)


class MarketBatchExpander(_PacedExpander):
    """Batch ``b`` -> JSON lines of the 20 ticks of event-time second ``b``."""

    def flat_map(self, value):
        from streaming_events import encode_event, generate_market_ticks

        self._pace()
        for tick in generate_market_ticks(self.seed, int(value) * TICK_BATCH, TICK_BATCH):
            yield encode_event(tick)
