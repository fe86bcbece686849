"""Kubernetes manifests of the Flink jobs, rendered from the platform config.

``render_flink_deployment(cfg, job, overrides)`` fills include/manifests/flink/
flinkdeployment.yaml.j2 (recipe: heap state, checkpoints/savepoints/HA storage on
S3, EXACTLY_ONCE, interval/min-pause/timeout, exponential-delay restarts, Kubernetes HA,
Prometheus reporter on 9249). On the EMR operator build the EMR fields are added.
``render_network_policy`` / ``render_pod_monitor`` give the namespace's NetworkPolicy and
the PodMonitor. ``validate_flink_deployment`` checks a body against the pinned CRD schema.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import yaml

from flink_platform import job_image
from flink_platform.adapters.job_spec import JobSpec, resolve_job_spec
from flink_platform.aws.specs import MONITORING_NAMESPACE
from flink_platform.config import PROJECT_ROOT, PlatformConfig
from flink_platform.data_plane import DataPlane
from flink_platform.job_launch import (
    WEB_TIMEOUT_MS,
    job_flink_options,
    program_args,
    python_driver_args,
)

MANIFESTS = PROJECT_ROOT / "include" / "manifests" / "flink"
PINNED_OPERATOR_VERSION = "1.13.0"
GROUP, VERSION = "flink.apache.org", "v1beta1"
FLINK_PYTHON_JAR = f"local://{job_image.PYTHON_JAR}"
USRLIB = job_image.JOBS_DIR  # include/flink_jobs/Dockerfile copies the jobs here
EMR_FIELDS = ("emrReleaseLabel", "executionRoleArn")
# The S3 plugin (flink-s3-fs-native) resolves a simple class name in ITS relocated copy of
# the AWS SDK v2 (org.apache.flink.fs.s3native.shaded.software.amazon.awssdk.auth.
# credentials.*); the unshaded name would not implement the plugin's interface. This
# provider reads AWS_ROLE_ARN / AWS_WEB_IDENTITY_TOKEN_FILE (IRSA, set by EKS on pods of
# the `flink` service account) and assumes the job role through the bundled STS client.
S3_CREDENTIALS_PROVIDER = "WebIdentityTokenFileCredentialsProvider"


def _render(template: str, **values: Any) -> dict[str, Any]:
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    text = env.from_string((MANIFESTS / template).read_text()).render(**values)
    return yaml.safe_load(text)


def bucket_name(cfg: PlatformConfig) -> str:
    return cfg.resource_name(cfg.bucket.name)


def deployment_name(cfg: PlatformConfig, job: str) -> str:
    """FlinkDeployment name of a job (the job name itself: one namespace per environment)."""
    return job


def flink_configuration(cfg: PlatformConfig, spec: JobSpec) -> dict[str, str]:
    """The job's options on every target (job_launch, checkpoints in S3 ...) plus what only
    the operator-run cluster sets: heap state, Kubernetes HA, the Prometheus reporter."""
    aws_only = {
        "taskmanager.numberOfTaskSlots": spec.job.task_slots,
        # Heap state: on the same 4096m TaskManager RocksDB ran fraud at 21-28k events/s
        # against 83-87k on heap, tuned or not (docs/JOBS.md, "State backend on aws"); the
        # heap holds ~1M users per TaskManager. Managed memory (RocksDB's) goes to the heap.
        "state.backend.type": "hashmap",
        "taskmanager.memory.managed.fraction": "0.05",
        "high-availability.type": "kubernetes",
        "high-availability.storageDir": f"s3://{bucket_name(cfg)}/ha/{spec.name}",
        "metrics.reporter.prom.factory.class":
            "org.apache.flink.metrics.prometheus.PrometheusReporterFactory",
        "metrics.reporter.prom.port": "9249",
        "metrics.fetcher.update-interval": "1000",  # REST metrics within 1 s (load test)
        "web.timeout": str(WEB_TIMEOUT_MS),  # a lost TaskManager freezes REST metrics this long
        "kubernetes.operator.savepoint.format.type": "CANONICAL",
    }
    if cfg.target == "aws":  # checkpoints, savepoints, HA: the job role (IRSA), never the node's
        aws_only["fs.s3.aws.credentials.provider"] = S3_CREDENTIALS_PROVIDER
        aws_only["s3.region"] = cfg.region
    return {**{k: str(v) for k, v in aws_only.items()}, **job_flink_options(spec)}


def job_args(spec: JobSpec) -> list[str]:
    """PythonDriver args: the jobs in the image's usrlib, then the job's own arguments
    (the same list ``flink run`` gets on local: job_launch.program_args)."""
    return python_driver_args(spec, USRLIB) + program_args(spec)


def emr_fields(cfg: PlatformConfig, image: str) -> dict[str, str] | None:
    if cfg.operator.distribution != "emr":
        return None
    match = re.match(r"^(\d{12})\.dkr\.ecr\.", image)
    account = match.group(1) if match else "000000000000"
    role = cfg.resource_name("flink-job-execution")
    return {"release_label": cfg.operator.emr_release_label,
            "execution_role_arn": f"arn:aws:iam::{account}:role/{role}"}


def render_flink_deployment(cfg: PlatformConfig, job: str,
                            overrides: dict[str, Any] | None = None,
                            data_plane: DataPlane | None = None) -> dict[str, Any]:
    """The FlinkDeployment body of ``job`` with a run's ``overrides`` applied, on the
    provisioned ``data_plane`` (placeholder ARNs of the config's names when None: tests)."""
    spec = resolve_job_spec(cfg, job, overrides, data_plane or example_data_plane(cfg))
    return _render(
        "flinkdeployment.yaml.j2", name=deployment_name(cfg, job), job_name=job,
        namespace=cfg.namespaces.jobs, env_suffix=cfg.env_suffix, job=spec.job,
        flink_version=cfg.flink.flink_version, emr=emr_fields(cfg, spec.job.image),
        flink_configuration=flink_configuration(cfg, spec), region=cfg.region,
        jar_uri=FLINK_PYTHON_JAR, args=job_args(spec),
    )


def example_data_plane(cfg: PlatformConfig, account: str = "123456789012") -> DataPlane:
    """The data plane provision would publish for ``cfg`` in ``account`` (rendering and
    review without a provisioned platform)."""
    from flink_platform.aws.specs import PlatformSpec

    names = PlatformSpec(cfg).names
    arn = f"arn:aws:kinesis:{cfg.region}:{account}:stream/"
    return DataPlane(region=cfg.region, bucket=bucket_name(cfg),
                     trading_events_arn=arn + names["trading_events"],
                     market_data_arn=arn + names["market_data"],
                     fraud_alerts_arn=arn + names["fraud_alerts"],
                     topic_arn=f"arn:aws:sns:{cfg.region}:{account}:{names['topic']}")


def render_network_policy(cfg: PlatformConfig,
                          monitoring_namespace: str = MONITORING_NAMESPACE) -> dict:
    return _render("networkpolicy.yaml.j2", namespace=cfg.namespaces.jobs,
                   operator_namespace=cfg.namespaces.operator,
                   monitoring_namespace=monitoring_namespace)


def render_pod_monitor(cfg: PlatformConfig) -> dict:
    return _render("podmonitor.yaml.j2", namespace=cfg.namespaces.jobs)


def render_all(cfg: PlatformConfig) -> list[dict[str, Any]]:
    """Every manifest of the job namespace: FlinkDeployments, NetworkPolicy, PodMonitor."""
    return [*(render_flink_deployment(cfg, job) for job in cfg.jobs),
            render_network_policy(cfg), render_pod_monitor(cfg)]


# -- validation against the pinned operator CRD ---------------------------------------

def crd_schema(kind: str = "flinkdeployments", source: str | None = None) -> dict[str, Any]:
    """openAPIV3Schema of the operator's real CRD (flink_platform.crd: checksum-pinned;
    ``source`` ``pinned`` | ``fallback``, default the installed one: crd.active_source)."""
    from flink_platform import crd

    return crd.schema(kind, source or crd.active_source())


def _strict(schema: Any) -> Any:
    """openAPI -> JSON schema: objects with listed properties reject unknown fields
    (the API server would prune them silently: a typo must fail the test)."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()
               if k != "x-kubernetes-preserve-unknown-fields"}
        if out.get("type") == "object" and "properties" in out \
                and "additionalProperties" not in out \
                and not schema.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@lru_cache(maxsize=8)
def _validator(kind: str, source: str):
    import jsonschema

    schema = _strict(crd_schema(kind, source))
    # Every object has these; the CRD leaves them to the API server (ObjectMeta).
    for field, rule in (("apiVersion", {"const": f"{GROUP}/{VERSION}"}),
                        ("kind", {"type": "string"}),
                        ("metadata", {"type": "object", "required": ["name"]})):
        schema["properties"].setdefault(field, rule)
    if kind == "flinkdeployments":  # the EMR build's CRD adds these top-level spec fields
        for field in EMR_FIELDS:
            schema["properties"]["spec"]["properties"].setdefault(field, {"type": "string"})
    return jsonschema.Draft7Validator(schema)


def validate_flink_deployment(body: dict[str, Any], kind: str = "flinkdeployments",
                              source: str | None = None) -> list[str]:
    """Errors of ``body`` against the operator's real CRD (empty list: valid): unknown
    fields (outside x-kubernetes-preserve-unknown-fields), wrong types and enums. ``source``:
    ``pinned`` (1.13.0) or ``fallback`` (Maven's 1.10.0 with 1.13.0's flinkVersion enum);
    default :func:`flink_platform.crd.active_source`, which logs the one it picks."""
    from flink_platform import crd

    errors = _validator(kind, source or crd.active_source()).iter_errors(body)
    return [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in sorted(errors, key=lambda e: list(e.absolute_path))]


if __name__ == "__main__":
    from flink_platform.manifests_render import main

    raise SystemExit(main())
