"""The data plane the jobs run on: what ``platform_provision`` published, nothing hand-written.

Provision publishes the ARNs of the streams it created (trades and market ticks in, fraud
alerts out), the state bucket and the notification topic as the ``platform_provisioned``
Asset event (and XCom). Every task that deploys a job reads the newest such event
(:func:`from_inlet_events`) and hands the :class:`DataPlane` to the Flink adapter, which
renders it into the jobs' arguments and Flink options (``flink_platform.job_launch``) the
same way on both targets. The only difference between targets is ``aws_endpoint``: the
``endpoint_url`` of the platform's AWS connection (the emulator on ``local``, none on
``aws``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from flink_platform.config import PlatformConfig

STREAM_ROLES = ("trading_events", "market_data", "fraud_alerts")


class DataPlaneError(LookupError):
    """The platform is not provisioned, or a provisioned resource is gone."""


@dataclass(frozen=True)
class DataPlane:
    region: str
    bucket: str
    trading_events_arn: str
    market_data_arn: str
    fraud_alerts_arn: str
    topic_arn: str | None = None
    aws_endpoint: str | None = None

    @property
    def s3_root(self) -> str:
        return f"s3://{self.bucket}"

    def stream_arns(self) -> dict[str, str]:
        return {role: getattr(self, f"{role}_arn") for role in STREAM_ROLES}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataPlane:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})

    @classmethod
    def from_provisioned(cls, facts: dict[str, Any], aws_endpoint: str | None) -> DataPlane:
        """From the ``platform_provisioned`` facts; names what is missing."""
        arns = facts.get("stream_arns_by_role") or {}
        missing = [f"stream_arns_by_role.{r}" for r in STREAM_ROLES if not arns.get(r)]
        missing += [k for k in ("region", "bucket") if not facts.get(k)]
        if missing:
            raise DataPlaneError(
                f"the platform_provisioned event lacks {', '.join(missing)}: re-run "
                "platform_provision (events from before the data plane carry no stream ARNs)")
        return cls(region=facts["region"], bucket=facts["bucket"],
                   trading_events_arn=arns["trading_events"], market_data_arn=arns["market_data"],
                   fraud_alerts_arn=arns["fraud_alerts"], topic_arn=facts.get("topic_arn"),
                   aws_endpoint=aws_endpoint)


def connection_endpoint(cfg: PlatformConfig) -> str | None:
    """``endpoint_url`` of the platform's AWS connection (the emulator; None on real AWS)."""
    from flink_platform.aws.clients import aws_hook

    return aws_hook(cfg, "sts").conn_config.endpoint_url


def from_inlet_events(cfg: PlatformConfig, inlet_events: Any) -> DataPlane:
    """The data plane of the newest ``platform_provisioned`` event (the task must declare
    ``inlets=[PLATFORM_PROVISIONED]``); DataPlaneError when the platform was never provisioned."""
    from flink_platform.assets import PLATFORM_PROVISIONED

    events = list(inlet_events[PLATFORM_PROVISIONED].ascending(False).limit(1))
    if not events:
        raise DataPlaneError("no platform_provisioned event: run platform_provision first (the "
                             "jobs read the streams and the bucket it creates)")
    return DataPlane.from_provisioned(dict(events[0].extra or {}), connection_endpoint(cfg))


def check_streams_exist(cfg: PlatformConfig, plane: DataPlane) -> dict[str, str]:
    """Every stream of the plane exists and is ACTIVE; DataPlaneError naming the first that
    is not (a deploy must not start jobs on a stream that is gone)."""
    from flink_platform.aws.clients import client, is_not_found

    conn = client(cfg, "kinesis")
    states = {}
    for role, arn in plane.stream_arns().items():
        try:
            summary = conn.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"]
        except Exception as err:  # botocore's modelled errors are per client
            if is_not_found(err):
                raise DataPlaneError(f"Kinesis stream {arn} ({role}) does not exist: run "
                                     "platform_provision again") from None
            raise
        if summary["StreamStatus"] not in ("ACTIVE", "UPDATING"):
            raise DataPlaneError(f"Kinesis stream {arn} ({role}) is {summary['StreamStatus']}, "
                                 "not ACTIVE")
        states[role] = summary["StreamStatus"]
    return states
