"""The Kubernetes steps of the ``aws`` target against kmock over HTTP: the exact objects
sent (namespaces, service accounts, RBAC, the Helm pod) and operator readiness."""

from __future__ import annotations

import asyncio
import json

import pytest
from airflow.sdk.exceptions import AirflowFailException
from kmock import resource

# kmock_namespaces and kubeconfig are fixtures: pytest finds them here by name
from tests.provision.kube_helpers import kmock_namespaces, kubeconfig, wait_for  # noqa: F401

ROLE_ARN = "arn:aws:iam::123456789012:role/flink-job-execution-prod-x7k2"
LABELS = {"app.kubernetes.io/part-of": "flink-platform", "flink-platform/env": "prod-x7k2"}
VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]


@pytest.fixture()
def aws_cfg():
    from flink_platform.config import load_config

    return load_config("aws")


@pytest.fixture()
def adapter(kmock, kmock_namespaces, aws_cfg):  # noqa: F811 - fixture
    from flink_platform.adapters.platform_kubernetes import KubernetesPlatformAdapter
    from flink_platform.kubernetes.client import KubeClient

    kmock["create"] << 201 << (lambda request: request.data)  # real API servers answer 201
    kube = KubeClient(config_dict=kubeconfig(kmock.url))
    return KubernetesPlatformAdapter(aws_cfg, kube=kube, helm_poll_s=0.02)


def created(kmock) -> list[dict]:
    """Bodies of every POST the emulator received, in order."""
    return [r.data for r in kmock if getattr(r.method, "value", r.method) == "POST"]


async def test_base_objects_are_sent_exactly(kmock, adapter):
    result = await asyncio.to_thread(adapter.apply_base_objects, ROLE_ARN)
    assert set(result["objects"].values()) == {"created"}
    sent = created(kmock)
    assert [(o["kind"], o["metadata"]["name"]) for o in sent] == [
        ("Namespace", "flink-operator"), ("Namespace", "flink-jobs"), ("Namespace", "cert-manager"),
        ("ServiceAccount", "flink"), ("ServiceAccount", "helm-installer"),
        ("Role", "flink-job"), ("RoleBinding", "flink-job"),
        ("ClusterRoleBinding", "helm-installer-prod-x7k2"),
        ("Role", "emr-containers"), ("RoleBinding", "emr-containers")]  # test_emr_access.py
    assert sent[0] == {"apiVersion": "v1", "kind": "Namespace",
                       "metadata": {"name": "flink-operator", "labels": LABELS}}
    assert sent[3] == {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {
        "name": "flink", "namespace": "flink-jobs", "labels": LABELS,
        "annotations": {"eks.amazonaws.com/role-arn": ROLE_ARN}}}
    assert sent[5]["rules"] == [
        {"apiGroups": [""], "resources": ["pods", "configmaps", "services",
                                          "persistentvolumeclaims"], "verbs": VERBS},
        {"apiGroups": ["apps"], "resources": ["deployments", "deployments/finalizers"],
         "verbs": VERBS},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": VERBS}]
    assert sent[6]["subjects"] == [
        {"kind": "ServiceAccount", "name": "flink", "namespace": "flink-jobs"}]
    assert sent[7]["roleRef"]["name"] == "cluster-admin"
    assert sent[7]["subjects"] == [
        {"kind": "ServiceAccount", "name": "helm-installer", "namespace": "flink-operator"}]
    assert kmock.objects["v1/serviceaccounts", "flink-jobs", "flink"]["metadata"][
        "annotations"] == {"eks.amazonaws.com/role-arn": ROLE_ARN}

    again = await asyncio.to_thread(adapter.apply_base_objects, ROLE_ARN)  # idempotent
    assert set(again["objects"].values()) == {"patched"}


async def _run_helm_until(kmock, start, pod_name: str, status: dict):
    """Start a Helm step in a thread, wait for its pod, give the pod ``status``."""
    task = asyncio.create_task(asyncio.to_thread(start))
    key = (resource("v1/pods"), "flink-operator", pod_name)  # `in` needs a parsed resource
    await wait_for(lambda: key in kmock.objects and not kmock.objects[key].deleted,
                   what=f"pod {pod_name}")
    pod = kmock.objects[key].raw
    kmock.objects[key].patch({"status": status})
    return pod, task


async def test_operator_helm_pod_spec_and_success(kmock, adapter, aws_cfg):
    pod, task = await _run_helm_until(
        kmock, lambda: adapter.install_operator(ROLE_ARN), "helm-flink-kubernetes-operator",
        {"phase": "Succeeded"})
    result = await task
    assert result["phase"] == "Succeeded"
    assert kmock.objects["v1/pods", "flink-operator", "helm-flink-kubernetes-operator"].deleted
    spec = pod["spec"]
    assert spec["serviceAccountName"] == "helm-installer"
    assert spec["restartPolicy"] == "Never"
    assert spec["securityContext"]["runAsNonRoot"] is True
    [container] = spec["containers"]
    assert container["image"] == "alpine/helm:3.16.2"
    assert container["command"] == [
        "helm", "upgrade", "--install", "flink-kubernetes-operator", "flink-kubernetes-operator",
        "--version", "1.13.0", "--namespace", "flink-operator",
        "--repo", aws_cfg.operator.chart_repo,
        "--set", "watchNamespaces={flink-jobs}", "--set", "webhook.create=true",
        "--set", "jobServiceAccount.create=false",  # provision owns the "flink" account
        "--set", "jobServiceAccount.name=flink",
        "--wait", "--timeout", "10m"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]}}
    assert pod["metadata"]["labels"]["app.kubernetes.io/instance"] == "flink-kubernetes-operator"


async def test_cert_manager_helm_pod_failure_names_the_reason(kmock, adapter):
    from flink_platform.kubernetes.provisioning import HelmPodError

    terminated = {"exitCode": 1, "reason": "Error", "message": "Error: chart not found"}
    pod, task = await _run_helm_until(
        kmock, adapter.install_cert_manager, "helm-cert-manager",
        {"phase": "Failed", "containerStatuses": [{"state": {"terminated": terminated}}]})
    with pytest.raises(HelmPodError, match="chart not found"):
        await task
    assert "--set" in pod["spec"]["containers"][0]["command"]
    assert "crds.enabled=true" in pod["spec"]["containers"][0]["command"]


def _deployment(conditions: list[dict]) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "flink-kubernetes-operator", "namespace": "flink-operator"},
            "status": {"conditions": conditions}}


AVAILABLE = [{"type": "Available", "status": "True"}, {"type": "Progressing", "status": "True"}]
NOT_YET = [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"}]
FAILED = [{"type": "Available", "status": "False"},
          {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
           "message": "ReplicaSet has timed out progressing"}]
ENDPOINTS = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {
    "name": "flink-operator-webhook-service", "namespace": "flink-operator"},
    "subsets": [{"addresses": [{"ip": "10.0.0.7"}], "ports": [{"port": 9443}]}]}


@pytest.fixture()
def operator_sensor(kmock, kmock_namespaces, aws_cfg, monkeypatch):  # noqa: F811 - fixture
    """The readiness sensor, reaching kmock through an explicit Kubernetes connection
    (``kubernetes_conn_id``: the override for users with their own kubeconfig)."""
    from flink_platform.config import load_config
    from flink_platform.sensors.operator_ready import FlinkOperatorReadySensor

    conn = {"conn_type": "kubernetes", "extra": {"kube_config": kubeconfig(kmock.url)}}
    monkeypatch.setenv("AIRFLOW_CONN_KMOCK_K8S", json.dumps(conn))
    cfg = load_config("aws", overrides={"kubernetes_conn_id": "kmock_k8s"})
    assert cfg.kube_credentials == "connection"
    return FlinkOperatorReadySensor(task_id="ready", config=cfg.model_dump(mode="json"),
                                    poke_interval=0.05, timeout=5)


async def test_readiness_sensor_poke(kmock, operator_sensor):
    def poke():
        return asyncio.to_thread(operator_sensor.poke, {})

    assert await poke() is False  # no Deployment yet
    kmock.objects["apps/v1/deployments", "flink-operator", "flink-kubernetes-operator"] = \
        _deployment(NOT_YET)
    assert await poke() is False
    kmock.objects["apps/v1/deployments", "flink-operator", "flink-kubernetes-operator"] = \
        _deployment(AVAILABLE)
    assert await poke() is False  # Available, but the webhook has no endpoint yet
    kmock.objects["v1/endpoints", "flink-operator", "flink-operator-webhook-service"] = ENDPOINTS
    assert await poke() is True
    kmock.objects["apps/v1/deployments", "flink-operator", "flink-kubernetes-operator"] = \
        _deployment(FAILED)
    with pytest.raises(AirflowFailException,
                       match="ProgressDeadlineExceeded|timed out progressing"):
        await poke()


async def _trigger_events(sensor, timeout_s: float) -> list:
    from flink_platform.triggers.polling import CheckTrigger

    trigger = CheckTrigger(sensor.check_path, sensor.check_kwargs(), 0.05, timeout_s, sensor.what)
    return [event async for event in trigger.run()]


async def test_readiness_trigger_run(kmock, operator_sensor):
    kmock.objects["apps/v1/deployments", "flink-operator", "flink-kubernetes-operator"] = \
        _deployment(NOT_YET)
    [event] = await _trigger_events(operator_sensor, timeout_s=0.3)
    assert event.payload["status"] == "timeout"
    assert "not Available" in event.payload["message"]

    kmock.objects["apps/v1/deployments", "flink-operator", "flink-kubernetes-operator"] = \
        _deployment(AVAILABLE)
    kmock.objects["v1/endpoints", "flink-operator", "flink-operator-webhook-service"] = ENDPOINTS
    [event] = await _trigger_events(operator_sensor, timeout_s=5)
    assert event.payload == {"status": "ready", "message": event.payload["message"], "value": None}

    kmock.objects["apps/v1/deployments", "flink-operator", "flink-kubernetes-operator"] = \
        _deployment(FAILED)
    [event] = await _trigger_events(operator_sensor, timeout_s=5)
    assert event.payload["status"] == "failed"
    with pytest.raises(AirflowFailException, match="timed out progressing"):
        operator_sensor.execute_complete({}, event.payload)


async def test_uninstall_runs_helm_uninstall_pods_then_deletes_namespaces(kmock, adapter):
    await asyncio.to_thread(adapter.apply_base_objects, ROLE_ARN)
    task = asyncio.create_task(asyncio.to_thread(adapter.uninstall))
    commands = []
    for pod_name in ("helm-flink-kubernetes-operator-uninstall", "helm-cert-manager-uninstall"):
        key = (resource("v1/pods"), "flink-operator", pod_name)
        await wait_for(lambda key=key: key in kmock.objects and not kmock.objects[key].deleted,
                       what=f"pod {pod_name}")
        commands.append(kmock.objects[key].raw["spec"]["containers"][0]["command"])
        kmock.objects[key].patch({"status": {"phase": "Succeeded"}})
    result = await task
    assert commands[0][:2] == ["/bin/sh", "-c"]
    assert "helm uninstall flink-kubernetes-operator -n flink-operator" in commands[0][2]
    assert "helm uninstall cert-manager -n cert-manager" in commands[1][2]
    for name in ("flink-operator", "flink-jobs", "cert-manager"):
        assert kmock.objects[resource("v1/namespaces"), None, name].deleted
        assert result[f"Namespace/{name}"] == "deleted"
    # the helm-installer binding goes with the uninstall pods (test_helm_installer.py)
    assert result["helm-installer"]["ClusterRoleBinding/helm-installer-prod-x7k2"] == "deleted"
    again = await asyncio.to_thread(adapter.uninstall)  # nothing left: already gone is success
    assert set(again.values()) == {"already gone"}
