"""EMR on EKS order: namespaces, the ``emr-containers`` RBAC and the EMR service's EKS
access entry exist before the virtual cluster; teardown removes them in reverse."""

from __future__ import annotations

import asyncio

import boto3
import pytest
from botocore.stub import Stubber

from flink_platform.aws.specs import PlatformSpec
from flink_platform.config import load_config
from tests.provision import kube_helpers
from tests.provision.kube_helpers import kubeconfig

kmock_namespaces = kube_helpers.kmock_namespaces  # a fixture: pytest finds it here by name

ACCOUNT = "123456789012"
SLR = f"arn:aws:iam::{ACCOUNT}:role/AWSServiceRoleForAmazonEMRContainers"


@pytest.fixture()
def aws_spec():
    return PlatformSpec(load_config("aws"))


@pytest.fixture()
def stubbed_eks(aws_spec, monkeypatch):
    eks = boto3.client("eks", region_name=aws_spec.cfg.region, aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    monkeypatch.setattr("flink_platform.aws.emr_access.client", lambda cfg, service: eks)
    with Stubber(eks) as stub:
        yield stub
        stub.assert_no_pending_responses()


def test_access_entry_calls(aws_spec, stubbed_eks):
    """moto 5.2.5 implements no EKS access entries (create/describe/delete_access_entry), so
    the exact calls are checked with botocore's Stubber: botocore validates every request
    against the EKS API model, and the test pins the parameters."""
    from flink_platform.aws.emr_access import delete_emr_access, ensure_emr_access

    cluster = aws_spec.names["cluster"]
    entry = {"clusterName": cluster, "principalArn": SLR, "username": "emr-containers",
             "accessEntryArn": f"arn:aws:eks:us-west-2:{ACCOUNT}:access-entry/{cluster}/x"}
    stubbed_eks.add_response("create_access_entry", {"accessEntry": entry}, {
        "clusterName": cluster, "principalArn": SLR, "username": "emr-containers",
        "type": "STANDARD", "tags": aws_spec.tags})
    stubbed_eks.add_client_error("create_access_entry", "ResourceInUseException")
    stubbed_eks.add_response("describe_access_entry", {"accessEntry": entry},
                             {"clusterName": cluster, "principalArn": SLR})
    stubbed_eks.add_response("delete_access_entry", {},
                             {"clusterName": cluster, "principalArn": SLR})
    stubbed_eks.add_client_error("delete_access_entry", "ResourceNotFoundException")

    first = ensure_emr_access(aws_spec, ACCOUNT)
    assert first == {"access_entry_arn": entry["accessEntryArn"], "principal_arn": SLR,
                     "username": "emr-containers"}
    assert ensure_emr_access(aws_spec, ACCOUNT) == first  # exists: found, not changed
    assert delete_emr_access(aws_spec, ACCOUNT) is True
    assert delete_emr_access(aws_spec, ACCOUNT) is False  # already gone is success


def test_access_entry_with_another_username_is_drift(aws_spec, stubbed_eks):
    from flink_platform.aws.clients import ConfigDriftError
    from flink_platform.aws.emr_access import ensure_emr_access

    stubbed_eks.add_client_error("create_access_entry", "ResourceInUseException")
    stubbed_eks.add_response("describe_access_entry", {"accessEntry": {"username": "admin"}})
    with pytest.raises(ConfigDriftError, match="username: exists with 'admin'"):
        ensure_emr_access(aws_spec, ACCOUNT)


def test_local_target_skips_access_entries(spec):
    from flink_platform.aws.emr_access import delete_emr_access, ensure_emr_access

    assert "not applicable" in ensure_emr_access(spec, ACCOUNT)["emr_access"]
    assert delete_emr_access(spec, ACCOUNT) is False


def test_provision_creates_namespace_and_access_before_the_virtual_cluster():
    import platform_provision
    import platform_teardown

    dag = platform_provision.dag
    before_vc = dag.get_task("create_virtual_cluster").get_flat_relative_ids(upstream=True)
    assert {"apply_kubernetes_objects", "ensure_emr_access"} <= before_vc
    assert "ensure_iam" in dag.get_task("apply_kubernetes_objects").get_flat_relative_ids(
        upstream=True)  # the job service account carries the IRSA role

    down = platform_teardown.dag
    assert "delete_virtual_cluster" in down.get_task(
        "delete_emr_access").get_flat_relative_ids(upstream=True)
    assert "delete_emr_access" in down.get_task(
        "uninstall_operator_releases").get_flat_relative_ids(upstream=True)


@pytest.mark.usefixtures("kmock_namespaces")
async def test_emr_containers_rbac_is_applied_with_the_namespaces(kmock):
    from flink_platform.adapters.platform_kubernetes import KubernetesPlatformAdapter
    from flink_platform.kubernetes.client import KubeClient

    kmock["create"] << 201 << (lambda request: request.data)
    cfg = load_config("aws")
    adapter = KubernetesPlatformAdapter(cfg, kube=KubeClient(config_dict=kubeconfig(kmock.url)))
    await asyncio.to_thread(adapter.apply_base_objects, "arn:aws:iam::1:role/job")
    sent = [r.data for r in kmock if getattr(r.method, "value", r.method) == "POST"]
    kinds = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in sent]
    jobs = cfg.namespaces.jobs
    assert kinds.index(("Namespace", None, jobs)) < kinds.index(("Role", jobs, "emr-containers"))
    [role] = [o for o in sent if o["kind"] == "Role" and o["metadata"]["name"] == "emr-containers"]
    [binding] = [o for o in sent if o["kind"] == "RoleBinding"
                 and o["metadata"]["name"] == "emr-containers"]
    assert {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]} in role["rules"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": "emr-containers"}
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                                    "name": "emr-containers"}]
