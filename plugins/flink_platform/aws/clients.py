"""boto3 clients through the Airflow AWS connection, plus the error vocabulary we share.

Clients retry throttling with exponential backoff (botocore ``adaptive`` mode), so every
ensure/delete helper gets it for free. ``ConfigDriftError`` is how an existing resource
with other settings is reported: by name, never silently changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flink_platform.config import PlatformConfig

RETRY_CONFIG = {"retries": {"mode": "adaptive", "max_attempts": 10}}
NOT_FOUND_CODES = frozenset({
    "NoSuchEntity", "NoSuchBucket", "ResourceNotFoundException", "NotFound", "NotFoundException",
    "NoSuchLifecycleConfiguration", "ServerSideEncryptionConfigurationNotFoundError",
    "NoSuchPublicAccessBlockConfiguration", "InvalidVpcID.NotFound", "InvalidSubnetID.NotFound",
    "NoSuchTagSet", "404",
})


class ConfigDriftError(RuntimeError):
    """An existing resource differs from the config; the message names it and each field."""

    def __init__(self, resource: str, differences: dict[str, tuple[Any, Any]]) -> None:
        self.resource = resource
        self.differences = differences
        details = "; ".join(f"{field}: exists with {have!r}, config wants {want!r}"
                            for field, (have, want) in differences.items())
        super().__init__(f"{resource} exists with different settings ({details}); "
                         f"not changed: fix the config or the resource")


def check_drift(resource: str, pairs: dict[str, tuple[Any, Any]]) -> None:
    """Raise ConfigDriftError for every (existing, wanted) pair that differs."""
    diffs = {field: (have, want) for field, (have, want) in pairs.items() if have != want}
    if diffs:
        raise ConfigDriftError(resource, diffs)


def aws_hook(cfg: PlatformConfig, client_type: str):
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    return AwsBaseHook(aws_conn_id=cfg.aws_conn_id, client_type=client_type,
                       region_name=cfg.region, config=_botocore_config())


def client(cfg: PlatformConfig, service: str):
    """A boto3 client for ``service`` through the config's Airflow AWS connection."""
    return aws_hook(cfg, service).get_conn()


def _botocore_config():
    from botocore.config import Config

    return Config(**RETRY_CONFIG)


def error_code(err: Exception) -> str:
    response = getattr(err, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def is_not_found(err: Exception) -> bool:
    code = error_code(err)
    return code in NOT_FOUND_CODES or code.endswith(".NotFound")


def account_id(cfg: PlatformConfig) -> str:
    return client(cfg, "sts").get_caller_identity()["Account"]


@contextmanager
def drift_fails_task() -> Iterator[None]:
    """Turn ConfigDriftError into AirflowFailException: drift is not retried."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        yield
    except ConfigDriftError as err:
        raise AirflowFailException(str(err)) from None


class StateBucketClient:
    """Objects in the platform's state bucket, through the config's AWS connection (the
    emulator on ``local``, S3 on ``aws``); the base of the job leases and savepoint store.

    :param cfg: the platform config (bucket name, AWS connection)
    :param s3: a boto3 S3 client (default: made on first use)
    """

    def __init__(self, cfg: PlatformConfig, s3: Any = None) -> None:
        from flink_platform.aws.specs import PlatformSpec

        self.cfg = cfg
        self.bucket = PlatformSpec(cfg).names["bucket"]
        self._s3 = s3

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = client(self.cfg, "s3")
        return self._s3
