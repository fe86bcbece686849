"""Sensors of the FlinkDeployment lifecycle (both targets, through the adapter).

The apache-flink provider's sensor stops at the JobManager being up; readiness here means
lifecycleState STABLE (or ROLLED_BACK when waiting for a rollback) AND the job RUNNING,
and it fails fast with the operator's / Flink's error text when the deployment FAILED.
Each sensor reads the platform config from the run's Params.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowFailException


def _adapter(context: Any):
    from flink_platform.adapters import get_flink_adapter
    from flink_platform.params import config_from_params

    return get_flink_adapter(config_from_params(context.get("params")))


class FlinkDeploymentReadySensor(BaseSensorOperator):
    """Wait until ``job`` is in one of ``accept_states`` with its job RUNNING; fail on FAILED.

    Pushes ``last_status`` on every poke and ``failure_reason`` before failing, so a
    downstream rollback can report why. The run's ``flink.ready_timeout_s`` Param, when
    set, is a deadline too (the operator ``timeout`` is fixed at parse time).
    """

    template_fields: Sequence[str] = ("job",)

    def __init__(self, *, job: str, accept_states: Sequence[str] = ("STABLE",), **kwargs: Any):
        super().__init__(**kwargs)
        self.job = job
        self.accept_states = tuple(accept_states)

    def poke(self, context: Any) -> PokeReturnValue:
        self._first_poke = getattr(self, "_first_poke", None) or time.monotonic()
        status = _adapter(context).status(self.job)
        data = status.to_dict()
        context["ti"].xcom_push(key="last_status", value=data)
        self.log.info("%s: lifecycle %s, job %s, version %s", self.job, status.lifecycle_state,
                      status.job_state, status.version)
        if status.lifecycle_state == "FAILED":
            reason = f"{self.job} FAILED: {status.error or 'no error text from the operator'}"
            context["ti"].xcom_push(key="failure_reason", value=reason)
            raise AirflowFailException(reason)
        generation = status.details.get("generation")
        observed = status.details.get("observedGeneration")
        reconciled = generation is None or observed is None or observed == generation
        done = (status.lifecycle_state in self.accept_states and status.job_state == "RUNNING"
                and reconciled)
        limit = (context.get("params") or {}).get("flink.ready_timeout_s")
        if not done and limit and time.monotonic() - self._first_poke > float(limit):
            reason = (f"{self.job} not ready within {limit}s (lifecycle {status.lifecycle_state}, "
                      f"job {status.job_state}): {status.error or 'no error text'}")
            context["ti"].xcom_push(key="failure_reason", value=reason)
            raise AirflowFailException(reason)
        return PokeReturnValue(is_done=done, xcom_value=data if done else None)


class FlinkCheckpointSensor(BaseSensorOperator):
    """Wait for ``min_count`` completed checkpoints of the current deployment (Flink REST on
    local, ``_metadata`` objects under the S3 checkpoint dir on aws, newer than ``since``)."""

    template_fields: Sequence[str] = ("job", "since")

    def __init__(self, *, job: str, since: float | str | None = None, min_count: int = 1,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.job, self.since, self.min_count = job, since, min_count

    def poke(self, context: Any) -> PokeReturnValue:
        adapter = _adapter(context)
        since = float(self.since) if self.since not in (None, "", "None") else None
        count = adapter.completed_checkpoints(self.job, since=since)
        self.log.info("%s: %d completed checkpoint(s)", self.job, count)
        if count < self.min_count:
            status = adapter.status(self.job)
            if status.lifecycle_state == "FAILED":
                raise AirflowFailException(
                    f"{self.job} FAILED before checkpointing: {status.error}")
            return PokeReturnValue(is_done=False)
        path = adapter.status(self.job).last_checkpoint
        return PokeReturnValue(is_done=True, xcom_value={"count": count, "last_checkpoint": path})


class FlinkSnapshotSensor(BaseSensorOperator):
    """Wait for a savepoint started with ``adapter.start_savepoint`` (``ref``); push its path."""

    template_fields: Sequence[str] = ("job", "ref")

    def __init__(self, *, job: str, ref: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.job, self.ref = job, ref

    def poke(self, context: Any) -> PokeReturnValue:
        try:
            path = _adapter(context).savepoint_result(self.job, self.ref)
        except RuntimeError as err:
            raise AirflowFailException(str(err)) from None
        return PokeReturnValue(is_done=bool(path), xcom_value=path)
