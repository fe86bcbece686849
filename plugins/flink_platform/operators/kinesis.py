"""Create a Kinesis Data Stream through the provider's KinesisHook (the provider has no
Kinesis Data Streams operator). Idempotent: an existing stream with the same shard count
and retention is reused; one with other settings fails the task, naming it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.hooks.kinesis import KinesisHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk.exceptions import AirflowFailException


class KinesisCreateStreamOperator(AwsBaseOperator[KinesisHook]):
    """Create ``stream_name`` (provisioned, ``shard_count`` shards, tagged) or reuse it.

    Returns ``{"stream": name, "created": bool}``. Retention above the 24 h default is
    applied once the stream is ACTIVE (see ``flink_platform.aws.streams.apply_retention``).
    """

    aws_hook_class = KinesisHook
    template_fields: Sequence[str] = aws_template_fields(
        "stream_name", "shard_count", "retention_hours", "tags")

    def __init__(self, *, stream_name: str, shard_count: int, retention_hours: int = 24,
                 tags: dict[str, str] | None = None, **kwargs: Any) -> None:
        from flink_platform.aws.clients import RETRY_CONFIG

        kwargs.setdefault("botocore_config", RETRY_CONFIG)  # throttling: adaptive backoff
        super().__init__(**kwargs)
        self.stream_name, self.shard_count = stream_name, shard_count
        self.retention_hours, self.tags = retention_hours, tags or {}

    def execute(self, context: Any) -> dict[str, Any]:
        from flink_platform.aws.clients import ConfigDriftError
        from flink_platform.aws.streams import ensure_stream

        try:
            result = ensure_stream(self.hook.conn, self.stream_name, int(self.shard_count),
                                   int(self.retention_hours), dict(self.tags))
        except ConfigDriftError as err:
            raise AirflowFailException(str(err)) from None
        self.log.info("stream %s %s", self.stream_name,
                      "created" if result["created"] else "exists with the configured settings")
        return result
