"""The load test's pure parts: plan split, event clock, batch limits, rate limiter,
backoff, SLO verdicts (an unmeasured figure fails its SLO), alert judgement."""

from __future__ import annotations

import time

import pytest

from flink_platform.loadtest.plan import LoadPlan
from flink_platform.loadtest.producer import MAX_BATCH_BYTES, Backoff, batches
from flink_platform.loadtest.rate import RateLimiter
from flink_platform.loadtest.report import evaluate_slos


def test_producers_own_shards_and_walk_the_whole_range():
    half = 2**127  # two shards on s, one on t
    plan = LoadPlan(stream="s", ticks_stream="t", target_events_per_s=1200, duration_s=9,
                    ramp_steps=3, producers=2, first_index=120_000,
                    shards={"s": ["0", str(half)], "t": ["0"]})
    specs = plan.producer_specs()
    assert _fits_int64(plan.to_dict()) and all(_fits_int64(s.to_dict()) for s in specs), (
        "a plan is an XCom: the Task SDK's JSON carries no integer beyond 64 bits")
    assert [s.events_per_s for s in plan.steps] == pytest.approx([400, 800, 1200])
    assert plan.planned_events == 7200 and plan.planned_trades == 6000  # ticks: 1 per 5 trades
    assert plan.trade_range == (120_000, 6000)
    assert all(s.steps[-1]["events_per_s"] == 600 for s in specs)
    chunks = specs[0].chunks()
    assert chunks[0] == (120_000, 100) and sum(n for _, n in chunks) == 6000
    assert all(spec.chunks() == chunks for spec in specs)  # every producer walks the range
    from flink_platform.loadtest.plan import hash_key

    keys = [f"A{n:07d}" for n in range(200)]
    for key in keys:  # each key: the producer of the shard Kinesis routes it to
        owner = [spec.owns("s", key) for spec in specs]
        assert owner.count(True) == 1 and owner[0] == (hash_key(key) < half)
        assert specs[0].owns("t", key) and not specs[1].owns("t", key)  # t's one shard: p0
    assert {specs[0].owns("s", k) for k in keys} == {True, False}


def test_the_event_clock_runs_at_the_generators_density():
    """100 trades per event-time second: 1,200 records/s with ticks is 1,000 trades/s, so
    event time runs 10x the wall clock; every producer computes the same."""
    plan = LoadPlan(stream="s", ticks_stream="t", target_events_per_s=1200, duration_s=10,
                    ramp_steps=2, start_s=1000.0, origin_ms=5_000_000)
    clock = plan.clock
    assert clock.event_ms(1000.0) == 5_000_000
    assert clock.event_ms(1005.0) == 5_000_000 + 5_000 * 5  # step 1: 500 trades/s, 5x
    assert clock.event_ms(1010.0) == 5_025_000 + 5_000 * 10  # step 2: 1,000 trades/s, 10x
    assert clock.event_ms(1011.0) == plan.end_event_ms + 10_000  # after: the last speed
    assert clock.from_dict(clock.to_dict()) == clock


def test_a_run_starts_a_generator_period():
    from flink_platform.loadtest.plan import next_period

    assert next_period(0) == 0 and next_period(1) == next_period(60_000) == 60_000
    with pytest.raises(ValueError, match="first_index must start a generator period"):
        LoadPlan(stream="s", target_events_per_s=10, duration_s=3, first_index=100)


def test_plan_rejects_bad_knobs_with_a_message():
    with pytest.raises(ValueError, match="ramp_steps must be between 1 and duration_s"):
        LoadPlan(stream="s", target_events_per_s=10, duration_s=3, ramp_steps=5)


def test_batches_respect_500_records_and_5_mib():
    small = [(b"x" * 100, "k", None)] * 1201
    assert [len(b) for b in batches(small)] == [500, 500, 201]
    big = [(b"x" * (900 * 1024), "k", None)] * 12  # 5 per batch stays under 5 MiB
    sizes = [sum(len(d) + len(k) for d, k, _ in b) for b in batches(big)]
    assert all(size <= MAX_BATCH_BYTES for size in sizes) and len(sizes) == 3
    with pytest.raises(ValueError, match="1 MiB"):
        batches([(b"x" * (1024 * 1024 + 1), "k", None)])


def test_rate_limiter_holds_the_rate():
    limiter = RateLimiter(2000, burst_s=0.05)
    start = time.monotonic()
    taken = 0
    while time.monotonic() - start < 0.5:
        limiter.acquire(50)
        taken += 50
    rate = taken / (time.monotonic() - start)
    assert 1800 <= rate <= 2300, rate


class _FakeTime:
    def __init__(self):
        self.now = 0.0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def _sent_in(seconds: float, stalls: dict[int, float], **limiter) -> int:
    """Events a caller sends in ``seconds`` at 1,000/s in chunks of 100, held up
    ``stalls[i]`` s after chunk i (a PutRecords in flight), on a fake clock."""
    fake = _FakeTime()
    limiter = RateLimiter(1000, clock=fake.clock, sleep=fake.sleep, **limiter)
    sent = chunk = 0
    while fake.now < seconds:
        limiter.acquire(100)
        sent += 100
        fake.now += stalls.get(chunk, 0.0)
        chunk += 1
    return sent


def test_rate_limiter_catches_up_after_a_stall():
    stalls = {5: 0.6, 20: 0.9}  # two PutRecords stalls, as the demo's producer saw
    assert _sent_in(5.0, stalls) >= 5000  # the default catch-up (1 s) recovers both
    assert _sent_in(5.0, stalls, burst_s=0.2) <= 4200  # 0.2 s: 1.1 s of sending lost
    assert _sent_in(5.0, {}) <= 5000 + 200  # no stall: at most start_s (0.2 s) over


def test_backoff_is_exponential_with_full_jitter():
    backoff = Backoff(base_s=0.1, cap_s=1.0)
    for attempt in range(8):
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert 0 <= min(delays) and max(delays) <= min(1.0, 0.1 * 2 ** attempt)
    assert max(backoff.delay(6) for _ in range(200)) > 0.5  # jitter spreads up to the cap


def _report(failed=0, accepted=1000, planned=1000, bp=0.1, p99=None, recall=1.0,
            precision=1.0, read=None):
    return {
        "producers": {"failed": failed, "accepted": accepted, "planned_events": planned,
                      "achieved_ratio": accepted / planned, "error_codes": {}},
        "flink": {"jobs": {"fraud-detection": {"backpressure_ratio": {"p95": bp}}}},
        "latency": {"p99_ms": p99, "reason": "no alert of a sent scenario arrived"},
        "data_path": {"produced": {"trades": 1000}, "alerts_delivered": 10,
                      "read_by_flink": ({"fraud-detection": {"trades": 1000}}
                                        if read is None else read),
                      "alert_recall": recall, "alert_precision": precision,
                      "missed": ["velocity:U1000000"], "false_positives": []},
    }


SLOS = {"max_p99_latency_ms": 5000, "max_backpressure_ratio": 0.5, "zero_failed_records": True,
        "min_achieved_ratio": 0.9, "min_alert_recall": 1.0, "min_alert_precision": 0.99,
        "all_records_read": True}


def test_slo_breaches_name_the_slo_and_by_how_much():
    verdicts = {v["name"]: v for v in evaluate_slos(
        _report(failed=3, accepted=800, bp=0.72, recall=0.9,
                read={"fraud-detection": {"trades": 990}}), SLOS)}
    assert verdicts["max_backpressure_ratio"]["status"] == "fail"
    assert "0.72 > 0.5 (over by 0.22)" in verdicts["max_backpressure_ratio"]["detail"]
    assert "3 records failed" in verdicts["zero_failed_records"]["detail"]
    assert "short by 10%" in verdicts["min_achieved_ratio"]["detail"]
    assert "velocity:U1000000" in verdicts["min_alert_recall"]["detail"]
    assert "{'fraud-detection': {'trades': 10}}" in verdicts["all_records_read"]["detail"]
    ok = evaluate_slos(_report(p99=1200.0), SLOS)
    assert {v["status"] for v in ok} == {"pass"}


def test_a_figure_that_could_not_be_measured_fails_its_slo_naming_it():
    verdicts = {v["name"]: v for v in evaluate_slos(
        _report(p99=None, recall=None, precision=None, read={}), SLOS)}
    for name in ("max_p99_latency_ms", "min_alert_recall", "min_alert_precision",
                 "all_records_read"):
        assert verdicts[name]["status"] == "fail" and not verdicts[name]["measured"], name
        assert verdicts[name]["detail"].startswith("not measured: "), verdicts[name]
    assert "no alert of a sent scenario arrived" in verdicts["max_p99_latency_ms"]["detail"]


def test_alerts_are_judged_against_the_ground_truth():
    from flink_platform.loadtest.alerts import evaluate, expected_alert_ids
    from include.flink_jobs.streaming_events import ground_truth

    truth = ground_truth(7, 0, 20_000)
    triggers = {s.trigger_event_id: s for s in truth.scenarios}
    alerts = [{"alert_id": f"{s.rule}:{e}", "rule_id": s.rule, "user_id": s.user_id,
               "event_id": e, "arrival_ms": 10_500.0} for e, s in triggers.items()]
    sent = {e: 10_000.0 for e in triggers}
    result = evaluate(truth, alerts, sent)
    assert (result["recall"], result["precision"]) == (1.0, 1.0)
    assert result["latency"]["p99_ms"] == 500.0 and result["latency"]["count"] == len(alerts)
    assert expected_alert_ids(truth) == {a["alert_id"] for a in alerts}
    wrong = {**alerts[0], "user_id": "U0000042"}  # an ordinary user flagged
    result = evaluate(truth, alerts[1:] + [wrong], sent)
    assert result["recall"] < 1.0 and result["precision"] < 1.0
    assert result["false_positives"] == [f"{alerts[0]['rule_id']}:U0000042"]


def _fits_int64(value) -> bool:
    if isinstance(value, dict):
        return all(_fits_int64(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(_fits_int64(v) for v in value)
    return not isinstance(value, int) or -(2**63) <= value < 2**63


def test_the_report_takes_its_flink_series_from_prometheus():
    """With Prometheus' series (query_range) in the run, the report's figures, its
    backpressure SLO and its chart series are Prometheus', not the REST samples'."""
    from flink_platform.loadtest.report import _summarise_job, _timeseries

    series = {"records_in_per_s": [[10, 900.0], [15, 1100.0]],
              "records_out_per_s": [[10, 30.0], [15, 50.0]],
              "backpressure_ratio": [[10, 0.1], [15, 0.6]], "busy_ratio": [[10, 0.2]],
              "millis_behind_latest": [[10, 0.0], [15, 1200.0]]}
    sample = {"t": 12, "job": "fraud-detection", "job_id": "j1", "state": "RUNNING",
              "records_in": 5.0, "records_out": 1.0, "backpressure_ratio": 0.0,
              "busy_ratio": 0.0, "millis_behind_latest": 0.0, "metrics_source": "rest"}
    sampled = {"samples": [sample], "checkpoints": {}, "failed_checkpoints": {},
               "prometheus": {"url": "http://prom", "jobs": {
                   "fraud-detection": {"job_id": "j1", "series": series}}}}
    job = _summarise_job("fraud-detection", sampled)
    assert job["metrics_source"] == "prometheus query_range http://prom"
    assert job["records_in_per_s"] == {"avg": 1000.0, "max": 1100.0}
    assert job["backpressure_ratio"]["max"] == 0.6
    assert job["millis_behind_latest"] == {"max": 1200.0}
    flink = _timeseries([], sampled, {}, ["fraud-detection"])["flink"]["fraud-detection"]
    assert flink["records_in_per_s"] == series["records_in_per_s"]
