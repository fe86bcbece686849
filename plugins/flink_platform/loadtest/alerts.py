"""The load test's far end: read the alerts stream, judge alerts against the ground truth.

:func:`read_alerts` reads every record the fraud job put on the alerts stream since the
run started (``AT_TIMESTAMP`` per shard), with Kinesis's arrival time of each; it stops
once every expected alert has arrived and the stream stayed quiet for ``quiet_s``, or at
the deadline. The Kinesis sink is at-least-once: after a restart an alert may arrive
twice, with the same ``alert_id`` (``<rule>:<event_id>``); duplicates are counted and
dropped here, as any consumer would.

:func:`evaluate` compares the unique alerts with the labelled ground truth of what was
sent (``streaming_events.ground_truth``): recall and precision over (rule, user) pairs,
scenarios cut by the run's range excluded, and event-to-alert latency from the producer's
send time of the triggering event to the alert's arrival in the alerts stream.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

LATENCY_DEFINITION = ("producer send time of the triggering trade (PutRecords call) to the "
                      "alert's arrival in the alerts stream (Kinesis ApproximateArrivalTimestamp)")


@dataclass
class AlertsRead:
    alerts: list[dict[str, Any]] = field(default_factory=list)  # unique, first arrival
    records: int = 0
    duplicates: int = 0
    malformed: int = 0
    complete: bool = False  # every expected alert arrived before the deadline
    waited_s: float = 0.0


def _shards(client: Any, arn: str) -> list[str]:
    shards, token = [], None
    while True:
        page = client.list_shards(NextToken=token) if token else client.list_shards(StreamARN=arn)
        shards += [s["ShardId"] for s in page["Shards"]]
        token = page.get("NextToken")
        if not token:
            return shards


def read_alerts(client: Any, arn: str, since_s: float, expected_ids: set[str], *,
                timeout_s: float = 90.0, quiet_s: float = 3.0, poll_s: float = 0.2) -> AlertsRead:
    """Alerts on stream ``arn`` that arrived after ``since_s`` (epoch seconds)."""
    started = time.monotonic()
    deadline = started + timeout_s
    since = datetime.fromtimestamp(since_s, tz=UTC)
    iterators = {shard: client.get_shard_iterator(
        StreamARN=arn, ShardId=shard, ShardIteratorType="AT_TIMESTAMP", Timestamp=since,
    )["ShardIterator"] for shard in _shards(client, arn)}
    out, by_id = AlertsRead(), {}
    last_new = time.monotonic()
    while iterators:
        got = 0
        for shard, iterator in list(iterators.items()):
            page = client.get_records(ShardIterator=iterator, Limit=10000, StreamARN=arn)
            for record in page["Records"]:
                got += 1
                out.records += 1
                try:
                    alert = json.loads(record["Data"])
                    alert_id = alert["alert_id"]
                except (ValueError, KeyError, TypeError):
                    out.malformed += 1
                    continue
                if alert_id in by_id:
                    out.duplicates += 1
                    continue
                alert["arrival_ms"] = record["ApproximateArrivalTimestamp"].timestamp() * 1000
                by_id[alert_id] = alert
            if page.get("NextShardIterator"):
                iterators[shard] = page["NextShardIterator"]
            else:
                del iterators[shard]
        now = time.monotonic()
        if got:
            last_new = now
        out.complete = expected_ids <= set(by_id)
        if (out.complete and now - last_new >= quiet_s) or now >= deadline:
            break
        if not got:
            time.sleep(poll_s)
    out.alerts = sorted(by_id.values(), key=lambda a: a["arrival_ms"])
    out.waited_s = round(time.monotonic() - started, 2)
    return out


def expected_alert_ids(truth: Any) -> set[str]:
    """``alert_id`` of the alert each complete scenario must produce (``<rule>:<trigger>``)."""
    return {f"{s.rule}:{s.trigger_event_id}" for s in truth.scenarios}


def evaluate(truth: Any, alerts: list[dict[str, Any]],
             sent_ms: dict[str, float]) -> dict[str, Any]:
    """Recall / precision over (rule, user) and send-to-arrival latency of the alerts."""
    from flink_platform.loadtest.report import percentile

    expected = {(s.rule, s.user_id) for s in truth.scenarios}
    found = {(a["rule_id"], a["user_id"]) for a in alerts
             if a["user_id"] not in truth.partial_users}
    hits = expected & found
    samples = sorted([a["arrival_ms"] / 1000, a["arrival_ms"] - sent_ms[a["event_id"]]]
                     for a in alerts if a.get("event_id") in sent_ms)
    latencies = [ms for _, ms in samples]
    return {
        "expected": len(expected), "found": len(found), "true_positives": len(hits),
        "recall": round(len(hits) / len(expected), 4) if expected else None,
        "precision": round(len(hits) / len(found), 4) if found else None,
        "missed": sorted(f"{rule}:{user}" for rule, user in expected - found)[:20],
        "false_positives": sorted(f"{rule}:{user}" for rule, user in found - expected)[:20],
        "latency": {
            "definition": LATENCY_DEFINITION, "count": len(latencies),
            **{f"p{q}_ms": (round(percentile(latencies, q), 1) if latencies else None)
               for q in (50, 90, 99)},
            "samples": samples,
        },
    }
