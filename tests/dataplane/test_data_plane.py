"""One data plane, end to end on the local target: Kinesis in, alerts out, state in S3.

Real pieces only: the AWS emulator over HTTP (our moto server), the local Flink cluster
running the real jobs with the platform-kinesis connector and the S3 filesystem plugin,
the lifecycle DAGs through ``dag.test()``. The module's tests run in order on one platform:

1. provision, then deploy both jobs on the provisioned streams;
2. a labelled batch (all four fraud scenarios, malformed lines) from two producers at once:
   every alert in the alerts stream and under ``s3://<bucket>/alerts/fraud-detection/``
   (recall 100%, precision >= 99%), the malformed lines under the dead-letter path with
   their reasons, Flink's source counters equal to what was produced;
3. a savepoint in S3, an upgrade restored from it (Flink's own restore path), and the
   canary users' counters continuing across it;
4. the TaskManager killed while events flow: no alert lost or duplicated in the
   exactly-once S3 output; the at-least-once Kinesis sink's duplicates measured;
5. teardown: the bucket emptied and deleted, the streams gone.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from flink_platform.config import load_config

pytestmark = [pytest.mark.flink, pytest.mark.slow]
JOBS = ("fraud-detection", "risk-analytics")
FRAUD = "fraud-detection"
BASE = datetime(2026, 2, 1, tzinfo=UTC)
REASONS = {"bad_json": "bad_json", "missing_field": "missing_field:amount",
           "negative_qty": "non_positive_qty", "unknown_symbol": "unknown_symbol"}
MEASURED: dict[str, object] = {}  # figures the module prints at the end (-s)
SUBSCRIBED: dict[str, str] = {}  # the SQS queue subscribed to the platform topic
WAITED: dict[str, object] = {}  # how the last wait_rows ended


@pytest.fixture(scope="module")
def plane(provisioned, prometheus):
    """The provisioned platform, with fast checkpoints for the module's runs (the load
    test reads its Flink time series from the stack's Prometheus)."""
    overrides = json.loads(os.environ["FLINK_PLATFORM_OVERRIDES"])
    for job in JOBS:
        overrides.update({f"jobs.{job}.checkpoint_interval_s": 2,
                          f"jobs.{job}.args": {"rollover": "2 s"}})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLINK_PLATFORM_OVERRIDES", json.dumps(overrides))
        yield provisioned
        from flink_platform.adapters import get_flink_adapter

        adapter = get_flink_adapter(load_config())
        for job in JOBS:
            adapter.delete(job)
        if MEASURED:
            print("\ndata plane figures:", json.dumps(MEASURED, indent=1))


def _s3(cfg):
    return boto3.client("s3", endpoint_url=cfg.local.moto_endpoint, region_name=cfg.region,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _run(dag, n: int, conf: dict):
    from tests.dag_runs import run_in_process

    run = run_in_process(dag, conf, logical_date=BASE + timedelta(minutes=n))
    return run, {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def send(cfg, plane, trades: int, rate: int, *, producers: int = 2,
         malformed_rate: float = 0.0, during=None) -> dict:
    """A labelled batch through the load test's own pieces: ``producers`` producers at once,
    heartbeats until the jobs' watermarks passed it, Flink's source counters, the alerts."""
    from flink_platform.loadtest import runner

    params = {"target_events_per_s": rate, "duration_s": max(1, round(trades * 1.2 / rate)),
              "producers": producers, "seed": 7, "malformed_rate": malformed_rate,
              "finish": True}
    plan = runner.plan_from_params(cfg, params, plane, runner.previous_run(cfg))
    targets = runner.flink_targets(cfg, list(JOBS))
    results: list[dict] = [{} for _ in range(producers)]

    def one(spec, slot):
        results[slot] = runner.produce(cfg, spec.to_dict())

    threads = [threading.Thread(target=one, args=(spec, i))
               for i, spec in enumerate(plan.producer_specs())]
    for thread in threads:
        thread.start()
    if during:
        during()
    for thread in threads:
        thread.join()
    runner.save_next_run(cfg, plan, "test", plan.clock.event_ms(time.time()))
    produced = runner.produced_by_stream(plan, results)
    drained = runner.drain_sources(cfg, plan, targets, produced,
                                   max(r["ended_at"] for r in results),
                                   timeout_s=60 if during else runner.DRAIN_TIMEOUT_S)
    alerts = runner.collect_alerts(cfg, plane, plan, results)
    return {"plan": plan, "producers": results, "produced": produced, "drained": drained,
            "alerts": alerts}


def s3_rows(cfg, prefix: str) -> list[dict]:
    from flink_platform.aws.outputs import read_json_lines

    return list(read_json_lines(cfg, cfg.resource_name(cfg.bucket.name), prefix, _s3(cfg)))


def _where_missed_went(cfg, missed: list[str]) -> dict[str, dict]:
    """For each missed ``rule:user``: that user's dead-letter reasons and alert rules in the
    bucket so far (committed parts only), to tell a late or dropped event from a lost alert
    (a flake seen twice: once missing from S3, once from the alerts stream)."""
    dead = s3_rows(cfg, f"dead-letter/{FRAUD}/")
    alerted = s3_rows(cfg, f"alerts/{FRAUD}/")
    found = {}
    for miss in missed[:5]:
        user = miss.partition(":")[2]
        found[miss] = {"dead_letter": sorted(r["reason"] for r in dead
                                             if user in (r.get("raw_line") or "")),
                       "s3_alerts": sorted(r.get("rule_id", "?") for r in alerted
                                           if r.get("user_id") == user)}
    return found


def wait_rows(cfg, prefix: str, done, timeout_s: float | None = None,
              written: bool = True) -> list[dict]:
    """Committed rows under ``prefix`` (``<kind>/<job>/``) once ``done(rows)``.

    Parts commit when a checkpoint completes. ``written``: the job wrote the rows sought
    before this call (not so after a failover, which replays them): such a row is in
    the second checkpoint completed after it at the latest (the first may have been
    triggered before the row), and that commit (notified after Flink reports the checkpoint
    complete) is done by the third. So the wait also ends there, or at the deadline
    (4 checkpoint intervals + 60 s, at least 90 s). ``WAITED`` says how, for the failure
    message."""
    from flink_platform.adapters import get_flink_adapter

    adapter, job = get_flink_adapter(cfg), prefix.split("/")[1]
    first = adapter.completed_checkpoints(job)
    started = time.monotonic()
    deadline = started + (timeout_s or max(90, 4 * cfg.jobs[job].checkpoint_interval_s + 60))
    while True:
        completed = adapter.completed_checkpoints(job) - first
        rows = s3_rows(cfg, prefix)  # read after counting: rows of those checkpoints are in
        WAITED.update(prefix=prefix, checkpoints_completed=completed,
                      waited_s=round(time.monotonic() - started, 1))
        if done(rows) or (written and completed >= 3) or time.monotonic() > deadline:
            return rows
        time.sleep(1)  # poll interval


def test_deploy_runs_both_jobs_on_the_provisioned_streams(plane, airflow_db):
    import flink_deploy

    run, states = _run(flink_deploy.dag, 0, {"jobs": list(JOBS)})
    assert str(run.state) == "success", states
    from flink_platform.reporting import read_stage_summaries

    cfg = load_config()
    facts = read_stage_summaries(cfg)["flink_deploy"]
    for job in JOBS:
        assert facts[f"{job}.source"] == plane.trading_events_arn
        assert facts[f"{job}.last_checkpoint"].startswith(
            f"s3://{plane.bucket}/checkpoints/{job}/")
    listed = _s3(cfg).list_objects_v2(Bucket=plane.bucket, Prefix="checkpoints/fraud-detection/")
    assert any(o["Key"].endswith("/_metadata") for o in listed.get("Contents", []))


def test_a_labelled_batch_comes_out_as_alerts_in_kinesis_and_s3(plane):
    cfg = load_config()
    # 56,000 trades from a period's start: every scenario lane completes (the longest,
    # amount_anomaly, spans 40 blocks of 1,000 trades from block 0..14)
    batch = send(cfg, plane, trades=56_000, rate=4000, malformed_rate=0.002)
    plan, alerts, drained = batch["plan"], batch["alerts"], batch["drained"]
    produced = batch["produced"]
    MEASURED["batch_1"] = {"produced": produced, "read": drained["jobs"],
                           "recall": alerts["recall"], "precision": alerts["precision"],
                           "p50_ms": alerts["latency"]["p50_ms"],
                           "p99_ms": alerts["latency"]["p99_ms"]}
    # producers, Flink's sources and the alerts agree
    beats = sum(r["heartbeats"].get(plan.stream, 0) for r in batch["producers"])
    assert produced["trades"] == plan.planned_trades + beats and produced["ticks"] > 0
    assert drained["jobs"][FRAUD]["read"] == {"trades": produced["trades"]}
    assert drained["jobs"]["risk-analytics"]["read"] == produced
    assert alerts["scenarios"] >= 36
    assert alerts["recall"] == 1.0, (alerts["missed"], alerts["complete"], alerts["waited_s"],
                                     _where_missed_went(cfg, alerts["missed"]))
    assert alerts["precision"] >= 0.99, alerts["false_positives"]
    assert alerts["latency"]["count"] >= alerts["scenarios"]
    # the same alerts, exactly once, in the bucket
    from flink_platform.loadtest.alerts import expected_alert_ids
    from include.flink_jobs.streaming_events import ground_truth

    first, count = plan.trade_range
    truth = ground_truth(plan.seed, first, count, malformed_rate=plan.malformed_rate)
    expected = expected_alert_ids(truth)
    assert {s.rule for s in truth.scenarios} == {"velocity", "geo_velocity",
                                                 "small_then_large", "amount_anomaly"}
    rows = wait_rows(cfg, "alerts/fraud-detection/",
                     lambda rs: expected <= {r["alert_id"] for r in rs})
    assert expected <= {r["alert_id"] for r in rows}, (
        sorted(expected - {r["alert_id"] for r in rows})[:5], WAITED)
    counts = Counter(r["alert_id"] for r in rows)
    assert not [k for k, n in counts.items() if n > 1]
    # malformed lines in the dead-letter path, with their reasons
    want = Counter(REASONS[kind] for kind in truth.malformed.values())
    dead = wait_rows(cfg, "dead-letter/fraud-detection/",
                     lambda rs: Counter(r["reason"] for r in rs) >= want)
    assert sum(want.values()) >= 50 and set(want) == set(REASONS.values())
    got = Counter(r["reason"] for r in dead if r["reason"] != "late_event")
    assert got == want, (got, want, WAITED)
    # late: only the generator's late events (those sent before the watermark had risen
    # 2 minutes above them are on time), none made late by producers or shards
    late = {json.loads(r["raw_line"])["event_id"] for r in dead if r["reason"] == "late_event"}
    assert late <= truth.late_event_ids and len(late) >= 0.9 * len(truth.late_event_ids)
    assert all(r["raw_line"] and r["source_stream"] == "trades" for r in dead)


def test_savepoint_in_s3_and_an_upgrade_that_continues_the_counts(plane):
    import flink_savepoint_upgrade
    from flink_platform.adapters import get_flink_adapter

    cfg = load_config()
    adapter = get_flink_adapter(cfg)
    run, states = _run(flink_savepoint_upgrade.dag, 1, {"jobs": [FRAUD], "new_version": None,
                                                         "job_args": {}, "flink_conf": {}})
    assert str(run.state) == "success", states
    taken = run.get_task_instance("savepoint_fraud_detection.wait_savepoint").xcom_pull(
        task_ids="savepoint_fraud_detection.wait_savepoint")
    assert taken.startswith(f"s3://{plane.bucket}/savepoints/{FRAUD}/")
    assert adapter.store.exists(taken) and taken in adapter.list_savepoints(FRAUD)

    run, states = _run(flink_savepoint_upgrade.dag, 2, {
        "jobs": [FRAUD], "new_version": "1.1.0", "job_args": {}, "flink_conf": {}})
    assert str(run.state) == "success", states
    from flink_platform.reporting import read_stage_summaries

    facts = read_stage_summaries(cfg)["flink_savepoint_upgrade"]
    savepoint = facts[f"{FRAUD}.savepoint"]
    assert savepoint.startswith(f"s3://{plane.bucket}/savepoints/{FRAUD}/")
    assert facts[f"{FRAUD}.restored_from"] == savepoint == adapter.restored_from(FRAUD)

    send(cfg, plane, trades=20_000, rate=3000)

    def counters(rows, version):
        by_user: dict[str, list[int]] = {}
        for r in rows:
            if r["job_version"] == version:
                by_user.setdefault(r["user_id"], []).append(r["user_txn_count"])
        return by_user
    rows = wait_rows(cfg, f"user-counters/{FRAUD}/", lambda rs: counters(rs, "1.1.0"))
    old, new = counters(rows, "1.0.0"), counters(rows, "1.1.0")
    assert old and new and set(new) <= set(old)
    for user, counts in new.items():  # keyed state restored: exactly one more than before
        assert min(counts) == max(old[user]) + 1, (user, max(old[user]), sorted(counts)[:3])


def test_killing_the_taskmanager_loses_and_duplicates_nothing_in_s3(plane, local_stack):
    cfg = load_config()

    from flink_platform.adapters import get_flink_adapter
    from flink_platform.loadtest.sampler import source_records

    adapter = get_flink_adapter(cfg)
    status = adapter.status(FRAUD)
    before = source_records(adapter.metrics_endpoint(FRAUD), status.job_id)["trades"]

    def kill_and_restart():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the producers are mid-batch: 5,000 trades read
            read = source_records(adapter.metrics_endpoint(FRAUD), status.job_id)["trades"]
            if read - before >= 5_000:
                break
            time.sleep(0.2)
        os.killpg(local_stack.record("taskmanager")["pgid"], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while local_stack.running("taskmanager") and time.monotonic() < deadline:
            time.sleep(0.2)
        local_stack.start("taskmanager")

    batch = send(cfg, plane, trades=24_000, rate=2000, during=kill_and_restart)
    alerts = batch["alerts"]
    MEASURED["taskmanager_kill"] = {"recall": alerts["recall"], "precision": alerts["precision"],
                                    "kinesis_duplicates": alerts["duplicates"],
                                    "kinesis_records": alerts["alert_records"]}
    assert alerts["recall"] == 1.0, alerts["missed"]  # at-least-once: nothing lost
    from flink_platform.loadtest.alerts import expected_alert_ids
    from include.flink_jobs.streaming_events import ground_truth

    first, count = batch["plan"].trade_range
    expected = expected_alert_ids(ground_truth(7, first, count))
    rows = wait_rows(cfg, "alerts/fraud-detection/",
                     lambda rs: expected <= {r["alert_id"] for r in rs}, timeout_s=120,
                     written=False)  # the restarted job emits them again from its checkpoint
    counts = Counter(r["alert_id"] for r in rows)
    assert expected <= set(counts), (sorted(expected - set(counts))[:5], WAITED)
    duplicated = {k: n for k, n in counts.items() if n > 1}
    assert not duplicated, f"exactly-once S3 output has duplicates: {duplicated}"


def test_the_load_test_dag_judges_the_data_path_end_to_end(plane):
    """platform_load_test as users trigger it: producers, Flink's counters, the alerts.
    One producer: dag.test() runs mapped tasks one after another, and a second producer's
    shards would hold the per-shard watermarks back until the first finished (the real
    scheduler runs them side by side; the send() runs above drive two at once)."""
    import platform_load_test
    from flink_platform.reporting import read_stage_summaries

    cfg = load_config()
    # The speed SLOs (achieved rate, p99 latency, back-pressure) are off here: on 2 shared
    # cores they measure the machine (CI failed this run once, its message not naming the
    # task; the achieved rate had been 89-96% here), and speed lives in bench/. The
    # correctness SLOs stay on: recall, precision, every record read, none lost.
    # test_an_slo_breach_fails_the_run_and_reaches_the_topic proves a speed SLO enforced.
    run, states = _run(platform_load_test.dag, 4, {
        "target_events_per_s": 1200, "duration_s": 12, "producers": 1, "malformed_rate": 0.002,
        "slo_min_achieved_ratio": None, "slo_max_p99_latency_ms": None,
        "slo_max_backpressure_ratio": None})
    facts = read_stage_summaries(cfg).get("platform_load_test", {})
    assert str(run.state) == "success", (
        {t: s for t, s in states.items() if s != "success"},
        {k: v for k, v in facts.items() if k.startswith("slo_")})
    produced = facts["records_by_stream"]
    assert facts["records_produced"] == produced["trades"] + produced["ticks"] > 10_000
    assert facts["records_read_by_flink"] == {FRAUD: {"trades": produced["trades"]},
                                              "risk-analytics": produced}
    assert facts["alert_recall"] == 1.0 and facts["alert_precision"] >= 0.99
    assert facts["alerts_delivered"] > 0 and facts["p99_event_to_alert_ms"] > 0
    assert facts["s3_prefix"].startswith(f"s3://{plane.bucket}/reports/load-test/")
    MEASURED["load_test_dag"] = {k: facts[k] for k in (
        "achieved_events_per_s", "p50_event_to_alert_ms", "p99_event_to_alert_ms",
        "alert_duplicates", "source_caught_up_after_s")}


def test_an_slo_breach_fails_the_run_and_reaches_the_topic(plane):
    """A rate the emulator cannot take: the run fails naming the SLO, and an SQS queue
    subscribed to the platform topic receives the breach."""
    import platform_load_test
    from tests.provision.test_notifications import read_events, subscribe_queue

    cfg = load_config()
    queue = SUBSCRIBED["queue"] = subscribe_queue(cfg.local.moto_endpoint, cfg, plane.topic_arn)
    run, states = _run(platform_load_test.dag, 5, {
        "target_events_per_s": 100_000, "duration_s": 5, "producers": 1})
    assert str(run.state) == "failed" and states["enforce_slos"] == "failed", states
    assert states["build_load_report"] == "success"
    events = read_events(cfg.local.moto_endpoint, cfg, queue)
    [breach] = [e for e in events if e["event"] == "load_test_slo_breach"]
    assert "min_achieved_ratio" in breach["summary"]


def test_teardown_leaves_no_bucket_and_no_stream(plane):
    import platform_teardown

    cfg = load_config()
    from flink_platform.adapters import get_flink_adapter

    adapter = get_flink_adapter(cfg)
    for job in JOBS:
        adapter.delete(job)
    run, states = _run(platform_teardown.dag, 6, {})
    assert str(run.state) == "success", states
    s3 = _s3(cfg)
    assert plane.bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    kinesis = boto3.client("kinesis", endpoint_url=cfg.local.moto_endpoint, region_name=cfg.region,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    assert not set(kinesis.list_streams()["StreamNames"]) & {
        arn.rsplit("/", 1)[-1] for arn in plane.stream_arns().values()}
    if SUBSCRIBED:  # the report went out before the topic itself was deleted
        from tests.provision.test_notifications import read_events

        events = read_events(cfg.local.moto_endpoint, cfg, SUBSCRIBED["queue"])
        [report] = [e for e in events if e["event"] == "teardown_report"]
        assert report["resources_left"] == []
