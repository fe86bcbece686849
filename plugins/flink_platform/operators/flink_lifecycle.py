"""Task helpers shared by the flink_deploy and flink_savepoint_upgrade DAGs.

Small functions, imported inside tasks (DAG parse stays light): the adapter of the run,
the jobs a run selected, the overrides an upgrade applies, and waiting with a deadline.
"""

from __future__ import annotations

import time
from typing import Any

from flink_platform.adapters.base import FlinkDeploymentAdapter, FlinkJobStatus
from flink_platform.config import PlatformConfig


def run_config(params: dict[str, Any] | None) -> PlatformConfig:
    from flink_platform.params import config_from_params

    return config_from_params(params)


def run_adapter(params: dict[str, Any] | None, data_plane: dict[str, Any] | None = None
                ) -> tuple[PlatformConfig, FlinkDeploymentAdapter]:
    """The run's config and Flink adapter; ``data_plane`` (a DataPlane dict, from
    :func:`provisioned_data_plane`) for tasks that deploy."""
    from flink_platform.adapters import get_flink_adapter
    from flink_platform.data_plane import DataPlane

    cfg = run_config(params)
    plane = DataPlane.from_dict(data_plane) if data_plane else None
    return cfg, get_flink_adapter(cfg, plane)


def provisioned_data_plane(params: dict[str, Any] | None) -> dict[str, Any]:
    """The data plane of the newest ``platform_provisioned`` event, every stream checked to
    exist (the calling task declares ``inlets=[PLATFORM_PROVISIONED]``). Fails the task,
    naming the stream or the missing event, when the platform is not provisioned."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException

    from flink_platform.data_plane import DataPlaneError, check_streams_exist, from_inlet_events

    cfg = run_config(params)
    try:
        plane = from_inlet_events(cfg, get_current_context()["inlet_events"])
        check_streams_exist(cfg, plane)
    except DataPlaneError as err:
        raise AirflowFailException(str(err)) from None
    return plane.to_dict()


def selected_jobs(cfg: PlatformConfig, params: dict[str, Any] | None) -> list[str]:
    chosen = (params or {}).get("jobs") or list(cfg.jobs)
    unknown = [j for j in chosen if j not in cfg.jobs]
    if unknown:
        raise ValueError(f"unknown job(s) {unknown}; configured: {list(cfg.jobs)}")
    return list(chosen)


def upgrade_request(params: dict[str, Any]) -> dict[str, Any]:
    """What the run's Params ask an upgrade to change: version, and image, job args
    (``--set``) and Flink options when given (choose_mode shows it before any job is touched)."""
    request: dict[str, Any] = {"version": params["new_version"]}
    for param, key in (("image", "image"), ("job_args", "args"), ("flink_conf", "flink_conf")):
        if params.get(param):
            request[key] = params[param]
    return request


def upgrade_overrides(adapter: FlinkDeploymentAdapter, job: str,
                      params: dict[str, Any]) -> dict[str, Any]:
    """The deployed spec (when the adapter knows it) with :func:`upgrade_request` applied;
    job args and Flink options are merged into the deployed ones."""
    base = dict(getattr(adapter, "deployed_overrides", lambda _j: {})(job))
    new = upgrade_request(params)
    for key in ("args", "flink_conf"):
        if key in new:
            new[key] = {**(base.get(key) or {}), **new[key]}
    return {**base, **new}


def wait_for(adapter: FlinkDeploymentAdapter, job: str, states: tuple[str, ...],
             timeout_s: float, poll_s: float = 1.0) -> FlinkJobStatus:
    """Poll until ``job`` is in ``states`` and RUNNING; raise on FAILED or at the deadline."""
    deadline = time.monotonic() + timeout_s
    status = adapter.status(job)
    while True:
        if status.lifecycle_state in states and status.job_state == "RUNNING":
            return status
        if status.lifecycle_state == "FAILED":
            raise RuntimeError(f"{job} FAILED: {status.error}")
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{job} not {'/'.join(states)} + RUNNING within {timeout_s:.0f}s "
                               f"(lifecycle {status.lifecycle_state}, job {status.job_state})")
        time.sleep(poll_s)
        status = adapter.status(job)


def enforce_retention(adapter: FlinkDeploymentAdapter, job: str, keep: int) -> dict[str, list[str]]:
    """Keep the newest ``keep`` savepoints of ``job``, dispose the older ones."""
    savepoints = adapter.list_savepoints(job)
    old = savepoints[:-keep] if keep > 0 else savepoints
    for path in old:
        adapter.dispose_savepoint(job, path)
    return {"kept": savepoints[len(old):], "disposed": old}
