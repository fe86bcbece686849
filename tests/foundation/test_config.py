"""Platform config: both target files validate; bad fields are rejected by name."""

from __future__ import annotations

import json

import pytest

from flink_platform.config import (
    ConfigError,
    apply_overrides,
    load_config,
    read_raw_config,
    validate_config,
)
from flink_platform.params import config_from_params, config_params, field_schema


@pytest.mark.parametrize("target", ["local", "aws"])
def test_each_target_config_is_valid(target, monkeypatch):
    monkeypatch.delenv("FLINK_PLATFORM_OVERRIDES", raising=False)
    cfg = load_config(target)
    assert cfg.target == target
    assert set(cfg.jobs) == {"fraud-detection", "risk-analytics"}
    assert cfg.resource_name("trading-events").endswith(cfg.env_suffix)
    assert cfg.tags["platform-env"] == cfg.env_suffix


BAD_FIELDS = [
    # (dotted field, bad value, words the message must contain)
    ("streams.trading_events.shards", 0,
     ["streams.trading_events.shards", "0", "greater than or equal to 1"]),
    ("region", "mars-north-1", ["region", "mars-north-1", "us-east-1"]),
    ("target", "gcp", ["target", "gcp", "'local' or 'aws'"]),
    ("jobs.fraud-detection.parallelism", -2, ["jobs.fraud-detection.parallelism", "-2"]),
    ("jobs.fraud-detection.upgrade_mode", "yolo", ["upgrade_mode", "yolo", "'savepoint'"]),
    ("jobs.risk-analytics.checkpoint_interval_s", 0, ["checkpoint_interval_s", "0"]),
    ("jobs.risk-analytics.taskmanager.memory", "4 gigs",
     ["taskmanager.memory", "4 gigs", "must match"]),
    ("bucket.name", "Bad_Bucket", ["bucket.name", "Bad_Bucket", "must match"]),
    ("bucket.checkpoints_to_ia_days", 10,
     ["bucket.checkpoints_to_ia_days", "10", "greater than or equal to 30"]),
    ("bucket.checkpoints_to_glacier_days", 90,
     ["bucket.checkpoints_to_glacier_days", "unknown field"]),
    ("cluster.nodegroup.desired_size", 9, ["cluster.nodegroup", "desired_size"]),
    ("cluster.kubernetes_version", "2.0", ["cluster.kubernetes_version", "2.0"]),
    ("environment", "Prod!", ["environment", "Prod!"]),
    ("operator.distribution", "helmfile",
     ["operator.distribution", "helmfile", "'upstream' or 'emr'"]),
    ("streams.market_data.retention_hours", 5, ["streams.market_data.retention_hours", "5"]),
    ("local.moto_port", 80, ["local.moto_port", "80", "1024"]),
    ("clusterr", {"name": "x"}, ["clusterr", "unknown field"]),
]


@pytest.mark.parametrize(("field", "value", "expected"), BAD_FIELDS, ids=[f[0] for f in BAD_FIELDS])
def test_bad_field_is_rejected_naming_field_value_and_allowed(field, value, expected):
    data = apply_overrides(read_raw_config("local"), {field: value})
    with pytest.raises(ConfigError) as err:
        validate_config(data, source="local.yaml")
    message = str(err.value)
    for words in expected:
        assert words in message, f"{words!r} missing from:\n{message}"


def test_bad_job_name_is_rejected():
    data = read_raw_config("local")
    data["jobs"]["Fraud_Job"] = data["jobs"].pop("fraud-detection")
    with pytest.raises(ConfigError, match="Fraud_Job.*DNS label"):
        validate_config(data)


def test_env_overrides_apply_and_are_validated(monkeypatch):
    monkeypatch.setenv("FLINK_PLATFORM_OVERRIDES", json.dumps({"streams.trading_events.shards": 7}))
    assert load_config("local").streams.trading_events.shards == 7
    monkeypatch.setenv("FLINK_PLATFORM_OVERRIDES", json.dumps({"streams.trading_events.shards": 0}))
    with pytest.raises(ConfigError, match="streams.trading_events.shards"):
        load_config("local")


def test_unknown_target_names_the_allowed_ones(monkeypatch):
    monkeypatch.setenv("FLINK_PLATFORM_TARGET", "gcp")
    with pytest.raises(ConfigError, match="FLINK_PLATFORM_TARGET.*local, aws"):
        load_config()


def test_params_carry_the_schema_and_current_defaults():
    params = config_params("streams.trading_events.shards", "jobs.fraud-detection.upgrade_mode")
    shards = params["streams.trading_events.shards"]
    assert shards.value == load_config().streams.trading_events.shards
    assert shards.schema["type"] == "integer" and shards.schema["minimum"] == 1
    assert params["jobs.fraud-detection.upgrade_mode"].schema["enum"] == [
        "savepoint", "last-state", "stateless"]
    assert field_schema("region")["type"] == "string"


def test_param_rejects_bad_value_in_trigger_form_like_the_config():
    from airflow.sdk.definitions.param import ParamsDict

    params = ParamsDict(config_params("streams.trading_events.shards"))
    with pytest.raises(Exception, match="streams.trading_events.shards"):
        params["streams.trading_events.shards"] = 0
        params.validate()


def test_params_override_config_and_cross_field_rules_still_apply():
    cfg = config_from_params({"jobs.fraud-detection.parallelism": 3, "unrelated": 1})
    assert cfg.jobs["fraud-detection"].parallelism == 3
    with pytest.raises(ConfigError, match="cluster.nodegroup"):
        config_from_params({"cluster.nodegroup.min_size": 3, "cluster.nodegroup.desired_size": 2})


def test_top_level_scalar_param_region_is_applied_but_sections_are_not():
    """``region`` is a Param of provision and teardown: it must reach the config (only
    dotted keys were applied before); ``jobs`` (the DAGs' job list Param) is no override."""
    cfg = config_from_params({"region": "eu-west-1", "jobs": ["fraud-detection"]})
    assert cfg.region == "eu-west-1"
    assert set(cfg.jobs) == {"fraud-detection", "risk-analytics"}


def test_cluster_conf_sets_and_drops_session_cluster_options(tmp_path):
    """local.cluster_conf (benchmarks: the aws manifest's options) goes over the generated
    session-cluster config; "" drops a generated option so Flink's default applies."""
    from flink_platform.local.flink_dist import FlinkLayout, cluster_config

    cfg = load_config("local", overrides={"local.cluster_conf": {
        "state.backend.type": "rocksdb", "env.java.opts.taskmanager": ""}})
    conf = cluster_config(cfg, FlinkLayout(tmp_path))
    assert conf["state.backend.type"] == "rocksdb"
    assert "env.java.opts.taskmanager" not in conf
    assert conf["taskmanager.memory.process.size"] == cfg.local.taskmanager_memory
