"""Deterministic, seeded, labelled trading-event generator (ground truth included).

Event ``i`` of seed ``s`` depends only on ``(s, i)``: producers may split index ranges
(``generate_trading_lines(seed, 0, n)`` and ``(seed, n, n)`` concatenate to ``(seed, 0, 2n)``).

Layout of the stream (event time advances ``EVENT_STEP_MS`` = 10 ms per index, i.e. 100
events per event-time second; block ``j`` = indices ``[j*1000, (j+1)*1000)`` = 10 s):

* offsets 0..39 of each block are *scenario lanes*; lane ``l`` injects the fraud scenario
  ``RULES[l % 4]`` once per 60-block period (10 min), with a fresh user ``U1xxxxxx``:
  ``velocity`` 12 transactions in 110 s; ``geo_velocity`` two at home then one >= 3000 km
  away 1-5 min later; ``small_then_large`` 3-4 transactions < 5 then one >= 1500 within
  50 s; ``amount_anomaly`` 6-8 ordinary transactions 50 s apart then one 30-60x the user's
  base amount. Lane slots without a scenario event carry normal traffic.
* offsets 40..44: canary users ``U0900000..4`` (one transaction per minute each, never
  fraudulent) - a steady per-user signal for the upgrade test.
* the rest: normal traffic of ``NORMAL_USERS`` users, each exactly once per 60,000 events
  (10 min), amounts 0.5-2x the user's base (>= 10), near the user's home city.
* out of order: 20% of normal events arrive up to 2 s (scenario events 1 s) early in the
  sequence; ``late_rate`` of normal events carry an event time ``LATE_BY_MS`` in the past.
* malformed (lines API only): ``malformed_rate`` of normal events are corrupted into one of
  ``MALFORMED_KINDS``; the jobs must dead-letter them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .schema import CHANNELS, CITIES, SIDES, SYMBOLS, encode_event, haversine_km

EVENT_STEP_MS = 10
BLOCK = 1000
LANES = 40
CANARIES = 5
CANARY_EVERY_BLOCKS = 6
PERIOD_BLOCKS = 60
NORMAL_USERS = 60_000
DEFAULT_BASE_TIME_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
LATE_BY_MS = 120_000
DEFAULT_LATE_RATE = 0.001
RULES = ("velocity", "geo_velocity", "small_then_large", "amount_anomaly")
MALFORMED_KINDS = ("bad_json", "missing_field", "negative_qty", "unknown_symbol")
VELOCITY_BURST = 12
_SYMBOL_LIST = tuple(SYMBOLS)
_PRIMES = (7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 7919, 104729, 15485863)
_MASK = (1 << 64) - 1


def _mix(*parts: int) -> int:
    """splitmix64-style hash of integers: the only source of randomness besides Random(seed)."""
    h = 0x9E3779B97F4A7C15
    for part in parts:
        h = ((h ^ (part & _MASK)) * 0xBF58476D1CE4E5B9) & _MASK
        h ^= h >> 31
        h = (h * 0x94D049BB133111EB) & _MASK
        h ^= h >> 29
    return h


def _unit(h: int) -> float:
    return (h >> 11) / float(1 << 53)


def user_id(num: int) -> str:
    return f"U{num:07d}"


def event_id(seed: int, index: int) -> str:
    return f"e{seed}-{index}"


@lru_cache(maxsize=200_000)
def _profile(seed: int, num: int) -> tuple[int, float, float, float]:
    """(home city index, home lat, home lon, base amount) of user ``num``."""
    h = _mix(seed, num, 11)
    city = h % len(CITIES)
    _, lat, lon, _ = CITIES[city]
    return (city, lat + (_unit(_mix(h, 1)) - 0.5) * 0.1, lon + (_unit(_mix(h, 2)) - 0.5) * 0.1,
            20.0 + (h >> 20) % 480)


_SYMBOL_INDEX = {s: k for k, s in enumerate(_SYMBOL_LIST)}


def market_price(symbol: str, t_ms: int) -> float:
    """Smooth deterministic market price of ``symbol`` at ``t_ms`` (same for every seed)."""
    k = _SYMBOL_INDEX[symbol]
    t = t_ms / 1000.0
    return SYMBOLS[symbol] * math.exp(0.02 * math.sin(t / (600 + 37 * k) + k)
                                      + 0.004 * math.sin(t / (23 + k)))


@dataclass(frozen=True)
class Scenario:
    """One injected fraud scenario; ``trigger_event_id`` completes the pattern."""

    rule: str
    user_id: str
    event_ids: tuple[str, ...]
    indices: tuple[int, ...]
    trigger_event_id: str


@lru_cache(maxsize=4096)
def _plan(seed: int, lane: int, q: int) -> tuple[str, int, tuple[tuple[int, str, float], ...]]:
    """(rule, first block, ((block offset, kind, amount factor or gap), ...)) of one scenario."""
    rule = RULES[lane % len(RULES)]
    rng = random.Random(_mix(seed, lane, q, 3))
    start = q * PERIOD_BLOCKS + (lane * 7) % 15
    if rule == "velocity":
        steps = [(b, "home", rng.uniform(0.5, 2.0)) for b in range(VELOCITY_BURST)]
    elif rule == "geo_velocity":
        gap = rng.randint(6, 30)
        steps = [(0, "home", rng.uniform(0.5, 2.0)), (2, "home", rng.uniform(0.5, 2.0)),
                 (2 + gap, "far", rng.uniform(0.5, 2.0))]
    elif rule == "small_then_large":
        smalls = rng.randint(3, 4)
        steps = [(b, "small", rng.uniform(0.5, 4.9)) for b in range(smalls)]
        steps.append((smalls, "large", rng.uniform(1500, 9000)))
    else:
        history = rng.randint(6, 8)
        steps = [(5 * b, "home", rng.uniform(0.5, 2.0)) for b in range(history)]
        steps.append((5 * history, "spike", rng.uniform(30, 60)))
    return rule, start, tuple(steps)


def _scenario_user(lane: int, q: int) -> int:
    return 1_000_000 + q * LANES + lane


def _far_city(seed: int, home: int, num: int) -> int:
    _, lat, lon, _ = CITIES[home]
    far = [k for k, (_, la, lo, _) in enumerate(CITIES) if haversine_km(lat, lon, la, lo) >= 3500]
    return far[_mix(seed, num, 5) % len(far)]


def _trade(seed: int, index: int, ts: int, num: int, amount: float, rng: random.Random,
           city: int | None = None) -> dict[str, Any]:
    home, lat, lon, _ = _profile(seed, num)
    if city is not None and city != home:
        _, lat, lon, _ = CITIES[city]
    else:
        city = home
        lat += rng.uniform(-0.02, 0.02)
        lon += rng.uniform(-0.02, 0.02)
    rand = rng.random
    symbol = _SYMBOL_LIST[int(rand() * len(_SYMBOL_LIST))]
    price = round(market_price(symbol, ts) * (0.999 + 0.002 * rand()), 2)
    qty = max(0.0001, round(amount / price, 4))
    return {
        "event_id": event_id(seed, index), "user_id": user_id(num),
        "account_id": f"A{num:07d}", "amount": round(qty * price, 2),
        "currency": CITIES[home][3], "symbol": symbol, "side": SIDES[int(rand() * 2)],
        "qty": qty, "price": price, "channel": CHANNELS[int(rand() * len(CHANNELS))],
        "event_time": ts,
        "location": {"lat": round(lat, 5), "lon": round(lon, 5), "city": CITIES[city][0]},
    }


@lru_cache(maxsize=64)
def _permutation(seed: int, epoch: int) -> tuple[int, int]:
    h = _mix(seed, epoch, 2)
    return _PRIMES[h % len(_PRIMES)], h >> 8


def _normal_user(seed: int, index: int) -> int:
    """Affine permutation per 60,000-event epoch: each normal user once per epoch."""
    epoch, k = divmod(index, NORMAL_USERS)
    a, b = _permutation(seed, epoch)
    return (a * k + b) % NORMAL_USERS


@lru_cache(maxsize=64)
def _block(seed: int, j: int, base: int, late_rate: float) -> tuple[tuple[dict, str], ...]:
    """All events of block ``j`` with their label: normal, late, canary or scenario:<rule>."""
    rng = random.Random(_mix(seed, j, 1))
    out = []
    for off in range(BLOCK):
        index = j * BLOCK + off
        ts = base + index * EVENT_STEP_MS
        if off < LANES:
            rule, start, steps = _plan(seed, off, j // PERIOD_BLOCKS)
            step = next((s for s in steps if start + s[0] == j), None)
            if step is not None:
                num = _scenario_user(off, j // PERIOD_BLOCKS)
                base_amount = _profile(seed, num)[3]
                _, kind, factor = step
                amount = factor if kind in ("small", "large") else base_amount * factor
                city = _far_city(seed, _profile(seed, num)[0], num) if kind == "far" else None
                ts -= int(rng.random() * 1000)
                out.append((_trade(seed, index, ts, num, amount, rng, city), f"scenario:{rule}"))
                continue
        if LANES <= off < LANES + CANARIES:
            c = off - LANES
            if (j + c) % CANARY_EVERY_BLOCKS == 0:
                num = 900_000 + c
                out.append((_trade(seed, index, ts, num, _profile(seed, num)[3], rng), "canary"))
                continue
        num = _normal_user(seed, index)
        amount = _profile(seed, num)[3] * rng.uniform(0.5, 2.0)
        label = "normal"
        r = rng.random()
        if r < late_rate:
            ts -= LATE_BY_MS
            label = "late"
        elif r < 0.2:
            ts -= int(rng.random() * 2000)
        out.append((_trade(seed, index, ts, num, amount, rng), label))
    return tuple(out)


def _labelled(seed: int, start: int, count: int, base: int, late_rate: float):
    for j in range(start // BLOCK, (start + count + BLOCK - 1) // BLOCK):
        lo, hi = max(start - j * BLOCK, 0), min(start + count - j * BLOCK, BLOCK)
        yield from _block(seed, j, base, late_rate)[lo:hi]


def generate_trading_events(seed: int, start: int, count: int, *,
                            base_time_ms: int = DEFAULT_BASE_TIME_MS,
                            late_rate: float = DEFAULT_LATE_RATE) -> list[dict[str, Any]]:
    """Events ``start .. start+count-1`` as dicts (all schema-valid; some late)."""
    return [dict(e) for e, _ in _labelled(seed, start, count, base_time_ms, late_rate)]


def corrupt(seed: int, index: int, event: dict[str, Any]) -> tuple[str, str]:
    """Malformed line for ``event``: (line, kind), kind from ``MALFORMED_KINDS``."""
    kind = MALFORMED_KINDS[_mix(seed, index, 7) % len(MALFORMED_KINDS)]
    bad = dict(event)
    if kind == "bad_json":
        return encode_event(bad)[:-7], kind
    if kind == "missing_field":
        del bad["amount"]
    elif kind == "negative_qty":
        bad["qty"] = -bad["qty"]
    else:
        bad["symbol"] = "ZZZZ"
    return encode_event(bad), kind


def _is_malformed(seed: int, index: int, rate: float) -> bool:
    return rate > 0 and _unit(_mix(seed, index, 6)) < rate


@dataclass(frozen=True)
class TradingRecord:
    """One line as a producer sends it: the line, its partition key (the account: one
    account's events stay in order on one shard), the event id, its label (normal, late,
    canary, scenario:<rule>, malformed:<kind>), and what :meth:`at` needs to send it with
    another event time."""

    line: str
    account_id: str
    event_id: str
    label: str
    seed: int
    index: int
    event: dict[str, Any]
    nominal_ms: int  # the index's place in generator time; event_time is it minus jitter

    def at(self, event_time_ms: int) -> str:
        """The line with the event time moved to ``event_time_ms`` minus the same jitter
        (a live producer stamps what it sends now with its event clock)."""
        jitter_ms = self.nominal_ms - self.event["event_time"]
        event = {**self.event, "event_time": event_time_ms - jitter_ms}
        if self.label.startswith("malformed:"):
            return corrupt(self.seed, self.index, event)[0]
        return encode_event(event)


def generate_trading_records(seed: int, start: int, count: int, *, malformed_rate: float = 0.0,
                             base_time_ms: int = DEFAULT_BASE_TIME_MS,
                             late_rate: float = DEFAULT_LATE_RATE) -> list[TradingRecord]:
    """:func:`generate_trading_lines` with each line's key, event id and label."""
    records = []
    for k, (event, label) in enumerate(_labelled(seed, start, count, base_time_ms, late_rate)):
        index = start + k
        if label == "normal" and _is_malformed(seed, index, malformed_rate):
            line, kind = corrupt(seed, index, event)
            label = f"malformed:{kind}"
        else:
            line = encode_event(event)
        records.append(TradingRecord(line, event["account_id"], event["event_id"], label, seed,
                                     index, event, base_time_ms + index * EVENT_STEP_MS))
    return records


def generate_trading_lines(seed: int, start: int, count: int, *, malformed_rate: float = 0.0,
                           base_time_ms: int = DEFAULT_BASE_TIME_MS,
                           late_rate: float = DEFAULT_LATE_RATE) -> list[str]:
    """Events as JSON lines (no newline); ``malformed_rate`` of normal events corrupted."""
    return [r.line for r in generate_trading_records(
        seed, start, count, malformed_rate=malformed_rate, base_time_ms=base_time_ms,
        late_rate=late_rate)]


@dataclass
class GroundTruth:
    """What ``[start, start+count)`` contains: complete scenarios and the labelled events."""

    scenarios: list[Scenario] = field(default_factory=list)
    partial_users: set[str] = field(default_factory=set)   # scenarios cut by the range
    malformed: dict[str, str] = field(default_factory=dict)  # event id -> kind
    late_event_ids: set[str] = field(default_factory=set)
    canary_users: tuple[str, ...] = tuple(user_id(900_000 + c) for c in range(CANARIES))

    def users(self, rule: str) -> set[str]:
        return {s.user_id for s in self.scenarios if s.rule == rule}


def ground_truth(seed: int, start: int, count: int, *, malformed_rate: float = 0.0,
                 base_time_ms: int = DEFAULT_BASE_TIME_MS,
                 late_rate: float = DEFAULT_LATE_RATE) -> GroundTruth:
    """Labels of ``generate_trading_lines(seed, start, count, ...)`` with the same options."""
    truth = GroundTruth()
    end = start + count
    for q in range(start // (BLOCK * PERIOD_BLOCKS), end // (BLOCK * PERIOD_BLOCKS) + 1):
        for lane in range(LANES):
            rule, first, steps = _plan(seed, lane, q)
            idx = tuple((first + b) * BLOCK + lane for b, _, _ in steps)
            uid = user_id(_scenario_user(lane, q))
            if all(start <= i < end for i in idx):
                ids = tuple(event_id(seed, i) for i in idx)
                truth.scenarios.append(Scenario(rule, uid, ids, idx, ids[_trigger(rule, ids)]))
            elif any(start <= i < end for i in idx):
                truth.partial_users.add(uid)
    for k, (event, label) in enumerate(_labelled(seed, start, count, base_time_ms, late_rate)):
        if label == "late":
            truth.late_event_ids.add(event["event_id"])
        elif label == "normal" and _is_malformed(seed, start + k, malformed_rate):
            truth.malformed[event["event_id"]] = corrupt(seed, start + k, event)[1]
    return truth


def _trigger(rule: str, ids: tuple[str, ...]) -> int:
    return 8 if rule == "velocity" else len(ids) - 1  # velocity: the 9th (> 8 in 5 min)


TICK_INTERVAL_MS = 1000


def generate_market_ticks(seed: int, start: int, count: int, *,
                          base_time_ms: int = DEFAULT_BASE_TIME_MS) -> list[dict[str, Any]]:
    """Market-data ticks: tick ``k`` is symbol ``k % 20`` at second ``k // 20`` (+ jitter)."""
    out = []
    n = len(_SYMBOL_LIST)
    for k in range(start, start + count):
        second, s = divmod(k, n)
        symbol = _SYMBOL_LIST[s]
        h = _mix(seed, k, 9)
        ts = base_time_ms + second * TICK_INTERVAL_MS + s * 10 + (h % 300)
        last = round(market_price(symbol, ts) * (1 + (_unit(h) - 0.5) * 0.001), 2)
        spread = round(max(0.01, last * 0.0002), 2)
        out.append({"symbol": symbol, "bid": round(last - spread, 2),
                    "ask": round(last + spread, 2), "last": last,
                    "volume": 100 * (1 + (h >> 40) % 50), "event_time": ts})
    return out


def ticks_covering(trade_count: int) -> int:
    """Number of ticks that span the event time of ``trade_count`` trades."""
    seconds = trade_count * EVENT_STEP_MS // TICK_INTERVAL_MS + 1
    return seconds * len(_SYMBOL_LIST)


def tick_range(trade_start: int, trade_count: int) -> tuple[int, int]:
    """(first tick, tick count) of the event-time seconds trades ``[start, start+count)``
    fall in: producers splitting the trades into ranges send every tick exactly once."""
    per_second = TICK_INTERVAL_MS // EVENT_STEP_MS
    first = trade_start // per_second * len(_SYMBOL_LIST)
    end = (trade_start + trade_count) // per_second * len(_SYMBOL_LIST)
    return first, end - first
