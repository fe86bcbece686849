"""The effective spec of one job: its config entry with a run's overrides applied.

Overrides are JobConfig fields (``version``, ``image``, ``parallelism``, ``args`` merged
key by key, ...) plus ``flink_conf``: extra Flink options for this job only. The spec also
carries the provisioned data plane (stream ARNs, bucket: flink_platform.data_plane) it runs
on. Both adapters use this, so a Param or an upgrade means the same thing on every target,
and flink_platform.job_launch renders it the same way for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from flink_platform.config import ConfigError, JobConfig, PlatformConfig
from flink_platform.data_plane import DataPlane
from flink_platform.job_options import check_flink_options


@dataclass(frozen=True)
class JobSpec:
    name: str
    job: JobConfig
    flink_conf: dict[str, str] = field(default_factory=dict)
    data_plane: DataPlane | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "job": self.job.model_dump(mode="json"),
                "flink_conf": dict(self.flink_conf),
                "data_plane": self.data_plane.to_dict() if self.data_plane else None}

    def overrides(self) -> dict[str, Any]:
        """Overrides that rebuild this spec from the same platform config (for rollback)."""
        return {**self.job.model_dump(mode="json"), "flink_conf": dict(self.flink_conf)}


def resolve_job_spec(cfg: PlatformConfig, job: str, overrides: dict[str, Any] | None = None,
                     data_plane: DataPlane | None = None) -> JobSpec:
    """Merge ``overrides`` into ``cfg.jobs[job]``; a bad field raises ConfigError."""
    if job not in cfg.jobs:
        raise ConfigError(f"unknown job {job!r}; configured jobs: {', '.join(cfg.jobs)}")
    overrides = dict(overrides or {})
    flink_conf = {str(k): str(v) for k, v in (overrides.pop("flink_conf", None) or {}).items()}
    data = cfg.jobs[job].model_dump(mode="json")
    for key, value in overrides.items():
        if value is None or value == "":
            continue
        if key == "args":
            data["args"] = {**data.get("args", {}), **{str(k): str(v) for k, v in value.items()}}
        else:
            data[key] = value
    try:
        spec = JobConfig.model_validate(data)
        check_flink_options(flink_conf)
    except ValidationError as err:
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise ConfigError(f"job {job!r} overrides invalid: {fields}") from None
    except ValueError as err:
        raise ConfigError(f"job {job!r} overrides invalid: flink_conf: {err}") from None
    return JobSpec(job, spec, flink_conf, data_plane)
