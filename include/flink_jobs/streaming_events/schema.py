"""Event schemas and validation, shared by the jobs, the generator, producers and tests.

Two event types travel as one JSON object per line (Kinesis record / file line):

Trading transaction (stream ``trading-events``)::

    {"event_id": "e7-42", "user_id": "U0001234", "account_id": "A0001234",
     "amount": 1523.37, "currency": "USD", "symbol": "AAPL", "side": "BUY",
     "qty": 7.934, "price": 192.01, "channel": "web", "event_time": 1767225600420,
     "location": {"lat": 40.71, "lon": -74.0, "city": "New York"}}

``amount`` = ``qty * price`` rounded to the cent, in ``currency``; ``event_time`` is epoch
milliseconds (UTC). Market-data tick (stream ``market-data``)::

    {"symbol": "AAPL", "bid": 191.98, "ask": 192.04, "last": 192.01, "volume": 1200,
     "event_time": 1767225600000}

:func:`trade_problem` / :func:`tick_problem` return ``None`` for a valid event, else the
dead-letter reason; the Flink jobs apply the same checks in SQL (``sql_common.py``).
"""

from __future__ import annotations

import json
import math
from typing import Any

# symbol -> reference price (USD); the generator's market prices move around these.
SYMBOLS: dict[str, float] = {
    "AAPL": 190.0, "MSFT": 410.0, "AMZN": 180.0, "GOOG": 165.0, "META": 480.0,
    "NVDA": 120.0, "TSLA": 240.0, "JPM": 200.0, "V": 275.0, "MA": 460.0,
    "XOM": 115.0, "KO": 62.0, "PEP": 170.0, "DIS": 100.0, "NFLX": 620.0,
    "INTC": 31.0, "AMD": 160.0, "BAC": 39.0, "WMT": 68.0, "ORCL": 140.0,
}
CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CHF", "SGD", "AUD", "BRL", "INR", "ZAR")
SIDES = ("BUY", "SELL")
CHANNELS = ("web", "mobile", "api", "branch")
# city, lat, lon, currency
CITIES: tuple[tuple[str, float, float, str], ...] = (
    ("New York", 40.7128, -74.0060, "USD"), ("Chicago", 41.8781, -87.6298, "USD"),
    ("San Francisco", 37.7749, -122.4194, "USD"), ("Toronto", 43.6532, -79.3832, "USD"),
    ("London", 51.5074, -0.1278, "GBP"), ("Paris", 48.8566, 2.3522, "EUR"),
    ("Frankfurt", 50.1109, 8.6821, "EUR"), ("Zurich", 47.3769, 8.5417, "CHF"),
    ("Madrid", 40.4168, -3.7038, "EUR"), ("Tokyo", 35.6762, 139.6503, "JPY"),
    ("Singapore", 1.3521, 103.8198, "SGD"), ("Sydney", -33.8688, 151.2093, "AUD"),
    ("Sao Paulo", -23.5505, -46.6333, "BRL"), ("Mumbai", 19.0760, 72.8777, "INR"),
    ("Johannesburg", -26.2041, 28.0473, "ZAR"), ("Dubai", 25.2048, 55.2708, "USD"),
)
TRADE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "event_id": str, "user_id": str, "account_id": str, "amount": (int, float),
    "currency": str, "symbol": str, "side": str, "qty": (int, float),
    "price": (int, float), "location": dict, "channel": str, "event_time": int,
}
TICK_FIELDS: dict[str, type | tuple[type, ...]] = {
    "symbol": str, "bid": (int, float), "ask": (int, float), "last": (int, float),
    "volume": (int, float), "event_time": int,
}
EARTH_RADIUS_KM = 6371.0


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km (the jobs compute the same formula in SQL)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _type_problem(obj: dict[str, Any], fields: dict[str, Any]) -> str | None:
    for name, kind in fields.items():
        value = obj.get(name)
        if value is None:
            return f"missing_field:{name}"
        if isinstance(value, bool) or not isinstance(value, kind):
            return f"bad_type:{name}"
    return None


def trade_problem(obj: Any) -> str | None:
    """``None`` if ``obj`` is a valid trading transaction, else the dead-letter reason."""
    if not isinstance(obj, dict):
        return "not_an_object"
    problem = _type_problem(obj, TRADE_FIELDS)
    if problem:
        return problem
    loc = obj["location"]
    if not isinstance(loc.get("lat"), (int, float)) or not isinstance(loc.get("lon"), (int, float)):
        return "missing_field:location"
    checks = (
        (obj["qty"] > 0, "non_positive_qty"),
        (obj["price"] > 0, "non_positive_price"),
        (obj["amount"] > 0, "non_positive_amount"),
        (obj["symbol"] in SYMBOLS, "unknown_symbol"),
        (obj["currency"] in CURRENCIES, "unknown_currency"),
        (obj["side"] in SIDES, "bad_side"),
        (obj["channel"] in CHANNELS, "bad_channel"),
        (-90 <= loc["lat"] <= 90 and -180 <= loc["lon"] <= 180, "bad_location"),
    )
    for ok, reason in checks:
        if not ok:
            return reason
    return None


def tick_problem(obj: Any) -> str | None:
    """``None`` if ``obj`` is a valid market-data tick, else the dead-letter reason."""
    if not isinstance(obj, dict):
        return "not_an_object"
    problem = _type_problem(obj, TICK_FIELDS)
    if problem:
        return problem
    if obj["symbol"] not in SYMBOLS:
        return "unknown_symbol"
    if not 0 < obj["bid"] <= obj["ask"] or obj["last"] <= 0 or obj["volume"] < 0:
        return "bad_quote"
    return None


def parse_trade_line(line: str) -> tuple[dict[str, Any] | None, str | None]:
    """Decode and validate one JSON line: ``(event, None)`` or ``(None, reason)``."""
    try:
        obj = json.loads(line)
    except (ValueError, TypeError):
        return None, "bad_json"
    problem = trade_problem(obj)
    return (None, problem) if problem else (obj, None)


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def encode_event(event: dict[str, Any]) -> str:
    """Compact JSON line (no newline) for files and Kinesis records."""
    return _ENCODER.encode(event)
