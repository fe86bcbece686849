"""Teardown safety: on ``aws`` the run must repeat the environment name (through the DAG,
against moto over HTTP), and deleting the Flink deployments waits until the operator's
finalizer let each FlinkDeployment go (against kmock over HTTP, which keeps an object with
finalizers after DELETE, marked with a deletionTimestamp, as the API server does)."""

from __future__ import annotations

import asyncio
import json

import kmock
import pytest
import yaml
from airflow.sdk.exceptions import AirflowFailException

from flink_platform.aws.specs import PlatformSpec
from flink_platform.config import load_config
from tests.provision.conftest import run_dag
from tests.provision.kube_helpers import wait_for

FD = kmock.resource("flink.apache.org", "v1beta1", "flinkdeployments")
NS = "flink-jobs"
FINALIZER = "flinkdeployments.flink.apache.org/finalizer"


@pytest.fixture()
def kmock_cfg(kmock, tmp_path, monkeypatch):
    """aws config whose kubernetes connection is a kubeconfig pointing at kmock."""
    from tests.provision.kube_helpers import kubeconfig

    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig(kmock.url)))
    monkeypatch.setenv("AIRFLOW_CONN_KMOCK_K8S", json.dumps(
        {"conn_type": "kubernetes", "extra": {"kube_config_path": str(path)}}))
    kmock.resources["flink.apache.org/v1beta1/flinkdeployments"] = kmock.ResourceInfo(
        namespaced=True, kind="FlinkDeployment", singular="flinkdeployment",
        verbs=["create", "delete", "get", "list", "patch", "update", "watch"],
        subresources=["status"])
    return load_config("aws", overrides={"kubernetes_conn_id": "kmock_k8s"})


def _running(name: str) -> dict:
    return {"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment",
            "metadata": {"name": name, "namespace": NS, "finalizers": [FINALIZER]},
            "status": {"jobStatus": {"state": "RUNNING"}}}


def _gets(handler, name: str) -> int:
    return sum(1 for r in handler["get", FD] if r.url.path.endswith(f"/{name}"))


async def test_delete_step_waits_for_each_finalizer(kmock, kmock_cfg):
    import platform_teardown

    jobs = list(kmock_cfg.jobs)  # deleted in config order
    for name in jobs:
        kmock.objects[FD, NS, name] = _running(name)
    step = asyncio.create_task(asyncio.to_thread(
        platform_teardown.delete_flink_deployments.function, kmock_cfg.model_dump(mode="json")))
    for name in jobs:
        def marked(n=name):
            obj = kmock.objects[FD, NS, n]
            return not obj.deleted and obj.get("metadata", {}).get("deletionTimestamp")

        await wait_for(marked, what=f"{name} marked for deletion")
        seen = _gets(kmock, name)
        await wait_for(lambda n=name, s=seen: _gets(kmock, n) >= s + 2, timeout_s=15,
                       what=f"the step polling {name} while its finalizer runs")
        assert not step.done()  # the job may still write checkpoints: nothing else goes yet
        # the operator stopped the job and removed its finalizer: the API server drops it
        kmock.objects[FD, NS, name].patch({"metadata": {"finalizers": []}})
        kmock.objects[FD, NS, name].delete()
    assert await step == {"deleted": sorted(jobs)}
    assert all(kmock.objects[FD, NS, name].deleted for name in jobs)


async def test_delete_times_out_naming_the_deployment(kmock, kmock_cfg):
    from flink_platform.adapters.kubernetes_flink import KubernetesFlinkAdapter

    [job, *_] = sorted(kmock_cfg.jobs)
    kmock.objects[FD, NS, job] = _running(job)
    adapter = KubernetesFlinkAdapter(kmock_cfg, poll_s=0.05)
    with pytest.raises(TimeoutError, match=f"FlinkDeployment {NS}/{job} still exists"):
        await asyncio.to_thread(adapter.delete, job, 0.3)


def test_aws_teardown_needs_the_environment_repeated(clean_moto, airflow_db, monkeypatch):
    """Without the Param, or with another environment, the first task fails naming the
    Param and the expected value, and nothing is deleted."""
    import boto3

    import platform_teardown

    monkeypatch.setenv("FLINK_PLATFORM_TARGET", "aws")
    cfg = load_config("aws")
    stream = PlatformSpec(cfg).names["trading_events"]
    kinesis = boto3.client("kinesis", endpoint_url=clean_moto, region_name=cfg.region,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    kinesis.create_stream(StreamName=stream, ShardCount=1)

    state, tasks = run_dag(platform_teardown.dag, {"confirm_environment": "prod-x7k3"})
    assert state == "failed"
    assert tasks["resolve_config"] == "success"
    assert tasks["confirm_teardown"] == "failed"
    assert all(s != "success" for t, s in tasks.items()
               if t not in ("resolve_config", "watcher")), tasks
    assert stream in kinesis.list_streams()["StreamNames"]  # nothing deleted

    config = cfg.model_dump(mode="json")
    with pytest.raises(AirflowFailException,
                       match=r"Param confirm_environment='prod-x7k2' \(got 'prod'\)"):
        platform_teardown.confirm_teardown.function(config, {"confirm_environment": "prod"})
    confirmed = {"confirm_environment": cfg.env_suffix}
    assert platform_teardown.confirm_teardown.function(config, confirmed) == config


def test_local_teardown_needs_no_confirmation(platform_config):
    import platform_teardown

    config = platform_config.model_dump(mode="json")
    assert platform_teardown.confirm_teardown.function(config, {}) == config


def test_local_teardown_refuses_a_confirmation_naming_another_environment(platform_config):
    """On local the Param is optional, but a typed name is checked: it takes effect."""
    import platform_teardown

    config = platform_config.model_dump(mode="json")
    with pytest.raises(AirflowFailException, match=r"Param confirm_environment="):
        platform_teardown.confirm_teardown.function(config, {"confirm_environment": "prod-x"})
    confirmed = {"confirm_environment": platform_config.env_suffix}
    assert platform_teardown.confirm_teardown.function(config, confirmed) == config
