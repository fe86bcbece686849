"""Plain-Python reference of the risk-analytics aggregates, computed on the same events."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

MINUTE_MS = 60_000
CENT = Decimal("0.01")


def window_label(start_ms: int) -> str:
    return datetime.fromtimestamp(start_ms / 1000, tz=UTC).strftime(
        "%Y-%m-%d %H:%M:%S.000")


def _dec(value) -> Decimal:
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def vwap_windows(trades: list[dict]) -> dict[tuple[str, str], dict]:
    """(window_start, symbol) -> vwap, volume, notional, trade_count (1-minute tumbling)."""
    acc: dict = defaultdict(lambda: [Decimal(0), Decimal(0), Decimal(0), 0])
    for t in trades:
        start = t["event_time"] // MINUTE_MS * MINUTE_MS
        a = acc[(window_label(start), t["symbol"])]
        price, qty = _dec(t["price"]), _dec(t["qty"])
        a[0] += price * qty
        a[1] += qty
        a[2] += _dec(t["amount"])
        a[3] += 1
    return {key: {"vwap": (pq / vol).quantize(CENT, ROUND_HALF_UP), "vwap_exact": pq / vol,
                  "volume": vol,
                  "notional": notional, "trade_count": n}
            for key, (pq, vol, notional, n) in acc.items()}


def exposure_windows(trades: list[dict]) -> dict[tuple[str, str], dict]:
    acc: dict = defaultdict(lambda: [Decimal(0), Decimal(0), 0])
    for t in trades:
        start = t["event_time"] // MINUTE_MS * MINUTE_MS
        a = acc[(window_label(start), t["account_id"])]
        amount = _dec(t["amount"])
        a[0] += amount if t["side"] == "BUY" else -amount
        a[1] += amount
        a[2] += 1
    return {k: {"net_notional": n, "gross_notional": g, "trade_count": c}
            for k, (n, g, c) in acc.items()}


def volatility_windows(ticks: list[dict], size_min: int = 5) -> dict[tuple[str, str], dict]:
    """Sliding windows (1-minute slide): stdev of tick-to-tick log returns per symbol."""
    by_symbol: dict = defaultdict(list)
    for t in ticks:
        by_symbol[t["symbol"]].append(t)
    buckets: dict = defaultdict(list)
    for symbol, rows in by_symbol.items():
        rows.sort(key=lambda r: r["event_time"])
        for prev, cur in zip(rows, rows[1:], strict=False):  # consecutive pairs
            ret = math.log(cur["last"] / prev["last"])
            last_start = cur["event_time"] // MINUTE_MS * MINUTE_MS
            for k in range(size_min):
                buckets[(window_label(last_start - k * MINUTE_MS), symbol)].append(ret)
    out = {}
    for key, rets in buckets.items():
        if len(rets) > 1:
            mean = sum(rets) / len(rets)
            var = sum((r - mean) ** 2 for r in rets) / (len(rets) - 1)
            out[key] = {"volatility": math.sqrt(var), "return_count": len(rets)}
    return out


def trade_market_windows(trades: list[dict], ticks: list[dict]) -> dict[tuple[str, str], dict]:
    vwap = vwap_windows(trades)
    mids: dict = defaultdict(list)
    for t in ticks:
        start = t["event_time"] // MINUTE_MS * MINUTE_MS
        mids[(window_label(start), t["symbol"])].append((_dec(t["bid"]) + _dec(t["ask"])) / 2)
    out = {}
    for key, v in vwap.items():
        if key in mids:
            avg_mid = sum(mids[key]) / len(mids[key])
            out[key] = {"vwap": v["vwap_exact"], "avg_mid": avg_mid, "tick_count": len(mids[key]),
                        "trade_count": v["trade_count"]}
    return out
