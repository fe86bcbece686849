"""AWS resources of the platform: specs (names, tags, documents), idempotent ensure and
delete helpers per service, and the teardown tag audit."""

from __future__ import annotations

from typing import Any


def spec_from(config: dict[str, Any] | None):
    """The PlatformSpec of a ``resolve_config`` result; fails clearly when there is none."""
    from airflow.sdk.exceptions import AirflowFailException

    from flink_platform.aws.specs import PlatformSpec
    from flink_platform.config import validate_config

    if not config:
        raise AirflowFailException("no platform config: resolve_config did not succeed")
    return PlatformSpec(validate_config(config))
