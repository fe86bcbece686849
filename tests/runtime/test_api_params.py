"""Bad input through the real API server, as the UI sends it: a run conf key that is no
Param is a 400 naming the key (no run is created), a bad value is a 400 naming the field,
and a valid non-dotted Param (``region``) takes effect in the run."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.runtime


def _runs(api, dag_id: str) -> int:
    return api._get(f"/dags/{dag_id}/dagRuns")["total_entries"]


def test_misspelt_conf_key_is_a_400_naming_it_and_creates_no_run(airflow_api):
    before = _runs(airflow_api, "platform_provision")
    resp = airflow_api.trigger("platform_provision", {"streams.trading_event.shards": 2})
    assert resp.status_code == 400, resp.text
    detail = resp.json()["detail"]
    assert "'streams.trading_event.shards'" in detail
    assert "did you mean 'streams.trading_events.shards'" in detail
    assert _runs(airflow_api, "platform_provision") == before


def test_bad_value_is_a_400_naming_the_field(airflow_api):
    resp = airflow_api.trigger("platform_provision", {"streams.trading_events.shards": 0})
    assert resp.status_code == 400, resp.text
    assert "streams.trading_events.shards" in resp.text


def test_region_param_reaches_the_resolved_config(airflow_api):
    """``region`` is validated by the form and applied (only dotted keys were before).
    The run goes as far as resolve_config and plan_resources (no AWS call), then is
    left to fail on the emulator-less stack: only those two tasks are judged."""
    airflow_api.unpause("platform_provision")
    resp = airflow_api.trigger("platform_provision", {"region": "eu-west-1"})
    assert resp.status_code == 200, resp.text
    run_id = resp.json()["dag_run_id"]
    plan = _wait_task(airflow_api, "platform_provision", run_id, "plan_resources")
    assert plan["state"] == "success", plan
    region = airflow_api._get(f"/dags/platform_provision/dagRuns/{run_id}/taskInstances/"
                              "plan_resources/xcomEntries/region")["value"]
    assert region == "eu-west-1"
    airflow_api.session.patch(f"{airflow_api.base}/dags/platform_provision/dagRuns/{run_id}",
                              json={"state": "failed"}, timeout=30)
    airflow_api.session.patch(f"{airflow_api.base}/dags/platform_provision",
                              json={"is_paused": True}, timeout=30)


def _wait_task(api, dag_id: str, run_id: str, task_id: str, timeout_s: float = 180) -> dict:
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        ti = api.task_instances(dag_id, run_id).get(task_id, {})
        if ti.get("state") in ("success", "failed", "upstream_failed"):
            return ti
        if time.monotonic() > deadline:
            raise AssertionError(f"{task_id} of {run_id} still {ti.get('state')} after "
                                 f"{timeout_s:.0f}s")
        time.sleep(1)
