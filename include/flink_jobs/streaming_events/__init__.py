"""Trading / market-data events: schema, validation and the labelled seeded generator.

Pure Python, standard library only. Imported as ``streaming_events`` inside Flink jobs
(``-pyfs include/flink_jobs``) and as ``include.flink_jobs.streaming_events`` from Airflow,
load-test producers and tests. API (all deterministic by ``(seed, index)``)::

    generate_trading_lines(seed, start, count, malformed_rate=0.0) -> list[str]  # JSON lines
    generate_trading_events(seed, start, count) -> list[dict]                    # valid dicts
    generate_market_ticks(seed, start, count) -> list[dict]
    ground_truth(seed, start, count, malformed_rate=0.0) -> GroundTruth            # labels
    encode_event(dict) -> str;  parse_trade_line(str) -> (dict | None, reason | None)
    write_dataset(directory, seed, count, malformed_rate=0.0) -> dict             # files

Event ``i`` of a seed depends only on ``(seed, i)``: load-test producers each walk the whole
range and send the records Kinesis routes to their own shards (flink_platform.loadtest.plan).
"""

from .dataset import read_lines, write_dataset
from .generator import (
    DEFAULT_BASE_TIME_MS,
    EVENT_STEP_MS,
    MALFORMED_KINDS,
    RULES,
    GroundTruth,
    Scenario,
    TradingRecord,
    generate_market_ticks,
    generate_trading_events,
    generate_trading_lines,
    generate_trading_records,
    ground_truth,
    market_price,
    tick_range,
    ticks_covering,
)
from .schema import (
    CURRENCIES,
    SYMBOLS,
    encode_event,
    haversine_km,
    parse_trade_line,
    tick_problem,
    trade_problem,
)

__all__ = [
    "CURRENCIES", "DEFAULT_BASE_TIME_MS", "EVENT_STEP_MS", "MALFORMED_KINDS", "RULES",
    "SYMBOLS", "GroundTruth", "Scenario", "TradingRecord", "encode_event",
    "generate_market_ticks", "generate_trading_events", "generate_trading_lines",
    "generate_trading_records", "ground_truth", "haversine_km", "market_price",
    "parse_trade_line", "read_lines", "tick_problem", "tick_range", "ticks_covering",
    "trade_problem", "write_dataset",
]
