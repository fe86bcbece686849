"""Read the jobs' committed outputs in the platform bucket (alerts, risk aggregates,
dead letters, counters): JSON lines in part files under ``s3://<bucket>/<prefix>``.

The file sinks write each part with an S3 multipart upload that completes only when the
checkpoint commits it, so every object listed here is committed: exactly-once output.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flink_platform.config import PlatformConfig


def read_json_lines(cfg: PlatformConfig, bucket: str, prefix: str,
                    s3: Any = None) -> Iterator[dict[str, Any]]:
    """Every row of every committed part file under ``prefix`` (in key order)."""
    if s3 is None:
        from flink_platform.aws.clients import client

        s3 = client(cfg, "s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if obj["Key"].rsplit("/", 1)[-1].startswith((".", "_")):
                continue
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
            yield from (json.loads(line) for line in body.splitlines() if line.strip())
