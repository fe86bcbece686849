"""Kinesis clients from the Airflow connection, stream checks, and reading a stream back.

Imported inside tasks only (boto3 / the Amazon provider are heavy for DAG parse).
"""

from __future__ import annotations

import time
from typing import Any


def kinesis_client(aws_conn_id: str, region: str | None = None, max_pool: int = 16) -> Any:
    """A boto3 Kinesis client built by the provider's KinesisHook (AwsBaseHook credentials).

    Botocore's own retries are off: the producer retries throttled calls and failed
    records itself, with jitter, and counts them.
    """
    from airflow.providers.amazon.aws.hooks.kinesis import KinesisHook
    from botocore.config import Config

    config = Config(max_pool_connections=max_pool, retries={"total_max_attempts": 1},
                    connect_timeout=5, read_timeout=30)
    return KinesisHook(aws_conn_id=aws_conn_id, region_name=region, config=config).conn


def stream_target(stream: str) -> dict[str, str]:
    """The boto3 argument naming ``stream``: ``StreamARN`` for an ARN, else ``StreamName``."""
    return {"StreamARN" if stream.startswith("arn:") else "StreamName": stream}


def stream_shards(client: Any, stream: str) -> list[dict[str, Any]]:
    """Open shards of ``stream`` (a name or an ARN; raises a clear error when it is missing
    or not ACTIVE)."""
    try:
        summary = client.describe_stream_summary(**stream_target(stream))[
            "StreamDescriptionSummary"]
    except client.exceptions.ResourceNotFoundException:
        raise LookupError(f"Kinesis stream {stream!r} does not exist: run the provision DAG "
                          "first (or pass an existing stream)") from None
    if summary["StreamStatus"] not in ("ACTIVE", "UPDATING"):
        raise LookupError(f"Kinesis stream {stream!r} is {summary['StreamStatus']}, not ACTIVE")
    shards, token = [], None
    while True:
        kwargs = {"NextToken": token} if token else stream_target(stream)
        page = client.list_shards(**kwargs)
        shards += [s for s in page["Shards"]
                   if "EndingSequenceNumber" not in s.get("SequenceNumberRange", {})]
        token = page.get("NextToken")
        if not token:
            return shards


def read_stream(client: Any, stream: str, expected: int | None = None,
                timeout_s: float = 60.0) -> list[bytes]:
    """Every record's data in ``stream`` from TRIM_HORIZON, all shards.

    Reads each shard until it returns no more records (``MillisBehindLatest`` 0); with
    ``expected`` it keeps polling until that many arrived or ``timeout_s`` passes.
    """
    deadline = time.monotonic() + timeout_s
    iterators = {
        shard["ShardId"]: client.get_shard_iterator(
            **stream_target(stream), ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON",
        )["ShardIterator"]
        for shard in stream_shards(client, stream)
    }
    data: list[bytes] = []
    while iterators:
        drained = True
        for shard_id, iterator in list(iterators.items()):
            page = client.get_records(ShardIterator=iterator, Limit=10000)
            data += [r["Data"] for r in page["Records"]]
            if page["Records"] or page.get("MillisBehindLatest", 0) > 0:
                drained = False
            if page.get("NextShardIterator"):
                iterators[shard_id] = page["NextShardIterator"]
            else:
                del iterators[shard_id]
        if drained and (expected is None or len(data) >= expected):
            break
        if time.monotonic() > deadline:
            break
    return data
