"""Every Param of every lifecycle DAG -> a non-default valid value -> where a run shows it
used it (tests/runtime/test_params_take_effect.py). A new Param fails the guard test there
until it has a row here.

Each observation is the cheapest early task that consumes the value, read over the REST
API: an XCom (``xcom``), the task's state (``state``: e.g. a job not selected skips its own
lease) or a line of its log (``log``). ``RUNS`` names the tasks a test run may execute; the
test marks every other task skipped before the run starts, so no run creates or deletes
resources, deploys or upgrades a job, or sends load.

Where the only consumer is a task that acts on running Flink jobs (a deploy's per-job
parallelism, version and image; the savepoint DAG's retention and ready timeout), the row
reads the run's resolved config (``resolve_config``'s XCom): it is ``config_from_params``,
the very function those tasks call (``flink_lifecycle.run_config``) to get their config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flink_platform.config import load_config

_MISSING = object()
FRAUD, RISK = "fraud-detection", "risk-analytics"


@dataclass(frozen=True)
class Effect:
    """``value`` set on trigger; ``task`` shows it: XCom ``key`` at dotted ``path`` equal to
    ``expect`` (default: ``value``), or its state / a log line containing ``expect``."""

    value: Any
    task: str
    path: str = ""
    key: str = "return_value"
    kind: str = "xcom"
    expect: Any = _MISSING

    @property
    def expected(self) -> Any:
        return self.value if self.expect is _MISSING else self.expect

    def where(self) -> str:
        if self.kind == "xcom":
            return f"XCom {self.task}[{self.key}]" + (f".{self.path}" if self.path else "")
        return f"{self.kind} of {self.task}"


def _conf(path: str, value: Any) -> Effect:
    """A config field: the run's resolved config (what run_config returns to the tasks)."""
    return Effect(value, "resolve_config", path=path)


def _plan(key: str, value: Any, path: str = "") -> Effect:
    """platform_provision's plan_resources: what its operators are templated with."""
    return Effect(value, "plan_resources", key=key, path=path)


def _load(path: str, value: Any) -> Effect:
    """platform_load_test's plan (plan_from_params), which every later task runs on."""
    return Effect(value, "plan_load_test", path=path)


ENV_SUFFIX = load_config().env_suffix
LIFECYCLE = "Rules.0.Transitions.0.Days"

EFFECTS: dict[str, dict[str, Effect]] = {
    "platform_provision": {
        "region": _plan("region", "eu-west-1"),
        "cluster.kubernetes_version": _plan("cluster_kwargs", "1.32", "version"),
        "cluster.nodegroup.min_size": _plan("nodegroup_kwargs", 2, "scalingConfig.minSize"),
        "cluster.nodegroup.desired_size": _plan("nodegroup_kwargs", 3,
                                                "scalingConfig.desiredSize"),
        "cluster.nodegroup.max_size": _plan("nodegroup_kwargs", 4, "scalingConfig.maxSize"),
        "streams.trading_events.shards": _plan("trading_events_shards", 3),
        "streams.trading_events.retention_hours": _plan("trading_events_retention_hours", 48),
        "streams.market_data.shards": _plan("market_data_shards", 2),
        "streams.market_data.retention_hours": _plan("market_data_retention_hours", 36),
        "streams.fraud_alerts.shards": _plan("fraud_alerts_shards", 2),
        "bucket.checkpoints_to_ia_days": _plan("bucket_lifecycle", 45, LIFECYCLE),
        "bucket.noncurrent_versions_expire_days": _plan(
            "bucket_lifecycle", 14, "Rules.1.NoncurrentVersionExpiration.NoncurrentDays"),
    },
    "flink_deploy": {
        # the job not selected skips its own lease (nothing downstream acts on it)
        "jobs": Effect([RISK], "fraud_detection.acquire_lease", kind="state", expect="skipped"),
        **{f"jobs.{job}.{field}": _conf(f"jobs.{job}.{field}", value)
           for job in (FRAUD, RISK)
           for field, value in (("parallelism", 2), ("version", "1.0.7"),
                                ("image", "flink-platform/jobs:1.0.7"))},
        "flink.action_wait_timeout_s": Effect(
            900, "risk_analytics.acquire_lease", kind="log",
            expect="waiting up to 900 s for the lease of risk-analytics"),
    },
    "flink_savepoint_upgrade": {
        "new_version": Effect("1.0.1-pt", "choose_mode", key="upgrade_request",
                              path="version"),
        # the branch (choose_mode) follows the selected job's upgrade only
        "jobs": Effect([RISK], "upgrade_fraud_detection.acquire_lease", kind="state",
                       expect="skipped"),
        "image": Effect("flink-platform/jobs:1.0.1-pt", "choose_mode", key="upgrade_request",
                        path="image"),
        "job_args": Effect({"velocity_max_count": "5"}, "choose_mode", key="upgrade_request",
                           path="args"),
        "flink_conf": Effect({"pipeline.object-reuse": "true"}, "choose_mode",
                             key="upgrade_request", path="flink_conf"),
        "flink.savepoint_retention": _conf("flink.savepoint_retention", 3),
        "flink.ready_timeout_s": _conf("flink.ready_timeout_s", 240),
        "flink.action_wait_timeout_s": Effect(
            900, "upgrade_risk_analytics.acquire_lease", kind="log",
            expect="waiting up to 900 s for the lease of risk-analytics"),
    },
    "platform_load_test": {
        "target_events_per_s": _load("plan.target_events_per_s", 300),
        "duration_s": _load("plan.duration_s", 8),
        "ramp_steps": _load("plan.ramp_steps", 2),
        "producers": _load("plan.producers", 1),
        "jobs": _load("jobs", [FRAUD]),
        "seed": _load("plan.seed", 11),
        "malformed_rate": _load("plan.malformed_rate", 0.05),
        "slo_max_p99_latency_ms": _load("plan.slos.max_p99_latency_ms", 4000),
        "slo_max_backpressure_ratio": _load("plan.slos.max_backpressure_ratio", 0.4),
        "slo_zero_failed_records": _load("plan.slos.zero_failed_records", False),
        "slo_min_achieved_ratio": _load("plan.slos.min_achieved_ratio", 0.8),
        "slo_min_alert_recall": _load("plan.slos.min_alert_recall", 0.9),
        "slo_min_alert_precision": _load("plan.slos.min_alert_precision", 0.95),
        "slo_all_records_read": _load("plan.slos.all_records_read", False),
    },
    "platform_teardown": {
        "region": _plan("region", "eu-west-1"),
        "confirm_environment": Effect(ENV_SUFFIX, "confirm_teardown",
                                      key="confirmed_environment"),
    },
}

# The tasks a test run executes (every other task is marked skipped before it starts);
# each observation's task is one of them. Deploy and savepoint_upgrade take (and give
# back) a lease in the provisioned bucket, nothing more.
RUNS: dict[str, set[str]] = {
    "platform_provision": {"resolve_config", "plan_resources"},
    "flink_deploy": {"resolve_config", "resolve_data_plane",
                     *(f"{g}.{t}" for g in ("fraud_detection", "risk_analytics")
                       for t in ("acquire_lease", "release_lease"))},
    "flink_savepoint_upgrade": {
        "resolve_config", "choose_mode",
        # the branch skips what it does not choose: the savepoint path, the other job
        *(f"{p}_{g}.{t}" for p in ("savepoint", "upgrade")
          for g in ("fraud_detection", "risk_analytics") for t in ("acquire_lease",
                                                                   "release_lease")),
        *(f"savepoint_{g}.{t}" for g in ("fraud_detection", "risk_analytics")
          for t in ("start_savepoint", "wait_savepoint", "retention"))},
    "platform_load_test": {"resolve_config", "plan_load_test"},
    "platform_teardown": {"resolve_config", "confirm_teardown", "plan_resources"},
}
# the DAGs whose early tasks read the provisioned data plane (the `provisioned` fixture)
NEEDS_PLATFORM = ("flink_deploy", "flink_savepoint_upgrade", "platform_load_test")


def lookup(value: Any, path: str) -> Any:
    """``value`` at dotted ``path`` (list items by index); _MISSING when absent."""
    for part in filter(None, path.split(".")):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return _MISSING
    return value
