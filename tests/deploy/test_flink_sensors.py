"""The Flink lifecycle sensors wait in the triggerer by default, fail with the same
messages as in poke mode, and keep their deadline when the trigger moves.

The adapter is a stub here (only the sensor/trigger wiring is under test); the real
adapters run these sensors in tests/deploy/test_lifecycle_local.py, where ``dags test``
runs the deferred triggers inline, and in tests/runtime under the real triggerer.
"""

from __future__ import annotations

import time

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout, TaskDeferred

from flink_platform.adapters.base import FlinkJobStatus
from flink_platform.sensors import flink_deployment as sensors
from flink_platform.triggers.polling import CheckTrigger


class _Adapter:
    def __init__(self, *states: FlinkJobStatus) -> None:
        self.states = list(states)

    def status(self, job: str) -> FlinkJobStatus:
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]


class _TI:
    def __init__(self) -> None:
        self.xcom: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.xcom[key] = value


def _status(lifecycle: str, job: str | None = None, error: str | None = None) -> FlinkJobStatus:
    return FlinkJobStatus(name="fraud-detection", lifecycle_state=lifecycle, job_state=job,
                          error=error)


@pytest.fixture()
def adapter(monkeypatch):
    holder: dict[str, _Adapter] = {}
    monkeypatch.setattr(sensors, "_adapter", lambda params: holder["adapter"])
    return holder


def test_ready_sensor_defers_by_default_and_the_trigger_completes_it(adapter):
    adapter["adapter"] = _Adapter(_status("DEPLOYED", "CREATED"), _status("STABLE", "RUNNING"))
    sensor = sensors.FlinkDeploymentReadySensor(task_id="wait_ready", job="fraud-detection",
                                                poke_interval=0.01, timeout=30)
    ti = _TI()
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({"params": {}, "ti": ti})
    trigger = deferred.value.trigger
    assert isinstance(trigger, CheckTrigger)
    assert trigger.check_path.endswith("flink_deployment.deployment_ready")
    assert ti.xcom["last_status"]["lifecycle_state"] == "DEPLOYED"

    import asyncio

    async def events():
        return [e async for e in trigger.run()]

    [event] = asyncio.run(events())
    assert event.payload["status"] == "ready"
    value = sensor.execute_complete({"params": {}, "ti": ti}, event.payload)
    assert value["lifecycle_state"] == "STABLE" and ti.xcom["last_status"] == value


def test_a_short_wait_ends_in_the_worker_within_defer_after_s(adapter):
    """defer_after_s: the sensor keeps checking in the worker first; ready by then, it
    returns without a deferral (no new worker process, no resume)."""
    adapter["adapter"] = _Adapter(_status("DEPLOYED", "CREATED"), _status("DEPLOYED", "RUNNING"),
                                  _status("STABLE", "RUNNING"))
    sensor = sensors.FlinkDeploymentReadySensor(task_id="wait_ready", job="fraud-detection",
                                                poke_interval=0.01, timeout=30, defer_after_s=5)
    ti = _TI()
    value = sensor.execute({"params": {}, "ti": ti})
    assert value["lifecycle_state"] == "STABLE" and not adapter["adapter"].states[1:]


def test_a_longer_wait_defers_after_defer_after_s_keeping_its_deadline(adapter):
    adapter["adapter"] = _Adapter(_status("DEPLOYED", "CREATED"))
    sensor = sensors.FlinkDeploymentReadySensor(task_id="wait_ready", job="fraud-detection",
                                                poke_interval=0.01, timeout=30,
                                                defer_after_s=0.2)
    started = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({"params": {}, "ti": _TI()})
    assert time.time() - started >= 0.19  # checked in the worker first
    assert started <= deferred.value.trigger.deadline - 30 <= started + 0.1  # from the start


def test_failed_deployment_fails_with_the_operator_error_in_both_modes(adapter):
    adapter["adapter"] = _Adapter(_status("FAILED", "FAILED", error="ClassNotFound: Foo"))
    for deferrable in (True, False):
        sensor = sensors.FlinkDeploymentReadySensor(
            task_id="wait_ready", job="fraud-detection", poke_interval=0.01, timeout=5,
            deferrable=deferrable)
        ti = _TI()
        with pytest.raises(AirflowFailException, match="fraud-detection FAILED: ClassNotFound"):
            sensor.execute({"params": {}, "ti": ti})
        assert ti.xcom["failure_reason"] == "fraud-detection FAILED: ClassNotFound: Foo"


def test_trigger_deadline_survives_a_move_to_another_triggerer(adapter):
    """The deadline is a wall-clock instant in the trigger's kwargs: a trigger rebuilt from
    its serialized form (what a second triggerer does) times out at the original instant,
    it does not start a fresh ``timeout_s``."""
    adapter["adapter"] = _Adapter(_status("DEPLOYED", "CREATED"))
    started = time.time() - 100  # the sensor deferred 100 s ago, with a 60 s timeout
    first = CheckTrigger(f"{sensors.__name__}.deployment_ready",
                         {"params": {}, "job": "fraud-detection", "accept_states": ["STABLE"],
                          "deadline": None}, 5, 60, "Flink deployment ready",
                         deadline=started + 60)
    path, kwargs = first.serialize()
    moved = CheckTrigger(**kwargs)
    assert moved.deadline == started + 60

    import asyncio

    async def events():
        return [e async for e in moved.run()]

    [event] = asyncio.run(asyncio.wait_for(events(), timeout=10))
    assert event.payload["status"] == "timeout"
    assert "timed out after 60s waiting for Flink deployment ready" in event.payload["message"]
    sensor = sensors.FlinkDeploymentReadySensor(task_id="wait_ready", job="fraud-detection")
    with pytest.raises(AirflowSensorTimeout, match="lifecycle DEPLOYED"):
        sensor.execute_complete({"params": {}, "ti": _TI()}, event.payload)
