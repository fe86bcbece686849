"""Conventions shared by every lifecycle DAG (system-test style: SETUP / BODY / TEARDOWN).

- ``DEFAULT_ARGS``: owner, retries with exponential backoff (tasks call the network).
- ``watcher()``: the final task; fails the run when any upstream task failed, even when
  the teardown tasks (ALL_DONE) succeeded, exactly like Airflow's system-test watcher.
- ``resolve_config``: the first task of a DAG; rejects run conf keys that are not Params
  of the DAG, validates the platform config with the run's Params applied, and fails
  with a message naming the bad key or field.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import TriggerRule, task
from airflow.sdk.exceptions import AirflowFailException  # also re-exported to the DAGs

# Tasks that only compute (validate config, choose a branch, plan, mark the run failed) and
# call no network may run with retries=0; every other task retries (DAG integrity test).
NO_NETWORK_TASKS = frozenset({"resolve_config", "watcher", "plan_resources", "choose_mode"})

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "data-platform",
    "retries": 2,
    "retry_delay": timedelta(seconds=5),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=2),
}


@task(trigger_rule=TriggerRule.ONE_FAILED, retries=0)
def watcher() -> None:
    """Mark the run failed when any task failed (teardowns may still have succeeded)."""
    raise AirflowFailException("a task upstream of the watcher failed; see its log")


@task(retries=0)
def resolve_config(params: dict[str, Any] | None = None, dag_run=None,
                   dag=None) -> dict[str, Any]:
    """Validate the platform config with this run's Params; return it as a plain dict.
    A conf key that is not a Param of the DAG fails the run, naming the key."""
    from flink_platform.config import ConfigError
    from flink_platform.params import check_run_conf, config_from_params

    try:
        if dag_run is not None and dag is not None:
            check_run_conf(dag.dag_id, dag_run.conf, dag.params.keys())
        cfg = config_from_params(params)
    except ConfigError as err:
        raise AirflowFailException(str(err)) from None
    return cfg.model_dump(mode="json")
