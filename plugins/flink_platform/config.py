"""Platform configuration: one YAML file per target, validated by a pydantic schema.

``load_config()`` reads ``include/config/<target>.yaml`` (target from
``FLINK_PLATFORM_TARGET``, default ``local``), applies dotted-path overrides (DAG-run
Params, or the JSON object in ``FLINK_PLATFORM_OVERRIDES``) and validates the result.
A bad field raises :class:`ConfigError` naming the field, the bad value and what is
allowed. Only the standard library, yaml and pydantic are imported: safe at DAG parse.
"""

from __future__ import annotations

import json
import os
import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = PROJECT_ROOT / "include" / "config"
TARGETS = ("local", "aws")
AWS_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
    "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "eu-south-1",
    "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "ap-northeast-2",
)
DNS_LABEL = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"


class ConfigError(ValueError):
    """A platform config that failed validation; the message names each bad field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class NodegroupConfig(_Model):
    name: str = Field("flink-workers", pattern=DNS_LABEL)
    instance_types: list[str] = Field(default_factory=lambda: ["m5.xlarge"], min_length=1)
    min_size: int = Field(1, ge=1, le=100)
    max_size: int = Field(3, ge=1, le=100)
    desired_size: int = Field(2, ge=1, le=100)

    @model_validator(mode="after")
    def _sizes_ordered(self) -> NodegroupConfig:
        if not self.min_size <= self.desired_size <= self.max_size:
            raise ValueError(
                f"need min_size <= desired_size <= max_size, got "
                f"{self.min_size} <= {self.desired_size} <= {self.max_size}"
            )
        return self


class NetworkConfig(_Model):
    """An existing VPC to run the cluster in; provision then creates no network and
    teardown deletes none of it. Unset (the default): the platform creates its own."""

    vpc_id: str | None = Field(None, pattern=r"^vpc-[0-9a-f]{8,17}$")
    private_subnet_ids: list[str] = Field(default_factory=list)  # the nodegroup's
    public_subnet_ids: list[str] = Field(default_factory=list)  # load balancers'

    @field_validator("private_subnet_ids", "public_subnet_ids")
    @classmethod
    def _subnet_ids(cls, ids: list[str]) -> list[str]:
        for subnet in ids:
            if not re.match(r"^subnet-[0-9a-f]{8,17}$", subnet):
                raise ValueError(f"{subnet!r} is not a subnet id (subnet-<8 to 17 hex digits>)")
        return ids

    @model_validator(mode="after")
    def _complete(self) -> NetworkConfig:
        if self.vpc_id and not (self.private_subnet_ids and self.public_subnet_ids):
            raise ValueError("with vpc_id set, private_subnet_ids and public_subnet_ids must "
                             "both list at least one subnet of that VPC")
        if not self.vpc_id and (self.private_subnet_ids or self.public_subnet_ids):
            raise ValueError("subnet ids need vpc_id: set vpc_id, or remove the subnet ids "
                             "to let the platform create its own network")
        return self


class ClusterConfig(_Model):
    name: str = Field("flink-platform", pattern=DNS_LABEL, max_length=60)
    kubernetes_version: str = Field("1.31", pattern=r"^1\.(2[89]|3[0-9])$")
    nodegroup: NodegroupConfig = NodegroupConfig()
    network: NetworkConfig = NetworkConfig()


class NamespacesConfig(_Model):
    operator: str = Field("flink-operator", pattern=DNS_LABEL)
    jobs: str = Field("flink-jobs", pattern=DNS_LABEL)
    cert_manager: str = Field("cert-manager", pattern=DNS_LABEL)


class BucketConfig(_Model):
    name: str = Field("flink-platform-state", pattern=r"^[a-z0-9][a-z0-9.-]{2,40}$")
    # Checkpoints go to STANDARD_IA (read at once on restore), never to an archive class:
    # incremental checkpoints keep referencing old shared files (docs/DATA_PLANE.md).
    checkpoints_to_ia_days: int = Field(30, ge=30)  # S3's minimum age for STANDARD_IA
    noncurrent_versions_expire_days: int = Field(7, ge=1)  # deleted/overwritten objects
    incomplete_uploads_abort_days: int = Field(7, ge=1)  # file sinks' abandoned multipart parts


class StreamConfig(_Model):
    name: str = Field(pattern=r"^[a-zA-Z0-9_.-]{1,100}$")
    shards: int = Field(1, ge=1, le=500)
    retention_hours: int = Field(24, ge=24, le=8760)


class StreamsConfig(_Model):
    """The data plane's streams: trades and market ticks in, fraud alerts out."""

    trading_events: StreamConfig = StreamConfig(name="trading-events", shards=2)
    market_data: StreamConfig = StreamConfig(name="market-data", shards=1)
    fraud_alerts: StreamConfig = StreamConfig(name="fraud-alerts", shards=1)


class AlertsConfig(_Model):
    topic_name: str = Field("fraud-alerts", pattern=r"^[a-zA-Z0-9_-]{1,200}$")
    log_group: str = Field("/flink-platform/jobs", pattern=r"^[A-Za-z0-9_./#-]{1,512}$")


class OperatorConfig(_Model):
    distribution: Literal["upstream", "emr"] = "upstream"
    version: str = Field("1.13.0", pattern=r"^\d+\.\d+\.\d+$")
    chart_repo: str = "https://downloads.apache.org/flink/flink-kubernetes-operator-1.13.0/"
    chart_name: str = "flink-kubernetes-operator"
    release_name: str = Field("flink-kubernetes-operator", pattern=DNS_LABEL)
    cert_manager_version: str = Field("v1.16.2", pattern=r"^v\d+\.\d+\.\d+$")
    helm_image: str = "alpine/helm:3.16.2"
    emr_release_label: str = "emr-7.9.0-flink-latest"


class ResourcesConfig(_Model):
    cpu: float = Field(1.0, gt=0, le=64)
    memory: str = Field("2048m", pattern=r"^\d+[mg]$")


class JobConfig(_Model):
    """One Flink job (FlinkDeployment on ``aws``, a submitted PyFlink job on ``local``)."""

    entrypoint: str = Field(pattern=r"^[a-z_]+\.py$")
    version: str = Field("1.0.0", pattern=r"^[0-9A-Za-z._-]{1,40}$")
    image: str = "flink-platform/jobs:1.0.0"
    parallelism: int = Field(1, ge=1, le=64)
    jobmanager: ResourcesConfig = ResourcesConfig(cpu=1, memory="2048m")
    taskmanager: ResourcesConfig = ResourcesConfig(cpu=1, memory="4096m")
    task_slots: int = Field(2, ge=1, le=16)
    checkpoint_interval_s: int = Field(30, ge=1, le=3600)
    upgrade_mode: Literal["savepoint", "last-state", "stateless"] = "savepoint"
    # kinesis: the provisioned streams (both targets); generator / file: tests and benchmarks
    source: Literal["generator", "kinesis", "file"] = "kinesis"
    events_per_s: int = Field(1000, ge=1, le=5_000_000)
    args: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _allowed_args(self) -> JobConfig:
        from flink_platform.job_options import check_job_args

        check_job_args(self.entrypoint, self.args)  # reach the job's SQL and command line
        return self


class FlinkConfig(_Model):
    # checked against the operator's CRD enum and the image (flink_platform.versions)
    flink_version: str = Field("v2_2", pattern=r"^v\d+_\d+$")
    savepoint_retention: int = Field(5, ge=1, le=100)
    savepoint_schedule: str = "@daily"
    ready_timeout_s: int = Field(300, ge=10, le=7200)
    # the lifecycle sensors check in the worker this long before deferring to the
    # triggerer: a short wait (a job turning STABLE, a first checkpoint) costs no deferral
    defer_after_s: int = Field(10, ge=0, le=300)
    # one action per job at a time (flink_platform.job_lease): how long a second action
    # waits for the job's lease, and when a lease nobody gave back lapses
    action_wait_timeout_s: int = Field(1800, ge=10, le=86400)
    action_lease_ttl_s: int = Field(3600, ge=60, le=86400)

    @model_validator(mode="after")
    def _lease_outlives_actions(self) -> FlinkConfig:
        # an upgrade waits ready_timeout_s for the new version, then again for a rollback
        if self.action_lease_ttl_s < 3 * self.ready_timeout_s:
            raise ValueError(
                f"action_lease_ttl_s ({self.action_lease_ttl_s}) must be at least 3 x "
                f"ready_timeout_s ({3 * self.ready_timeout_s}): a lease must outlive the "
                f"longest action (upgrade + rollback); raise it or lower ready_timeout_s")
        return self


class LocalConfig(_Model):
    """The embedded stack of the ``local`` target; every server binds 127.0.0.1."""

    state_dir: str = ".local"
    moto_host: str = Field("127.0.0.1", pattern=r"^[a-z0-9.-]+$")
    flink_host: str = Field("127.0.0.1", pattern=r"^[a-z0-9.-]+$")
    moto_port: int = Field(5055, ge=1024, le=65535)
    flink_rest_port: int = Field(8081, ge=1024, le=65535)
    flink_rpc_port: int = Field(6123, ge=1024, le=65535)
    prometheus_ports: str = Field("9249-9250", pattern=r"^\d{4,5}-\d{4,5}$")
    airflow_port: int = Field(8080, ge=1024, le=65535)
    prometheus_port: int = Field(9090, ge=1024, le=65535)  # the server, not the reporters
    alertmanager_port: int = Field(9093, ge=1024, le=65535)
    taskmanager_slots: int = Field(4, ge=1, le=32)
    jobmanager_memory: str = Field("1024m", pattern=r"^\d+[mg]$")
    taskmanager_memory: str = Field("6144m", pattern=r"^\d+[mg]$")
    # Touch the TaskManager's heap at start (-XX:+AlwaysPreTouch): the first job on a fresh
    # TaskManager then pays no page faults (bench_flink_jobs turns it on), but the start
    # costs ~8 s of kernel CPU on 2 cores with huge pages, beside everything else starting.
    taskmanager_pretouch_heap: bool = False
    # Flink options over the generated session-cluster config (flink_dist.cluster_settings);
    # "" drops a generated option (Flink's default applies). Benchmarks use it to run the
    # cluster as the aws FlinkDeployment renders it (bench/flink_production.py).
    cluster_conf: dict[str, str] = {}

    @property
    def moto_endpoint(self) -> str:
        """AWS endpoint of the emulator (a service name instead of 127.0.0.1 under Docker)."""
        return f"http://{self.moto_host}:{self.moto_port}"

    @property
    def flink_rest_url(self) -> str:
        return f"http://{self.flink_host}:{self.flink_rest_port}"


class PlatformConfig(_Model):
    target: Literal["local", "aws"]
    environment: str = Field(pattern=r"^[a-z][a-z0-9]{1,11}$")
    suffix: str = Field(pattern=r"^[a-z0-9]{3,8}$")
    region: str
    aws_conn_id: str = "aws_default"
    # None (default): EKS credentials from aws_conn_id; a name: that Kubernetes connection
    kubernetes_conn_id: str | None = None
    cluster: ClusterConfig = ClusterConfig()
    namespaces: NamespacesConfig = NamespacesConfig()
    bucket: BucketConfig = BucketConfig()
    streams: StreamsConfig = StreamsConfig()
    alerts: AlertsConfig = AlertsConfig()
    operator: OperatorConfig = OperatorConfig()
    flink: FlinkConfig = FlinkConfig()
    jobs: dict[str, JobConfig]
    local: LocalConfig = LocalConfig()

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value not in AWS_REGIONS:
            raise ValueError(f"unknown AWS region; allowed: {', '.join(AWS_REGIONS)}")
        return value

    @field_validator("jobs")
    @classmethod
    def _job_names(cls, jobs: dict[str, JobConfig]) -> dict[str, JobConfig]:
        for name in jobs:
            if not re.match(DNS_LABEL, name):
                raise ValueError(f"job name {name!r} must be a DNS label (a-z, 0-9, '-')")
        if not jobs:
            raise ValueError("at least one job is required")
        return jobs

    @property
    def kube_credentials(self) -> Literal["connection", "eks"]:
        """How Airflow authenticates to the cluster (``aws``): ``connection`` when
        ``kubernetes_conn_id`` names an Airflow Kubernetes connection (the user's own
        kubeconfig), else ``eks``: endpoint and CA from ``eks:DescribeCluster`` through
        ``aws_conn_id`` and a fresh token per task (flink_platform.hooks.kube_access)."""
        return "connection" if self.kubernetes_conn_id else "eks"

    @model_validator(mode="after")
    def _version_matrix(self) -> PlatformConfig:
        from flink_platform.versions import version_problems

        problems = version_problems(self.operator.version, self.flink.flink_version,
                                    self.operator.distribution)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @cached_property
    def env_suffix(self) -> str:
        """Suffix carried by every uniquely named resource, e.g. ``dev-x7k2``."""
        return f"{self.environment}-{self.suffix}"

    def resource_name(self, base: str) -> str:
        """``base`` with the environment suffix: the name of a created resource."""
        return f"{base}-{self.env_suffix}"

    @cached_property
    def tags(self) -> dict[str, str]:
        """Tags put on every AWS resource; the teardown audit finds leftovers by them."""
        return {"platform": "flink-platform", "platform-env": self.env_suffix}

    @property
    def state_path(self) -> Path:
        path = Path(self.local.state_dir)
        return path if path.is_absolute() else PROJECT_ROOT / path


# ---------------------------------------------------------------- loading / errors

def _format_errors(err: ValidationError, source: str) -> str:
    lines = [f"invalid platform config ({source}):"]
    for item in err.errors():
        field = ".".join(str(p) for p in item["loc"]) or "<root>"
        value = item.get("input")
        shown = json.dumps(value, default=str) if not isinstance(value, dict) else "{...}"
        allowed = item["msg"].removeprefix("Value error, ")
        ctx = item.get("ctx") or {}
        if "pattern" in ctx:
            allowed = f"must match {ctx['pattern']}"
        if item["type"] == "extra_forbidden":
            allowed = "unknown field: remove it or check its spelling"
        lines.append(f"  - {field} = {shown}: {allowed}")
    return "\n".join(lines)


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {} if child is None else child
            if not isinstance(child, dict):
                raise ConfigError(f"override {dotted!r}: {part!r} is not a section")
            node[part] = child
        node = child
    node[parts[-1]] = value


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Return a copy of ``data`` with dotted-path overrides applied (``None`` values skipped)."""
    merged = json.loads(json.dumps(data))
    for key, value in (overrides or {}).items():
        if value is None or value == "":
            continue
        _set_dotted(merged, key, value)
    return merged


def validate_config(data: dict[str, Any], source: str = "<dict>") -> PlatformConfig:
    try:
        return PlatformConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_errors(err, source)) from None


def current_target() -> str:
    target = os.environ.get("FLINK_PLATFORM_TARGET", "local")
    if target not in TARGETS:
        raise ConfigError(
            f"FLINK_PLATFORM_TARGET = {target!r}: allowed targets are {', '.join(TARGETS)}"
        )
    return target


def config_path(target: str | None = None) -> Path:
    explicit = os.environ.get("FLINK_PLATFORM_CONFIG")
    return Path(explicit) if explicit else CONFIG_DIR / f"{target or current_target()}.yaml"


def read_raw_config(target: str | None = None) -> dict[str, Any]:
    path = config_path(target)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"platform config file {path} not found") from None
    if not isinstance(data, dict):
        raise ConfigError(f"platform config {path} must be a YAML mapping")
    env_overrides = os.environ.get("FLINK_PLATFORM_OVERRIDES")
    return apply_overrides(data, json.loads(env_overrides) if env_overrides else None)


def load_config(
    target: str | None = None, overrides: dict[str, Any] | None = None
) -> PlatformConfig:
    """Load, override and validate the platform config of ``target``."""
    path = config_path(target)
    data = apply_overrides(read_raw_config(target), overrides)
    return validate_config(data, source=f"{path.name}" + (" + overrides" if overrides else ""))
