"""Least privilege: the cluster-admin ``helm-installer`` account exists only while Helm pods
run. After provision's Kubernetes steps it is gone; teardown's uninstall brings it back for
its Helm pods and removes it again (kmock over HTTP)."""

from __future__ import annotations

import asyncio

import pytest
from kmock import resource

from tests.provision.kube_helpers import kmock_namespaces, kubeconfig, wait_for  # noqa: F401
from tests.provision.test_kubernetes_aws import ROLE_ARN

SA = (resource("v1/serviceaccounts"), "flink-operator", "helm-installer")
CRB = (resource("rbac.authorization.k8s.io/v1/clusterrolebindings"), None,
       "helm-installer-prod-x7k2")


@pytest.fixture()
def adapter(kmock, kmock_namespaces):  # noqa: F811 - fixture
    from flink_platform.adapters.platform_kubernetes import KubernetesPlatformAdapter
    from flink_platform.config import load_config
    from flink_platform.kubernetes.client import KubeClient

    kmock["create"] << 201 << (lambda request: request.data)
    kube = KubeClient(config_dict=kubeconfig(kmock.url))
    return KubernetesPlatformAdapter(load_config("aws"), kube=kube, helm_poll_s=0.02)


def _present(kmock, key) -> bool:
    return key in kmock.objects and not kmock.objects[key].deleted


async def _helm_pod_succeeds(kmock, pod_name: str) -> None:
    key = (resource("v1/pods"), "flink-operator", pod_name)
    await wait_for(lambda: _present(kmock, key), what=f"pod {pod_name}")
    assert _present(kmock, SA) and _present(kmock, CRB)  # the pod runs with its account
    kmock.objects[key].patch({"status": {"phase": "Succeeded"}})


async def test_provision_leaves_no_helm_installer(kmock, adapter):
    await asyncio.to_thread(adapter.apply_base_objects, ROLE_ARN)
    assert _present(kmock, SA) and _present(kmock, CRB)
    for start, pod in ((adapter.install_cert_manager, "helm-cert-manager"),
                       (lambda: adapter.install_operator(ROLE_ARN),
                        "helm-flink-kubernetes-operator")):
        task = asyncio.create_task(asyncio.to_thread(start))
        await _helm_pod_succeeds(kmock, pod)
        await task
    removed = await asyncio.to_thread(adapter.remove_helm_installer)
    assert removed["removed"] == {"ClusterRoleBinding/helm-installer-prod-x7k2": "deleted",
                                  "ServiceAccount/helm-installer": "deleted"}
    assert not _present(kmock, SA) and not _present(kmock, CRB)
    again = await asyncio.to_thread(adapter.remove_helm_installer)  # idempotent
    assert set(again["removed"].values()) == {"already gone"}


async def test_teardown_uninstall_recreates_it_for_helm_then_removes_it(kmock, adapter):
    await asyncio.to_thread(adapter.apply_base_objects, ROLE_ARN)
    await asyncio.to_thread(adapter.remove_helm_installer)
    task = asyncio.create_task(asyncio.to_thread(adapter.uninstall))
    for pod in ("helm-flink-kubernetes-operator-uninstall", "helm-cert-manager-uninstall"):
        await _helm_pod_succeeds(kmock, pod)
    done = await task
    assert done["flink-kubernetes-operator"] == done["cert-manager"] == "Succeeded"
    assert not _present(kmock, SA) and not _present(kmock, CRB)


def test_provision_dag_removes_it_after_the_operator_install():
    from airflow.dag_processing.dagbag import DagBag

    from flink_platform.config import PROJECT_ROOT

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags" / "platform_provision.py"))
    assert not bag.import_errors, bag.import_errors
    dag = bag.dags["platform_provision"]
    task = dag.get_task("remove_helm_installer")
    upstream = task.get_flat_relative_ids(upstream=True)
    # after every helm install (the operator, then the monitoring stack), before the news
    assert {"install_flink_operator", "install_monitoring"} <= upstream
    assert "notify_provisioned" in task.downstream_task_ids
