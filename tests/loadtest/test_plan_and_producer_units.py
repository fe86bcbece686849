"""The load test's pure parts: plan split, batch limits, rate limiter, backoff, SLO verdicts."""

from __future__ import annotations

import time

import pytest

from flink_platform.loadtest.plan import LoadPlan
from flink_platform.loadtest.producer import MAX_BATCH_BYTES, Backoff, batches
from flink_platform.loadtest.rate import RateLimiter
from flink_platform.loadtest.report import evaluate_slos


def test_producers_split_one_contiguous_index_range():
    plan = LoadPlan(stream="s", target_events_per_s=1000, duration_s=9, ramp_steps=3, producers=4)
    specs = plan.producer_specs()
    assert [s.events_per_s for s in plan.steps] == pytest.approx([1000 / 3, 2000 / 3, 1000])
    assert plan.planned_events == 6000
    assert specs[0].start_index == 0
    for a, b in zip(specs, specs[1:]):
        assert b.start_index == a.start_index + a.planned_count
    assert sum(s.planned_count for s in specs) == plan.planned_events
    assert all(s.steps[-1]["events_per_s"] == 250 for s in specs)


def test_plan_rejects_bad_knobs_with_a_message():
    with pytest.raises(ValueError, match="ramp_steps must be between 1 and duration_s"):
        LoadPlan(stream="s", target_events_per_s=10, duration_s=3, ramp_steps=5)


def test_batches_respect_500_records_and_5_mib():
    small = [(b"x" * 100, "k")] * 1201
    assert [len(b) for b in batches(small)] == [500, 500, 201]
    big = [(b"x" * (900 * 1024), "k")] * 12  # 5 per batch stays under 5 MiB
    sizes = [sum(len(d) + len(k) for d, k in b) for b in batches(big)]
    assert all(size <= MAX_BATCH_BYTES for size in sizes) and len(sizes) == 3
    with pytest.raises(ValueError, match="1 MiB"):
        batches([(b"x" * (1024 * 1024 + 1), "k")])


def test_rate_limiter_holds_the_rate():
    limiter = RateLimiter(2000, burst_s=0.05)
    start = time.monotonic()
    taken = 0
    while time.monotonic() - start < 0.5:
        limiter.acquire(50)
        taken += 50
    rate = taken / (time.monotonic() - start)
    assert 1800 <= rate <= 2300, rate


def test_backoff_is_exponential_with_full_jitter():
    backoff = Backoff(base_s=0.1, cap_s=1.0)
    for attempt in range(8):
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert 0 <= min(delays) and max(delays) <= min(1.0, 0.1 * 2 ** attempt)
    assert max(backoff.delay(6) for _ in range(200)) > 0.5  # jitter spreads up to the cap


def _report(failed=0, accepted=1000, planned=1000, bp=0.1, p99=None):
    return {
        "producers": {"failed": failed, "accepted": accepted, "planned_events": planned,
                      "achieved_ratio": accepted / planned, "error_codes": {}},
        "flink": {"jobs": {"fraud-detection": {"backpressure_ratio": {"p95": bp}}}},
        "latency": {"p99_ms": p99, "reason": "no alert output"},
    }


def test_slo_breaches_name_the_slo_and_by_how_much():
    slos = {"max_p99_latency_ms": 5000, "max_backpressure_ratio": 0.5,
            "zero_failed_records": True, "min_achieved_ratio": 0.9}
    verdicts = {v["name"]: v for v in evaluate_slos(_report(failed=3, accepted=800, bp=0.72), slos)}
    assert verdicts["max_p99_latency_ms"]["status"] == "not_measured"
    assert "not measured" in verdicts["max_p99_latency_ms"]["detail"]
    assert verdicts["max_backpressure_ratio"]["status"] == "fail"
    assert "0.72 > 0.5 (over by 0.22)" in verdicts["max_backpressure_ratio"]["detail"]
    assert "3 records failed" in verdicts["zero_failed_records"]["detail"]
    assert "short by 10%" in verdicts["min_achieved_ratio"]["detail"]
    ok = evaluate_slos(_report(p99=1200.0), slos)
    assert {v["status"] for v in ok} == {"pass"}


def test_event_to_alert_latency_from_committed_alert_files(platform_config, tmp_path):
    """Alert rows as fraud_detection.py writes them (JSON lines; in-progress parts hidden)."""
    import json

    from flink_platform.loadtest.latency import event_to_alert_latency

    local = platform_config.local.model_copy(update={"state_dir": str(tmp_path)})
    cfg = platform_config.model_copy(update={"local": local})
    alerts = tmp_path / "jobs" / "fraud-detection" / "alerts" / "2026-11-23--19"
    alerts.mkdir(parents=True)
    t0 = 1_795_460_000_000
    rows = [{"rule_id": "velocity", "event_id": f"e7-{i}", "ingest_ms": t0 + i * 1000,
             "detection_time_ms": t0 + i * 1000 + 100 + 10 * i} for i in range(10)]
    (alerts / "part-1-0").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (alerts / ".part-2-0.inprogress.x").write_text(json.dumps(
        {"ingest_ms": t0, "detection_time_ms": t0 + 99_999}) + "\n")
    targets = [{"job": "fraud-detection", "job_id": "abc"}]

    result = event_to_alert_latency(cfg, targets, (t0 / 1000, t0 / 1000 + 8.5))

    assert result["measured"] and result["count"] == 9  # the last alert came after the window
    assert (result["p50_ms"], result["p99_ms"]) == (140.0, 180.0)
    empty_local = platform_config.local.model_copy(update={"state_dir": str(tmp_path / "empty")})
    empty = platform_config.model_copy(update={"local": empty_local})
    missing = event_to_alert_latency(empty, targets, (0, 1))
    assert not missing["measured"] and "no committed alert file" in missing["reason"]
    assert "not running" in event_to_alert_latency(cfg, [], (0, 1))["reason"]
