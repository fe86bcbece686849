"""Job arguments and Flink options a run passes are allow-listed, key and value, and a bad
one is rejected at trigger time naming the key (the config model, the upgrade DAG's Params)."""

from __future__ import annotations

import ast

import pytest
from airflow.sdk import Param
from airflow.sdk.definitions.param import ParamValidationError

from flink_platform import job_options
from flink_platform.adapters.job_spec import resolve_job_spec
from flink_platform.config import ConfigError, load_config

BAD_VALUES = ["5; rm -rf /", "5' OR '1'='1", "$(id)", "a\nb"]


def test_job_arg_keys_are_the_jobs_own():
    tree = ast.parse((job_options.JOBS_DIR / "risk_analytics.py").read_text())
    src = next(n for n in tree.body if isinstance(n, ast.AnnAssign) and n.target.id == "DEFAULTS")
    own = {k.value for k in src.value.keys}
    assert own == {"window_minutes", "volatility_minutes"}
    assert own | {"seed", "state_ttl"} <= job_options.job_arg_keys("risk_analytics.py")
    assert "velocity_max_count" not in job_options.job_arg_keys("risk_analytics.py")


def test_unknown_job_argument_rejected_naming_the_key():
    with pytest.raises(ConfigError, match="'no_such_rule'.*fraud_detection.py"):
        load_config("aws", overrides={"jobs.fraud-detection.args": {"no_such_rule": "1"}})
    with pytest.raises(ConfigError, match="'velocity_max_count'"):  # a fraud-only key
        resolve_job_spec(load_config("aws"), "risk-analytics",
                         {"args": {"velocity_max_count": "5"}})


@pytest.mark.parametrize("value", BAD_VALUES)
def test_unsafe_job_argument_value_rejected_naming_the_key(value):
    with pytest.raises(ConfigError, match="job argument 'velocity_max_count'"):
        resolve_job_spec(load_config("aws"), "fraud-detection",
                         {"args": {"velocity_max_count": value}})


def test_flink_options_allow_list():
    cfg = load_config("aws")
    ok = resolve_job_spec(cfg, "fraud-detection", {"flink_conf": {
        "state.backend.type": "hashmap", "taskmanager.memory.managed.fraction": "0.4",
        "table.exec.mini-batch.enabled": "true", "parallelism.default": "3",
        "execution.checkpointing.interval": "2 min"}})
    assert ok.flink_conf["state.backend.type"] == "hashmap"
    for key in ("security.kerberos.login.keytab", "env.java.opts.all", "pipeline.jars",
                "fs.s3.aws.credentials.provider", "kubernetes.service-account"):
        with pytest.raises(ConfigError, match=f"Flink option '{key}' is not allowed"):
            resolve_job_spec(cfg, "fraud-detection", {"flink_conf": {key: "x"}})
    with pytest.raises(ConfigError, match="Flink option 'pipeline.name'"):
        resolve_job_spec(cfg, "fraud-detection", {"flink_conf": {"pipeline.name": "a'; x"}})


def test_upgrade_params_reject_bad_keys_and_values_at_trigger():
    cfg = load_config("aws")
    args = job_options.param_schema([j.entrypoint for j in cfg.jobs.values()])
    conf = job_options.param_schema()
    Param({"velocity_max_count": "5", "window_minutes": "2"}, **args).resolve()
    Param({"state.backend.type": "rocksdb"}, **conf).resolve()
    for value, schema in (({"no_such_rule": "1"}, args), ({"velocity_max_count": "5;x"}, args),
                          ({"env.java.opts.all": "-X"}, conf), ({"state.x": "a'b"}, conf)):
        with pytest.raises(ParamValidationError, match=next(iter(value))):
            Param(value, **schema).resolve()
