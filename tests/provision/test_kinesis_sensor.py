"""Our Kinesis stream sensor and the Kinesis create operator's reuse/drift logic, against
moto over HTTP: poke mode, the deferrable trigger's run(), and timeouts."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout

from flink_platform.sensors.kinesis_stream import KinesisStreamActiveSensor
from flink_platform.triggers.polling import CheckTrigger


def _sensor(names, platform_config, **kwargs):
    return KinesisStreamActiveSensor(task_id="await_streams", stream_names=names,
                                     region_name=platform_config.region, poke_interval=0.05,
                                     timeout=2, **kwargs)


def test_poke_ready_when_every_stream_is_active(aws, platform_config):
    aws("kinesis").create_stream(StreamName="s1", ShardCount=1)
    aws("kinesis").create_stream(StreamName="s2", ShardCount=2)
    assert _sensor(["s1", "s2"], platform_config).poke({}) is True


def test_poke_fails_at_once_for_a_missing_stream(aws, platform_config):
    aws("kinesis").create_stream(StreamName="s1", ShardCount=1)
    with pytest.raises(AirflowFailException, match="missing-stream=MISSING"):
        _sensor(["s1", "missing-stream"], platform_config).poke({})


async def test_trigger_run_yields_ready(aws, platform_config):
    aws("kinesis").create_stream(StreamName="s1", ShardCount=1)
    sensor = _sensor(["s1"], platform_config, deferrable=True)
    trigger = CheckTrigger(sensor.check_path, sensor.check_kwargs(), 0.05, 5, sensor.what)
    events = [event async for event in trigger.run()]
    assert [e.payload["status"] for e in events] == ["ready"]
    assert "s1=ACTIVE" in events[0].payload["message"]
    sensor.execute_complete({}, events[0].payload)  # success: no exception


async def test_trigger_run_yields_failed_for_missing_stream(aws, platform_config):
    sensor = _sensor(["nope"], platform_config)
    trigger = CheckTrigger(sensor.check_path, sensor.check_kwargs(), 0.05, 5, sensor.what)
    [event] = [event async for event in trigger.run()]
    assert event.payload["status"] == "failed"
    with pytest.raises(AirflowFailException, match="nope=MISSING"):
        sensor.execute_complete({}, event.payload)


def always_creating(stream_names: list[str]) -> tuple[str, str]:
    """A check stuck in CREATING: moto makes streams ACTIVE at once, so no stream can be."""
    return "waiting", "not ACTIVE yet: " + ", ".join(f"{n}=CREATING" for n in stream_names)


async def test_trigger_timeout_names_what_is_missing():
    trigger = CheckTrigger(f"{__name__}.always_creating", {"stream_names": ["s1"]}, 0.05, 0.3,
                           "Kinesis streams ACTIVE")
    [event] = [event async for event in trigger.run()]
    assert event.payload["status"] == "timeout"
    assert "timed out after 0s waiting for Kinesis streams ACTIVE" in event.payload["message"]
    assert "s1=CREATING" in event.payload["message"]
    with pytest.raises(AirflowSensorTimeout, match="s1=CREATING"):
        _sensor(["s1"], type("C", (), {"region": "us-east-1"})).execute_complete(
            {}, event.payload)


def test_poke_mode_timeout_names_what_is_missing(monkeypatch, platform_config):
    sensor = _sensor(["s1"], platform_config, deferrable=False)
    monkeypatch.setattr(sensor, "check_path", f"{__name__}.always_creating")
    monkeypatch.setattr(sensor, "check_kwargs", lambda *_: {"stream_names": ["s1"]})
    sensor.timeout = 0.2
    with pytest.raises(AirflowSensorTimeout, match="Kinesis streams ACTIVE.*s1=CREATING"):
        sensor.execute({})


def test_create_operator_reuses_identical_and_reports_drift(aws, platform_config):
    from flink_platform.aws.clients import ConfigDriftError
    from flink_platform.aws.streams import ensure_stream, kinesis

    conn = kinesis(platform_config.aws_conn_id, platform_config.region)
    assert ensure_stream(conn, "s1", 2, 24, {"platform": "x"})["created"] is True
    assert ensure_stream(conn, "s1", 2, 24, {"platform": "x"})["created"] is False
    with pytest.raises(ConfigDriftError, match=r"Kinesis stream s1 .*shard count: exists with 2"):
        ensure_stream(conn, "s1", 3, 24, {"platform": "x"})
    assert len(aws("kinesis").list_streams()["StreamNames"]) == 1


def test_deferrable_sensor_defers_to_the_check_trigger(monkeypatch, platform_config):
    from airflow.sdk.exceptions import TaskDeferred

    sensor = _sensor(["s1"], platform_config, deferrable=True)
    monkeypatch.setattr(sensor, "check_path", f"{__name__}.always_creating")
    monkeypatch.setattr(sensor, "check_kwargs", lambda *_: {"stream_names": ["s1"]})
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, CheckTrigger) and deferred.value.method_name == "execute_complete"
    path, kwargs = trigger.serialize()
    assert path == "flink_platform.triggers.polling.CheckTrigger"
    assert kwargs["check_kwargs"] == {"stream_names": ["s1"]} and kwargs["timeout_s"] == 2
