"""Take and give back a job's lease around a lifecycle action (flink_platform.job_lease).

In a DAG, per job::

    lease = FlinkAcquireJobLeaseOperator(task_id="acquire_lease", job=job, action="deploy")
    ... the action's tasks ...
    released = FlinkReleaseJobLeaseOperator(task_id="release_lease", job=job)
    chain(lease, <first task>, ..., <last task>, released.as_teardown(setups=lease))

The acquire waits like the Flink sensors: deferred in the triggerer by default, for the
run's ``flink.action_wait_timeout_s``; its timeout names the holder. The release is a teardown
task: it runs when the action failed too, and not when the lease was never taken.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

from flink_platform.triggers.polling import CheckSensor


def _holder(context: Any) -> str:
    """``<dag_id>/<run_id>/<task group>``: one action of one run."""
    ti = context["ti"]
    group = ti.task_id.rpartition(".")[0] or ti.task_id
    return f"{ti.dag_id}/{context['run_id']}/{group}"


class FlinkAcquireJobLeaseOperator(CheckSensor):
    """Wait until this run holds ``job``'s lease (skipped when the run did not select the
    job, so nothing downstream acts on it).

    :param job: the job acted on (templated)
    :param action: what the run does with it, shown to whoever waits (templated)
    """

    template_fields = ("job", "action")
    check_path = "flink_platform.job_lease.lease_acquired"
    what = "the job's lease"
    ui_color = "#e8d4f0"

    def __init__(self, *, job: str, action: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job, self.action = job, action

    def check_kwargs(self, context: Any = None) -> dict[str, Any]:
        return {"params": dict((context or {}).get("params") or {}), "job": self.job,
                "holder": _holder(context), "action": self.action}

    def execute(self, context: Any) -> Any:
        from flink_platform.operators.flink_lifecycle import run_config, selected_jobs

        params = context.get("params") or {}
        cfg = run_config(params)
        if self.job not in selected_jobs(cfg, params):
            raise AirflowSkipException(f"{self.job} not selected in this run: no lease taken")
        self.timeout = cfg.flink.action_wait_timeout_s  # the run's Param, when it has one
        self.what = f"the lease of {self.job} (for {self.action})"
        self.log.info("waiting up to %s s for %s", self.timeout, self.what)
        return super().execute(context)


class FlinkReleaseJobLeaseOperator(BaseOperator):
    """Give ``job``'s lease back when this run's action holds it (a no-op otherwise).

    :param job: the job acted on (templated)
    """

    template_fields = ("job",)
    ui_color = "#e8d4f0"

    def __init__(self, *, job: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job

    def execute(self, context: Any) -> str:
        from flink_platform.job_lease import JobLeases
        from flink_platform.operators.flink_lifecycle import run_config

        message = JobLeases(run_config(context.get("params"))).release(self.job,
                                                                        _holder(context))
        self.log.info("%s", message)
        return message
