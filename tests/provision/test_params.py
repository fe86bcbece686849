"""Trigger-time validation: Param JSON schema rejects bad values naming the field;
resolve_config's pydantic cross-field checks fail the run naming the field."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException, ParamValidationError

from tests.provision.conftest import run_dag


@pytest.mark.parametrize(("field", "value"), [
    ("streams.trading_events.shards", 0),
    ("region", "mars-north-1"),
    ("cluster.nodegroup.desired_size", "two"),
])
def test_bad_param_is_rejected_at_trigger(airflow_db, field, value):
    import platform_provision

    with pytest.raises(ParamValidationError, match=field.replace(".", r"\.")):
        platform_provision.dag.test(run_conf={field: value})


def test_cross_field_error_fails_resolve_config_naming_the_field(airflow_db):
    import platform_provision
    from flink_platform.dag_utils import resolve_config

    bad = {"cluster.nodegroup.desired_size": 9}  # valid alone, above max_size 3
    with pytest.raises(AirflowFailException, match=r"cluster\.nodegroup.*desired_size"):
        resolve_config.function(bad)
    state, tasks = run_dag(platform_provision.dag, bad)
    assert state == "failed"
    assert tasks["resolve_config"] == "failed" and tasks["plan_resources"] == "upstream_failed"


def test_unknown_conf_key_fails_resolve_config_naming_it(airflow_db):
    """Triggers that bypass the API server's guard (``dags test``, the CLI) still stop at
    the first task, naming the misspelt key and the Param it resembles."""
    import platform_provision

    state, tasks = run_dag(platform_provision.dag, {"regoin": "eu-west-1"})  # was ignored
    assert state == "failed"
    assert tasks["resolve_config"] == "failed" and tasks["plan_resources"] == "upstream_failed"
    from flink_platform.params import UnknownParamError, check_run_conf

    with pytest.raises(UnknownParamError, match=r"'regoin' \(did you mean 'region'\?\)"):
        check_run_conf("platform_provision", {"regoin": "eu-west-1"},
                       platform_provision.dag.params.keys())
