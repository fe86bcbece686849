"""The shared event package: determinism, ground truth and validation (pure Python)."""

from __future__ import annotations

import json

from include.flink_jobs.streaming_events import (
    RULES,
    generate_market_ticks,
    generate_trading_events,
    generate_trading_lines,
    ground_truth,
    haversine_km,
    parse_trade_line,
    tick_problem,
    trade_problem,
)

KIND_REASON = {"bad_json": "bad_json", "missing_field": "missing_field:amount",
               "negative_qty": "non_positive_qty", "unknown_symbol": "unknown_symbol"}


def test_events_depend_only_on_seed_and_index():
    whole = generate_trading_lines(3, 0, 4000, malformed_rate=0.01)
    parts = (generate_trading_lines(3, 0, 1500, malformed_rate=0.01)
             + generate_trading_lines(3, 1500, 2500, malformed_rate=0.01))
    assert parts == whole
    assert generate_trading_lines(4, 0, 100) != whole[:100]
    assert [json.loads(x) for x in generate_trading_lines(3, 10, 5)] == \
        generate_trading_events(3, 10, 5)


def test_generated_events_are_valid_and_malformed_ones_carry_their_reason():
    lines = generate_trading_lines(9, 0, 20_000, malformed_rate=0.01)
    truth = ground_truth(9, 0, 20_000, malformed_rate=0.01)
    assert len(truth.malformed) > 100
    for line in lines:
        event, reason = parse_trade_line(line)
        event_id = json.loads(line)["event_id"] if reason != "bad_json" else None
        if reason is None:
            assert trade_problem(event) is None
        elif reason != "bad_json":
            assert KIND_REASON[truth.malformed[event_id]] == reason
    bad_json = sum(1 for line in lines if parse_trade_line(line)[1] == "bad_json")
    assert bad_json == sum(1 for k in truth.malformed.values() if k == "bad_json")
    assert all(tick_problem(t) is None for t in generate_market_ticks(9, 0, 500))


def test_ground_truth_scenarios_match_the_rules():
    truth = ground_truth(7, 0, 62_000)
    events = {e["event_id"]: e for e in generate_trading_events(7, 0, 62_000)}
    for rule in RULES:
        assert len(truth.users(rule)) == 10
    for s in truth.scenarios:
        rows = [events[i] for i in s.event_ids]
        assert {r["user_id"] for r in rows} == {s.user_id}
        times = [r["event_time"] for r in rows]
        if s.rule == "velocity":
            assert len(rows) > 8 and max(times) - min(times) < 300_000
        elif s.rule == "geo_velocity":
            a, b = rows[-2]["location"], rows[-1]["location"]
            km = haversine_km(a["lat"], a["lon"], b["lat"], b["lon"])
            assert km > 3000 and km / ((times[-1] - times[-2]) / 3.6e6) > 1000
        elif s.rule == "small_then_large":
            assert all(r["amount"] < 5 for r in rows[:-1]) and rows[-1]["amount"] >= 1000
            assert times[-1] - times[0] < 600_000
        else:
            history = [r["amount"] for r in rows[:-1]]
            assert len(history) >= 5 and rows[-1]["amount"] > 10 * sum(history) / len(history)
