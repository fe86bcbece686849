"""Wait until Kinesis Data Streams are ACTIVE (the provider has no such sensor).

Poke and reschedule modes call :func:`streams_active`; ``deferrable=True`` hands the
same check to :class:`~flink_platform.triggers.polling.CheckTrigger`. A missing or
DELETING stream fails at once; a timeout names each stream that is not ACTIVE yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flink_platform.triggers.polling import FAILED, READY, WAITING, CheckSensor


def streams_active(aws_conn_id: str, region_name: str | None,
                   stream_names: list[str]) -> tuple[str, str]:
    """``(state, message)`` for all ``stream_names``: ready only when each is ACTIVE."""
    from flink_platform.aws.streams import kinesis, stream_summary

    conn = kinesis(aws_conn_id, region_name)
    statuses = {}
    for name in stream_names:
        summary = stream_summary(conn, name)
        statuses[name] = summary["StreamStatus"] if summary else "MISSING"
    shown = ", ".join(f"{name}={status}" for name, status in statuses.items())
    if any(status in ("MISSING", "DELETING") for status in statuses.values()):
        return FAILED, f"stream(s) gone or being deleted: {shown}"
    if all(status == "ACTIVE" for status in statuses.values()):
        return READY, f"all ACTIVE: {shown}"
    return WAITING, f"not ACTIVE yet: {shown}"


class KinesisStreamActiveSensor(CheckSensor):
    """Succeeds when every stream in ``stream_names`` is ACTIVE."""

    template_fields: Sequence[str] = ("stream_names", "region_name")
    check_path = f"{__name__}.streams_active"
    what = "Kinesis streams ACTIVE"

    def __init__(self, *, stream_names: list[str], aws_conn_id: str = "aws_default",
                 region_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stream_names = stream_names
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name

    def check_kwargs(self, context: Any = None) -> dict[str, Any]:
        return {"aws_conn_id": self.aws_conn_id, "region_name": self.region_name,
                "stream_names": list(self.stream_names)}
