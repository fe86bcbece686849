"""The ``aws`` target's cluster credentials, Flink REST through the API server's service
proxy, and the restore check read from Flink: moto (EKS, STS signing) + kmock over HTTP.

moto (its own process) creates the cluster and answers ``describe_cluster`` with an
endpoint and a CA; the endpoint is a made-up ``https://<id>.gr7...eks.amazonaws.com``
nothing serves. The one seam: ``EksKubeHook.cluster_access`` is wrapped so the endpoint
moto described is replaced by kmock's URL; the CA and everything else are moto's. Every
client signs its EKS token when the task builds it; kmock records each request's
Authorization header and the test checks the token's SigV4 signature (eks_helpers).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt

import boto3
import kmock as kmock_lib
import pytest
from airflow.sdk.exceptions import AirflowFailException

from flink_platform.config import load_config
from tests.deploy.eks_helpers import CLUSTER, SECRET, assert_eks_token

FD = kmock_lib.resource("flink.apache.org", "v1beta1", "flinkdeployments")
NS, JOB = "flink-jobs", "fraud-detection"
PROXY = f"/api/v1/namespaces/{NS}/services/{JOB}-rest:rest/proxy"
SAVEPOINT_A = "s3://flink-platform-state-prod-x7k2/savepoints/fraud-detection/savepoint-A"
SAVEPOINT_B = "s3://flink-platform-state-prod-x7k2/savepoints/fraud-detection/savepoint-B"
T0 = dt.datetime(2026, 1, 1, 12, 0, 0)


@pytest.fixture()
def aws_cfg():
    cfg = load_config("aws")
    assert cfg.kube_credentials == "eks"  # the default: no Kubernetes connection configured
    return cfg


@pytest.fixture()
def sign_clock(monkeypatch):
    """The clock botocore signs with (``X-Amz-Date``): ``sign_clock[0]``, set by the test."""
    import botocore.auth

    now = [T0]
    monkeypatch.setattr(botocore.auth, "get_current_datetime",
                        lambda remove_tzinfo=True: now[0])
    return now


@pytest.fixture()
def eks_cluster(clean_moto, aws_cfg, kmock, monkeypatch):
    """The cluster created in moto; returns moto's describe_cluster answer."""
    from flink_platform.hooks.eks_kube import EksKubeHook

    eks = boto3.client("eks", endpoint_url=clean_moto, region_name=aws_cfg.region,
                       aws_access_key_id="testing", aws_secret_access_key=SECRET)
    eks.create_cluster(name=CLUSTER, roleArn="arn:aws:iam::123456789012:role/eks-cluster",
                       resourcesVpcConfig={"subnetIds": []})
    described = eks.describe_cluster(name=CLUSTER)["cluster"]
    real = EksKubeHook.cluster_access

    def at_kmock(self):
        return dataclasses.replace(real(self), endpoint=str(kmock.url).rstrip("/"))

    monkeypatch.setattr(EksKubeHook, "cluster_access", at_kmock)
    return described


def _flink_resources(kmock) -> None:
    verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
    kmock.resources["flink.apache.org/v1beta1/flinkdeployments"] = kmock.ResourceInfo(
        namespaced=True, kind="FlinkDeployment", singular="flinkdeployment", verbs=verbs,
        subresources=["status"])


def _deployed(kmock, cfg, job_id: str) -> None:
    """A FlinkDeployment whose spec asked for savepoint A, running Flink job ``job_id``."""
    from flink_platform.manifests import example_data_plane, render_flink_deployment

    body = render_flink_deployment(cfg, JOB, None, example_data_plane(cfg))
    body["spec"]["job"]["initialSavepointPath"] = SAVEPOINT_A
    kmock.objects[FD, NS, JOB] = {**body, "status": {
        "lifecycleState": "STABLE", "jobStatus": {"jobId": job_id, "state": "RUNNING"}}}


async def test_every_kubernetes_client_gets_endpoint_ca_and_token_from_eks(
        kmock, eks_cluster, aws_cfg, sign_clock, clean_moto):
    from flink_platform.adapters.kubernetes_flink import KubernetesFlinkAdapter
    from flink_platform.adapters.platform_kubernetes import KubernetesPlatformAdapter
    from flink_platform.kubernetes.client import KubeClient

    _flink_resources(kmock)
    kube = KubeClient.for_config(aws_cfg)
    await asyncio.to_thread(kube.get, "ServiceAccount", NS, "flink")
    flink = KubernetesFlinkAdapter(aws_cfg)
    await asyncio.to_thread(flink.status, JOB)
    platform = KubernetesPlatformAdapter(aws_cfg)
    await asyncio.to_thread(platform.readiness)

    paths = [r.url.path for r in kmock]
    assert paths == [
        f"/api/v1/namespaces/{NS}/serviceaccounts/flink",
        f"/apis/flink.apache.org/v1beta1/namespaces/{NS}/flinkdeployments/{JOB}",
        "/apis/apps/v1/namespaces/flink-operator/deployments/flink-kubernetes-operator"]
    for request in kmock:
        assert_eks_token(request.headers.get("Authorization"), clean_moto, T0)
    ca = base64.b64decode(eks_cluster["certificateAuthority"]["data"])
    for api in (kube.api, flink.hook.api_client, platform.kube.api):
        assert api.configuration.host == str(kmock.url).rstrip("/")
        assert api.configuration.ssl_ca_cert is None  # no CA file on disk
        assert api.rest_client.pool_manager.connection_pool_kw["ca_cert_data"] == ca


async def test_each_task_signs_its_own_token_and_a_long_task_re_signs(
        kmock, eks_cluster, aws_cfg, sign_clock, clean_moto):
    from flink_platform.adapters.kubernetes_flink import KubernetesFlinkAdapter
    from flink_platform.hooks.eks_kube import EksKubeHook
    from flink_platform.kubernetes.client import KubeClient

    _flink_resources(kmock)
    first = KubernetesFlinkAdapter(aws_cfg)  # one task ...
    await asyncio.to_thread(first.status, JOB)
    later = T0 + dt.timedelta(minutes=20)  # ... and one 20 minutes later
    sign_clock[0] = later
    second = KubernetesFlinkAdapter(aws_cfg)
    await asyncio.to_thread(second.status, JOB)
    one, two = (r.headers["Authorization"] for r in kmock)
    assert_eks_token(one, clean_moto, T0)
    assert_eks_token(two, clean_moto, later)

    # Within one task the client signs a new token once the old one is 10 minutes old.
    sign_clock[0] = T0
    hook = EksKubeHook(CLUSTER, aws_conn_id=aws_cfg.aws_conn_id, region_name=aws_cfg.region,
                       clock=lambda: sign_clock[0].timestamp())
    kube = KubeClient(api_client=hook.api_client())
    for minutes in (0, 9, 11):
        sign_clock[0] = T0 + dt.timedelta(minutes=minutes)
        await asyncio.to_thread(kube.get, "ServiceAccount", NS, "flink")
    tokens = [r.headers["Authorization"] for r in list(kmock)[2:]]
    assert tokens[0] == tokens[1]
    assert_eks_token(tokens[1], clean_moto, T0)
    assert_eks_token(tokens[2], clean_moto, T0 + dt.timedelta(minutes=11))


async def test_in_memory_kubeconfig_for_the_cncf_hook(
        kmock, eks_cluster, aws_cfg, sign_clock, clean_moto):
    """``kube_config_dict()``: the same endpoint, CA and token as a kubeconfig dict for
    ``KubernetesHook(config_dict=...)`` (never written out by us)."""
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook

    from flink_platform.hooks.eks_kube import EksKubeHook

    hook = EksKubeHook(CLUSTER, aws_conn_id=aws_cfg.aws_conn_id, region_name=aws_cfg.region)
    config = hook.kube_config_dict(hook.cluster_access())
    [cluster] = config["clusters"]
    assert cluster["cluster"] == {"server": str(kmock.url).rstrip("/"),
                                  "certificate-authority-data":
                                      eks_cluster["certificateAuthority"]["data"]}
    kmock.objects["v1/pods", NS, "tm-1"] = _pod("tm-1", JOB, "taskmanager")
    kube = KubernetesHook(config_dict=config)
    pods = await asyncio.to_thread(kube.core_v1_client.list_namespaced_pod, NS)
    assert [p.metadata.name for p in pods.items] == ["tm-1"]
    [request] = list(kmock)
    assert_eks_token(request.headers.get("Authorization"), clean_moto, T0)


OVERVIEW = {"jobs": [{"jid": "j1", "name": JOB, "state": "RUNNING", "start-time": 5},
                     {"jid": "j0", "name": JOB, "state": "CANCELED", "start-time": 1}]}
CHECKPOINTS = {"counts": {"completed": 3, "failed": 0},
               "latest": {"completed": {"external_path": "s3://b/checkpoints/chk-3"},
                          "restored": {"external_path": SAVEPOINT_A}}}
SOURCE_METRIC = "Source__trades_raw_source.numRecordsIn"


async def test_flink_rest_and_metrics_through_the_api_server_proxy(
        kmock, eks_cluster, aws_cfg, sign_clock, clean_moto):
    from flink_platform.adapters.kubernetes_flink import KubernetesFlinkAdapter
    from flink_platform.loadtest.sampler import source_records

    kmock[f"get {PROXY}/jobs/overview"] << OVERVIEW
    kmock[f"get {PROXY}/jobs/j1/checkpoints"] << CHECKPOINTS
    kmock[f"get {PROXY}/jobs/j1"] << {"state": "RUNNING", "vertices": [{"id": "v1"}]}
    kmock[f"get {PROXY}/jobs/j1/vertices/v1/subtasks/metrics"] << [
        {"id": SOURCE_METRIC, "sum": "42"}]
    adapter = KubernetesFlinkAdapter(aws_cfg)
    url = adapter.metrics_endpoint(JOB)
    assert url == f"{str(kmock.url).rstrip('/')}{PROXY}"

    rest = adapter.rest(JOB)
    assert await asyncio.to_thread(rest.running_job_id, JOB) == "j1"
    assert await asyncio.to_thread(rest.completed_checkpoints, "j1") == 3
    assert await asyncio.to_thread(rest.latest_checkpoint, "j1") == "s3://b/checkpoints/chk-3"
    # the load test's sampler, on the URL and session the runner gives it
    counts = await asyncio.to_thread(source_records, url, "j1", adapter.rest_session())
    assert counts == {"trades": 42.0}

    seen = [(r.url.path.removeprefix(PROXY), dict(r.url.query)) for r in kmock]
    assert seen == [
        ("/jobs/overview", {}), ("/jobs/j1/checkpoints", {}), ("/jobs/j1/checkpoints", {}),
        ("/jobs/j1", {}), ("/jobs/j1/vertices/v1/subtasks/metrics", {}),
        ("/jobs/j1/vertices/v1/subtasks/metrics", {"get": SOURCE_METRIC, "agg": "sum"})]
    for request in kmock:
        assert_eks_token(request.headers.get("Authorization"), clean_moto, T0)


def _pod(name: str, app: str, component: str, phase: str = "Running") -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "namespace": NS, "labels": {
            "app": app, "component": component, "type": "flink-native-kubernetes"}},
        "status": {"phase": phase}}


PROM_TEXT = ('flink_taskmanager_job_task_numRecordsOut{job_id="j1",task_id="v1",'
             'subtask_index="0",} 7.0\n')


async def test_taskmanager_prometheus_through_the_pod_proxy(
        kmock, eks_cluster, aws_cfg, sign_clock, clean_moto):
    from flink_platform.adapters.kubernetes_flink import KubernetesFlinkAdapter
    from flink_platform.loadtest.sampler import prometheus_task_metrics

    for pod in (_pod(f"{JOB}-taskmanager-1-1", JOB, "taskmanager"),
                _pod(f"{JOB}-taskmanager-1-2", JOB, "taskmanager", phase="Pending"),
                _pod(f"{JOB}-7d9f-abcde", JOB, "jobmanager"),
                _pod("risk-analytics-taskmanager-1-1", "risk-analytics", "taskmanager")):
        kmock.objects["v1/pods", NS, pod["metadata"]["name"]] = pod
    pod_proxy = f"/api/v1/namespaces/{NS}/pods/{JOB}-taskmanager-1-1:9249/proxy"
    kmock[f"get {pod_proxy}/metrics"] << PROM_TEXT.encode()
    adapter = KubernetesFlinkAdapter(aws_cfg)
    urls = await asyncio.to_thread(adapter.prometheus_urls, JOB)
    assert urls == [f"{str(kmock.url).rstrip('/')}{pod_proxy}/metrics"]
    metrics = await asyncio.to_thread(prometheus_task_metrics, urls, adapter.rest_session())
    assert metrics == {("j1", "v1"): {"numRecordsOut": 7.0}}
    listed, scraped = list(kmock)
    assert listed.url.path == f"/api/v1/namespaces/{NS}/pods"
    assert dict(listed.url.query) == {"labelSelector": f"app={JOB},component=taskmanager"}
    assert scraped.url.path == f"{pod_proxy}/metrics"
    for request in (listed, scraped):
        assert_eks_token(request.headers.get("Authorization"), clean_moto, T0)


class _TaskInstance:
    """The two XCom calls the verify task makes (it runs outside a DAG run here)."""

    def __init__(self) -> None:
        self.pushed: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value


@pytest.mark.parametrize("restored", [SAVEPOINT_B, None])
async def test_verify_restored_fails_when_flink_restored_from_elsewhere(
        kmock, eks_cluster, aws_cfg, sign_clock, clean_moto, monkeypatch,
        restored):
    """The spec says savepoint A; Flink's checkpoint statistics say B (or nothing)."""
    from flink_savepoint_upgrade import verify_restored

    _flink_resources(kmock)
    _deployed(kmock, aws_cfg, job_id="j2")
    latest = {"restored": {"external_path": restored} if restored else None}
    kmock[f"get {PROXY}/jobs/j2/checkpoints"] << {"counts": {"restored": 1}, "latest": latest}
    monkeypatch.setenv("FLINK_PLATFORM_TARGET", "aws")
    ti = _TaskInstance()
    with pytest.raises(AirflowFailException) as err:
        await asyncio.to_thread(verify_restored.function, JOB, {"savepoint": SAVEPOINT_A},
                                params={}, ti=ti)
    assert str(err.value) == f"{JOB} did not restore from {SAVEPOINT_A} (restored from {restored})"
    assert ti.pushed == {"failure_reason": str(err.value)}
    assert f"{PROXY}/jobs/j2/checkpoints" in [r.url.path for r in kmock]


async def test_verify_restored_passes_when_flink_restored_from_the_savepoint(
        kmock, eks_cluster, aws_cfg, sign_clock, clean_moto, monkeypatch):
    from flink_savepoint_upgrade import verify_restored

    _flink_resources(kmock)
    _deployed(kmock, aws_cfg, job_id="j2")
    kmock[f"get {PROXY}/jobs/j2/checkpoints"] << CHECKPOINTS
    monkeypatch.setenv("FLINK_PLATFORM_TARGET", "aws")
    result = await asyncio.to_thread(verify_restored.function, JOB, {"savepoint": SAVEPOINT_A},
                                     params={}, ti=_TaskInstance())
    assert result == {"savepoint": SAVEPOINT_A, "restored_from": SAVEPOINT_A}
