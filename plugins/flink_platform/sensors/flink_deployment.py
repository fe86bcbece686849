"""Sensors of the FlinkDeployment lifecycle (both targets, through the adapter).

The apache-flink provider's sensor stops at the JobManager being up; readiness here means
lifecycleState STABLE (or ROLLED_BACK when waiting for a rollback) AND the job RUNNING,
and it fails fast with the operator's / Flink's error text when the deployment FAILED.

Each sensor is one check function below (``check(**kwargs) -> (state, message, value)``,
see flink_platform.triggers.polling): deferrable by default, so the wait runs in the
triggerer and holds no worker slot; ``deferrable=False`` pokes with the same messages.
The checks read the platform config from the run's Params (passed in the kwargs).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from flink_platform.triggers.polling import FAILED, READY, WAITING, CheckSensor


def _adapter(params: dict[str, Any] | None):
    from flink_platform.adapters import get_flink_adapter
    from flink_platform.params import config_from_params

    return get_flink_adapter(config_from_params(params))


def _params(context: Any) -> dict[str, Any]:
    return dict((context or {}).get("params") or {})


def deployment_ready(params: dict[str, Any], job: str, accept_states: list[str],
                     deadline: float | None = None) -> tuple[str, str, dict[str, Any]]:
    """``job`` in one of ``accept_states``, its job RUNNING and the spec reconciled;
    FAILED (or the run's ``flink.ready_timeout_s`` ``deadline`` passed) fails, naming why."""
    status = _adapter(params).status(job)
    data = status.to_dict()
    summary = (f"{job}: lifecycle {status.lifecycle_state}, job {status.job_state}, "
               f"version {status.version}")
    if status.lifecycle_state == "FAILED":
        return FAILED, f"{job} FAILED: {status.error or 'no error text from the operator'}", data
    generation = status.details.get("generation")
    observed = status.details.get("observedGeneration")
    reconciled = generation is None or observed is None or observed == generation
    if status.lifecycle_state in accept_states and status.job_state == "RUNNING" and reconciled:
        return READY, summary, data
    if deadline is not None and time.time() > deadline:
        limit = params.get("flink.ready_timeout_s")
        return FAILED, (f"{job} not ready within {limit}s (lifecycle {status.lifecycle_state}, "
                        f"job {status.job_state}): {status.error or 'no error text'}"), data
    return WAITING, summary, data


def checkpoint_done(params: dict[str, Any], job: str, since: float | None,
                    min_count: int) -> tuple[str, str, dict[str, Any] | None]:
    """``min_count`` completed checkpoints of the current deployment newer than ``since``."""
    adapter = _adapter(params)
    count = adapter.completed_checkpoints(job, since=since)
    if count < min_count:
        status = adapter.status(job)
        if status.lifecycle_state == "FAILED":
            return FAILED, f"{job} FAILED before checkpointing: {status.error}", None
        return WAITING, f"{job}: {count} completed checkpoint(s), waiting for {min_count}", None
    path = adapter.status(job).last_checkpoint
    return (READY, f"{job}: {count} completed checkpoint(s), last {path}",
            {"count": count, "last_checkpoint": path})


def snapshot_done(params: dict[str, Any], job: str, ref: str) -> tuple[str, str, str | None]:
    """The savepoint started as ``ref`` is complete: its path."""
    try:
        path = _adapter(params).savepoint_result(job, ref)
    except RuntimeError as err:
        return FAILED, str(err), None
    if path:
        return READY, f"{job}: savepoint {path}", path
    return WAITING, f"{job}: savepoint {ref} in progress", None


class FlinkDeploymentReadySensor(CheckSensor):
    """Wait until ``job`` is in one of ``accept_states`` with its job RUNNING; fail on FAILED.

    :param job: the job (templated)
    :param accept_states: lifecycle states that count as ready (``STABLE``)

    Pushes ``last_status`` with every result and ``failure_reason`` before failing, so a
    downstream rollback can report why. The run's ``flink.ready_timeout_s`` Param, when
    set, is a deadline too (the operator ``timeout`` is fixed at parse time).
    """

    template_fields: Sequence[str] = ("job",)
    check_path = f"{__name__}.deployment_ready"
    what = "Flink deployment ready"

    def __init__(self, *, job: str, accept_states: Sequence[str] = ("STABLE",), **kwargs: Any):
        super().__init__(**kwargs)
        self.job = job
        self.accept_states = tuple(accept_states)
        self._deadline: float | None = None

    def check_kwargs(self, context: Any = None) -> dict[str, Any]:
        params = _params(context)
        limit = params.get("flink.ready_timeout_s")
        if limit and self._deadline is None:
            self._deadline = time.time() + float(limit)
        return {"params": params, "job": self.job, "accept_states": list(self.accept_states),
                "deadline": self._deadline}

    def on_value(self, context: Any, state: str, message: str, value: Any) -> None:
        if value is not None:
            context["ti"].xcom_push(key="last_status", value=value)
        if state == FAILED:
            context["ti"].xcom_push(key="failure_reason", value=message)


class FlinkCheckpointSensor(CheckSensor):
    """Wait for ``min_count`` completed checkpoints of the current deployment (Flink REST on
    local, ``_metadata`` objects under the S3 checkpoint dir on aws, newer than ``since``).

    :param job: the job (templated)
    :param since: epoch seconds; older checkpoints do not count (templated)
    :param min_count: completed checkpoints to wait for
    """

    template_fields: Sequence[str] = ("job", "since")
    check_path = f"{__name__}.checkpoint_done"
    what = "Flink checkpoint completed"

    def __init__(self, *, job: str, since: float | str | None = None, min_count: int = 1,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.job, self.since, self.min_count = job, since, min_count

    def check_kwargs(self, context: Any = None) -> dict[str, Any]:
        since = float(self.since) if self.since not in (None, "", "None") else None
        return {"params": _params(context), "job": self.job, "since": since,
                "min_count": self.min_count}


class FlinkSnapshotSensor(CheckSensor):
    """Wait for a savepoint started with ``adapter.start_savepoint``; its path is the XCom.

    :param job: the job (templated)
    :param ref: what ``start_savepoint`` returned (templated)
    """

    template_fields: Sequence[str] = ("job", "ref")
    check_path = f"{__name__}.snapshot_done"
    what = "Flink savepoint completed"

    def __init__(self, *, job: str, ref: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.job, self.ref = job, ref

    def check_kwargs(self, context: Any = None) -> dict[str, Any]:
        return {"params": _params(context), "job": self.job, "ref": self.ref}
