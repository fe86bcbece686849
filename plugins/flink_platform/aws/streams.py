"""Kinesis Data Streams through the provider's KinesisHook: create-or-reuse, status,
retention, delete. (The provider has no Kinesis Data Streams operator or sensor.)"""

from __future__ import annotations

from typing import Any

from flink_platform.aws.clients import check_drift, is_not_found
from flink_platform.config import PlatformConfig, StreamConfig

DEFAULT_RETENTION_HOURS = 24


def kinesis(aws_conn_id: str, region_name: str | None):
    from airflow.providers.amazon.aws.hooks.kinesis import KinesisHook
    from botocore.config import Config

    from flink_platform.aws.clients import RETRY_CONFIG

    return KinesisHook(aws_conn_id=aws_conn_id, region_name=region_name,
                       config=Config(**RETRY_CONFIG)).conn


def stream_summary(conn, name: str) -> dict[str, Any] | None:
    try:
        return conn.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    except Exception as err:
        if is_not_found(err):
            return None
        raise


def ensure_stream(conn, name: str, shards: int, retention_hours: int,
                  tags: dict[str, str]) -> dict[str, Any]:
    """Create the stream, or reuse it when shard count and retention match."""
    summary = stream_summary(conn, name)
    if summary is None or summary["StreamStatus"] == "DELETING":
        conn.create_stream(StreamName=name, ShardCount=shards,
                           StreamModeDetails={"StreamMode": "PROVISIONED"}, Tags=tags)
        return {"stream": name, "created": True}
    pairs = {"shard count": (summary["OpenShardCount"], shards)}
    if summary["RetentionPeriodHours"] != DEFAULT_RETENTION_HOURS:  # else: not applied yet
        pairs["retention hours"] = (summary["RetentionPeriodHours"], retention_hours)
    check_drift(f"Kinesis stream {name}", pairs)
    return {"stream": name, "created": False, "arn": summary["StreamARN"]}


def apply_retention(conn, name: str, retention_hours: int) -> str:
    """Set retention on an ACTIVE stream (new streams start at 24 h); return its ARN."""
    summary = conn.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    have = summary["RetentionPeriodHours"]
    if have < retention_hours:
        conn.increase_stream_retention_period(StreamName=name,
                                              RetentionPeriodHours=retention_hours)
    elif have > retention_hours:
        conn.decrease_stream_retention_period(StreamName=name,
                                              RetentionPeriodHours=retention_hours)
    return summary["StreamARN"]


def ensure_retention(cfg: PlatformConfig, streams: dict[str, StreamConfig]) -> dict[str, str]:
    conn = kinesis(cfg.aws_conn_id, cfg.region)
    return {name: apply_retention(conn, name, sc.retention_hours) for name, sc in streams.items()}


def delete_streams(cfg: PlatformConfig, names: list[str]) -> list[str]:
    """Delete each stream (and its consumers); already gone is success."""
    conn = kinesis(cfg.aws_conn_id, cfg.region)
    deleted = []
    for name in names:
        try:
            conn.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
            deleted.append(name)
        except Exception as err:
            if not is_not_found(err):
                raise
    return deleted
