"""Rendered manifests: every FlinkDeployment validates against the operator's real CRD
(flink_platform.crd, pinned by include/crds/crds.lock), once per CRD source (`crd_source`:
tests/deploy/conftest.py); unknown fields are rejected here.
"""

from __future__ import annotations

import pytest

from flink_platform.config import load_config
from flink_platform.manifests import (
    PINNED_OPERATOR_VERSION,
    render_all,
    render_flink_deployment,
    render_network_policy,
    render_pod_monitor,
    validate_flink_deployment,
)

TARGETS = [("local", {}), ("aws", {}), ("aws", {"operator.distribution": "emr"})]


@pytest.mark.parametrize("target, overrides", TARGETS)
def test_every_flinkdeployment_validates_against_the_crd(target, overrides, crd_source):
    cfg = load_config(target, overrides=overrides)
    for job in cfg.jobs:
        body = render_flink_deployment(cfg, job)
        assert validate_flink_deployment(body, source=crd_source) == [], (target, job)
        assert body["metadata"]["namespace"] == cfg.namespaces.jobs


def test_recipe_fields_from_the_config():
    cfg = load_config("aws")
    body = render_flink_deployment(cfg, "fraud-detection")
    spec, job = body["spec"], cfg.jobs["fraud-detection"]
    conf = spec["flinkConfiguration"]
    bucket = f"s3://{cfg.resource_name(cfg.bucket.name)}"
    assert spec["image"] == job.image and spec["flinkVersion"] == cfg.flink.flink_version
    assert conf["state.backend.type"] == "hashmap"  # measured: docs/JOBS.md
    assert conf["taskmanager.memory.managed.fraction"] == "0.05"  # heap state: no RocksDB
    assert conf["execution.checkpointing.dir"] == f"{bucket}/checkpoints/fraud-detection"
    assert conf["execution.checkpointing.mode"] == "EXACTLY_ONCE"
    assert conf["execution.checkpointing.interval"] == f"{job.checkpoint_interval_s}s"
    assert {"execution.checkpointing.min-pause", "execution.checkpointing.timeout"} <= set(conf)
    assert conf["restart-strategy.type"] == "exponential-delay"
    assert conf["high-availability.type"] == "kubernetes"
    assert conf["high-availability.storageDir"].startswith(f"{bucket}/ha/")
    assert conf["metrics.reporter.prom.port"] == "9249"
    assert spec["job"]["parallelism"] == job.parallelism
    assert spec["job"]["upgradeMode"] == "savepoint"
    assert spec["taskManager"]["resource"] == {"cpu": job.taskmanager.cpu,
                                               "memory": job.taskmanager.memory}
    assert "emrReleaseLabel" not in spec


def test_emr_build_adds_emr_fields():
    cfg = load_config("aws", overrides={"operator.distribution": "emr"})
    spec = render_flink_deployment(cfg, "risk-analytics")["spec"]
    assert spec["emrReleaseLabel"] == cfg.operator.emr_release_label
    assert spec["executionRoleArn"].startswith("arn:aws:iam::123456789012:role/")


def test_overrides_change_version_args_and_conf(crd_source):
    cfg = load_config("aws")
    body = render_flink_deployment(cfg, "fraud-detection", {
        "version": "2.0.0", "parallelism": 8, "args": {"velocity_max_count": "5"},
        "flink_conf": {"state.backend.type": "hashmap"}})
    assert validate_flink_deployment(body, source=crd_source) == []
    assert body["metadata"]["labels"]["app.kubernetes.io/version"] == "2.0.0"
    assert body["spec"]["job"]["parallelism"] == 8
    assert body["spec"]["job"]["args"][-2:] == ["--set", "velocity_max_count=5"]
    assert body["spec"]["flinkConfiguration"]["state.backend.type"] == "hashmap"


def test_typos_and_bad_enums_are_rejected(crd_source):
    cfg = load_config("aws")
    body = render_flink_deployment(cfg, "fraud-detection")
    body["spec"]["job"]["upgradeMod"] = "savepoint"
    body["spec"]["flinkVersion"] = "v3_0"
    errors = validate_flink_deployment(body, source=crd_source)
    assert any("upgradeMod" in e for e in errors) and any("v3_0" in e for e in errors)


def test_network_policy_and_pod_monitor():
    cfg = load_config("aws")
    policy, monitor = render_network_policy(cfg), render_pod_monitor(cfg)
    assert policy["kind"] == "NetworkPolicy" and policy["metadata"]["namespace"] == "flink-jobs"
    ports = [p["port"] for rule in policy["spec"]["ingress"] for p in rule.get("ports", [])]
    assert ports == [8081, 9249]
    assert monitor["kind"] == "PodMonitor"
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    assert len(render_all(cfg)) == len(cfg.jobs) + 2
    assert PINNED_OPERATOR_VERSION == "1.13.0"


def test_state_and_memory_options_pass_the_run_allow_list():
    """The backend and memory options the manifest ships are ones a run may also set
    (flink_conf), so switching a job to RocksDB for larger state is a run override."""
    from flink_platform.job_options import check_flink_options

    conf = render_flink_deployment(load_config("aws"), "fraud-detection")["spec"][
        "flinkConfiguration"]
    check_flink_options({k: v for k, v in conf.items()
                         if k.startswith(("state.", "taskmanager.memory."))})
    check_flink_options({"state.backend.type": "rocksdb",
                         "taskmanager.memory.managed.fraction": "0.4",
                         "state.backend.rocksdb.timer-service.factory": "HEAP",
                         "state.backend.rocksdb.use-bloom-filter": "true"})
