"""How a job is started, rendered once from its spec for both targets.

One :class:`~flink_platform.adapters.job_spec.JobSpec` (config entry + a run's overrides +
the provisioned :class:`~flink_platform.data_plane.DataPlane`) gives:

* :func:`program_args`: the job's own arguments (after ``--`` in ``flink run``; the
  PythonDriver's arguments in the FlinkDeployment): source, stream ARNs, region, the S3
  output root, version, ``--set`` parameters. Only ``--aws-endpoint`` differs by target
  (the emulator's endpoint on ``local``);
* :func:`python_driver_args`: ``-py <jobs dir>/<entrypoint> -pyfs <jobs dir>`` for a jobs
  folder (``include/flink_jobs`` locally, the image's folder on ``aws``);
* :func:`job_flink_options`: the Flink options every target sets per job: checkpoints and
  savepoints under ``s3://<bucket>/checkpoints|savepoints/<job>/``, exactly-once,
  interval / min pause / timeout, restarts. The ``aws`` manifest adds its backend, HA and
  reporter options (flink_platform.manifests); the local cluster keeps heap state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flink_platform.adapters.job_spec import JobSpec


# The cluster's REST timeout (web.timeout, 10 min by default), the same on both targets. The
# REST metric fetcher starts no fetch until the previous one is done, and a query to a lost
# TaskManager waits this long: every REST metric froze for minutes after a TaskManager was
# killed (tests/flink_jobs/test_exactly_once, then any REST metric read).
WEB_TIMEOUT_MS = 30_000


class LaunchError(ValueError):
    """A spec that cannot be started as it is; the message says what is missing."""


def output_root(spec: JobSpec) -> str:
    """Where the job's sinks write: ``s3://<bucket>`` (alerts/, risk/, dead-letter/ ...)."""
    return _plane(spec).s3_root


def checkpoint_dir(spec: JobSpec) -> str:
    return f"{_plane(spec).s3_root}/checkpoints/{spec.name}"


def savepoint_dir(spec: JobSpec) -> str:
    return f"{_plane(spec).s3_root}/savepoints/{spec.name}"


def _plane(spec: JobSpec):
    if spec.data_plane is None:
        raise LaunchError(
            f"{spec.name}: no data plane (stream ARNs, bucket): deploy through flink_deploy "
            "after platform_provision, which publishes them")
    return spec.data_plane


def program_args(spec: JobSpec) -> list[str]:
    """The job's arguments (include/flink_jobs/job_common.py parses them)."""
    job, plane = spec.job, _plane(spec)
    args = ["--source", job.source, "--region", plane.region,
            "--trades-stream-arn", plane.trading_events_arn,
            "--market-stream-arn", plane.market_data_arn,
            "--alerts-stream-arn", plane.fraud_alerts_arn,
            "--output-dir", plane.s3_root, "--version", job.version,
            "--events-per-s", str(job.events_per_s)]
    if plane.aws_endpoint:
        args += ["--aws-endpoint", plane.aws_endpoint]
    for key, value in sorted(job.args.items()):
        args += ["--set", f"{key}={value}"]
    return args


def python_driver_args(spec: JobSpec, jobs_dir: str) -> list[str]:
    """``-py`` / ``-pyfs`` of the job's entrypoint in ``jobs_dir``."""
    jobs_dir = jobs_dir.rstrip("/")
    return ["-py", f"{jobs_dir}/{spec.job.entrypoint}", "-pyfs", jobs_dir]


def job_flink_options(spec: JobSpec) -> dict[str, str]:
    """Flink options of one job on every target (then the spec's own ``flink_conf``)."""
    interval = spec.job.checkpoint_interval_s
    options: dict[str, object] = {
        "pipeline.name": spec.name,
        "parallelism.default": spec.job.parallelism,
        "execution.checkpointing.dir": checkpoint_dir(spec),
        "execution.checkpointing.savepoint-dir": savepoint_dir(spec),
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "execution.checkpointing.interval": f"{interval}s",
        "execution.checkpointing.min-pause": f"{max(1, interval // 2)}s",
        "execution.checkpointing.timeout": f"{max(60, interval * 10)}s",
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "restart-strategy.type": "exponential-delay",
        "restart-strategy.exponential-delay.initial-backoff": "1 s",
        "restart-strategy.exponential-delay.max-backoff": "1 min",
        "restart-strategy.exponential-delay.backoff-multiplier": 2.0,
        "restart-strategy.exponential-delay.reset-backoff-threshold": "10 min",
        "restart-strategy.exponential-delay.attempts-before-reset-backoff": 10,
    }
    options.update(spec.flink_conf)
    return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in options.items()}
