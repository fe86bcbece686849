"""A producer facing throttling retries the failed records and loses none.

moto accepts every record, so throttling is injected at the client boundary by
``ThrottlingKinesis`` - the one fake in these tests, because the emulator cannot throttle.
It withholds every third record the first time it is offered (never sending it) and
answers for it with ProvisionedThroughputExceededException, exactly where a real
PutRecords response would put the failure, and throttles the very first call as a whole.
Everything else goes over HTTP to the emulator, and the test counts what arrived by reading
every shard back.
"""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from flink_platform.loadtest.events import trading_event_source
from flink_platform.loadtest.kinesis_io import read_stream
from flink_platform.loadtest.plan import LoadPlan
from flink_platform.loadtest.producer import run_producer

from .conftest import aws_client, create_stream

THROTTLED = {"ErrorCode": "ProvisionedThroughputExceededException",
             "ErrorMessage": "Rate exceeded for shard shardId-000000000000 (injected)"}


class ThrottlingKinesis:
    """A Kinesis client whose PutRecords fails every 3rd record on its first attempt."""

    def __init__(self, client, every: int = 3) -> None:
        self.client, self.every = client, every
        self.offered: set[bytes] = set()
        self.injected = 0
        self.calls = 0

    def put_records(self, Records, **stream):  # boto3's argument names
        self.calls += 1
        if self.calls == 1:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                         "Message": "injected"}}, "PutRecords")
        withheld = set()
        for i, record in enumerate(Records):
            first_time = record["Data"] not in self.offered
            self.offered.add(record["Data"])
            if first_time and (len(self.offered) % self.every == 0):
                withheld.add(i)
        sent = [r for i, r in enumerate(Records) if i not in withheld]
        real = self.client.put_records(**stream, Records=sent)["Records"] if sent else []
        answers = iter(real)
        results = [dict(THROTTLED) if i in withheld else next(answers) for i in range(len(Records))]
        self.injected += len(withheld)
        return {"FailedRecordCount": sum("ErrorCode" in r for r in results), "Records": results}


def test_throttled_records_are_retried_and_none_lost(clean_moto, platform_config):
    import time

    client = aws_client("kinesis", clean_moto, platform_config.region)
    create_stream(client, "throttled", shards=2)
    plan = LoadPlan(stream="throttled", target_events_per_s=1000, duration_s=2, producers=1,
                    start_s=time.time(), origin_ms=int(time.time() * 1000))
    [spec] = plan.producer_specs()
    throttling = ThrottlingKinesis(client)

    stats = run_producer(spec, throttling, trading_event_source(seed=7)).to_dict()

    sent = stats["generated"]  # all 2,000 unless the emulator fell behind the 2 s window
    assert sent >= 1000 and throttling.injected >= sent // 3 - 1
    assert stats["failed"] == 0 and stats["accepted"] == sent
    assert stats["retried"] >= throttling.injected
    assert stats["error_codes"]["ProvisionedThroughputExceededException"] >= throttling.injected
    assert set(stats["shard_counts"]) == {"shardId-000000000000", "shardId-000000000001"}

    arrived = read_stream(client, "throttled", expected=sent, timeout_s=30)
    ids = [json.loads(data)["event_id"] for data in arrived]
    assert len(ids) == len(set(ids)) == sent, "lost or duplicated records"
    assert set(ids) == {f"e7-{i}" for i in range(sent)}


def test_missing_stream_and_bucket_name_the_fix(clean_moto, platform_config):
    import pytest

    from flink_platform.data_plane import DataPlane, DataPlaneError, check_streams_exist
    from flink_platform.loadtest.runner import check_bucket

    client = aws_client("kinesis", clean_moto, platform_config.region)
    create_stream(client, "here", shards=1)
    summary = client.describe_stream_summary(StreamName="here")["StreamDescriptionSummary"]
    here = summary["StreamARN"]
    gone = here.replace("/here", "/gone")
    plane = DataPlane(region=platform_config.region, bucket="b", trading_events_arn=here,
                      market_data_arn=gone, fraud_alerts_arn=here)
    with pytest.raises(DataPlaneError, match=f"{gone} \\(market_data\\) does not exist"):
        check_streams_exist(platform_config, plane)
    with pytest.raises(LookupError, match="platform bucket .* does not exist"):
        check_bucket(platform_config)
