"""Kubernetes adapter against kmock over HTTP (KubernetesHook -> kubeconfig -> kmock).

kmock is the Kubernetes API here (nothing real can run an operator in the test); the
adapter is synchronous, so each call runs in a thread while kmock serves on the loop.
"""

from __future__ import annotations

import asyncio
import json

import kmock
import pytest
import yaml

from flink_platform.adapters.k8s_status import interpret
from flink_platform.adapters.kubernetes_flink import KubernetesFlinkAdapter, snapshot_body
from flink_platform.config import load_config
from flink_platform.manifests import (
    example_data_plane,
    render_flink_deployment,
    validate_flink_deployment,
)

FD = kmock.resource("flink.apache.org", "v1beta1", "flinkdeployments")
SNAP = kmock.resource("flink.apache.org", "v1beta1", "flinkstatesnapshots")
NS = "flink-jobs"


@pytest.fixture()
def k8s_cfg(kmock, tmp_path, monkeypatch):
    """aws config whose kubernetes connection is a kubeconfig pointing at kmock."""
    kubeconfig = {
        "apiVersion": "v1", "kind": "Config", "current-context": "kmock",
        "clusters": [{"name": "kmock", "cluster": {"server": str(kmock.url).rstrip("/")}}],
        "users": [{"name": "kmock", "user": {"token": "dummy-not-a-secret"}}],
        "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "kmock"}}],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    monkeypatch.setenv("AIRFLOW_CONN_KMOCK_K8S", json.dumps(
        {"conn_type": "kubernetes", "extra": {"kube_config_path": str(path)}}))
    verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
    for plural, kind in (("flinkdeployments", "FlinkDeployment"),
                         ("flinkstatesnapshots", "FlinkStateSnapshot")):
        kmock.resources[f"flink.apache.org/v1beta1/{plural}"] = kmock.ResourceInfo(
            namespaced=True, kind=kind, singular=kind.lower(), verbs=verbs,
            subresources=["status"])
    # kmock answers create with 200 and no body; the API server says 201 with the object.
    kmock["post", FD] << 201 << (lambda request: request.data)
    kmock["post", SNAP] << 201 << (lambda request: request.data)
    return load_config("aws", overrides={"kubernetes_conn_id": "kmock_k8s"})


def _adapter(cfg) -> KubernetesFlinkAdapter:
    """On the data plane provision would publish (account 123456789012)."""
    return KubernetesFlinkAdapter(cfg, poll_s=0.05, data_plane=example_data_plane(cfg))


def _posts(handler, resource):
    return list(handler["post", resource])


def _patches(handler):
    return list(handler["patch"])


async def test_create_then_patch_bodies(kmock, k8s_cfg):
    adapter = _adapter(k8s_cfg)
    st = await asyncio.to_thread(adapter.apply, "fraud-detection")
    created = _posts(kmock, FD)
    assert len(created) == 1
    assert created[0].data == render_flink_deployment(k8s_cfg, "fraud-detection")
    assert created[0].url.path == f"/apis/flink.apache.org/v1beta1/namespaces/{NS}/flinkdeployments"
    assert validate_flink_deployment(created[0].data) == []
    assert st.lifecycle_state == "CREATED"

    # Same spec again: idempotent, no patch.
    await asyncio.to_thread(adapter.apply, "fraud-detection")
    assert not _patches(kmock)

    # New version and a rule threshold: one merge patch with the new spec and label.
    await asyncio.to_thread(adapter.apply, "fraud-detection",
                            {"version": "1.1.0", "args": {"velocity_max_count": "7"}})
    patches = _patches(kmock)
    assert len(patches) == 1
    body = patches[0].data
    assert patches[0].headers["Content-Type"] == "application/merge-patch+json"
    assert body["metadata"] == {"labels": render_flink_deployment(
        k8s_cfg, "fraud-detection", {"version": "1.1.0"})["metadata"]["labels"]}
    args = body["spec"]["job"]["args"]
    assert args[args.index("--version") + 1] == "1.1.0"
    assert args[-2:] == ["--set", "velocity_max_count=7"]
    assert body["spec"]["job"]["upgradeMode"] == "savepoint"


async def test_upgrade_sets_savepoint_and_redeploy_nonce(kmock, k8s_cfg):
    adapter = _adapter(k8s_cfg)
    await asyncio.to_thread(adapter.apply, "fraud-detection")
    sp = "s3://flink-platform-state-prod-x7k2/savepoints/fraud-detection/savepoint-1"
    await asyncio.to_thread(adapter.upgrade, "fraud-detection", {"version": "2.0.0"}, sp)
    job = _patches(kmock)[-1].data["spec"]["job"]
    assert job["initialSavepointPath"] == sp
    assert job["savepointRedeployNonce"] == 1


async def test_savepoint_through_flinkstatesnapshot(kmock, k8s_cfg):
    adapter = _adapter(k8s_cfg)
    await asyncio.to_thread(adapter.apply, "fraud-detection")
    ref = await asyncio.to_thread(adapter.start_savepoint, "fraud-detection")
    assert ref.startswith("snapshot:")
    name = ref.split(":", 1)[1]
    [post] = _posts(kmock, SNAP)
    assert post.data == snapshot_body(NS, name, "fraud-detection", "fraud-detection")
    assert await asyncio.to_thread(adapter.savepoint_result, "fraud-detection", ref) is None
    path = "s3://bucket/savepoints/fraud-detection/savepoint-abc"
    kmock.objects[SNAP, NS, name] = {**post.data, "status": {
        "state": "COMPLETED", "path": path, "resultTimestamp": "2026-01-01T00:00:00Z"}}
    assert await asyncio.to_thread(adapter.savepoint_result, "fraud-detection", ref) == path
    kmock.objects[SNAP, NS, name] = {**post.data, "status": {"state": "FAILED", "error": "boom"}}
    with pytest.raises(RuntimeError, match="FAILED: boom"):
        await asyncio.to_thread(adapter.savepoint_result, "fraud-detection", ref)


async def test_savepoint_nonce_on_old_operator(kmock, k8s_cfg):
    cfg = load_config("aws", overrides={"kubernetes_conn_id": "kmock_k8s",
                                        "operator.version": "1.8.0",
                                        "operator.distribution": "emr"})
    adapter = _adapter(cfg)
    await asyncio.to_thread(adapter.apply, "fraud-detection")
    ref = await asyncio.to_thread(adapter.start_savepoint, "fraud-detection")
    assert ref == "nonce:1"
    patch = _patches(kmock)[-1]
    assert patch.data == {"spec": {"job": {"savepointTriggerNonce": 1}}}
    assert not _posts(kmock, SNAP)
    created = _posts(kmock, FD)[0].data
    assert created["spec"]["emrReleaseLabel"] == cfg.operator.emr_release_label
    assert created["spec"]["executionRoleArn"].startswith("arn:aws:iam::123456789012:role/")
    kmock.objects[FD, NS, "fraud-detection"] = {**created, "status": {"jobStatus": {
        "state": "RUNNING", "savepointInfo": {"lastSavepoint": {
            "location": "s3://b/sp-1", "triggerNonce": 1, "timeStamp": 1}}}}}
    assert await asyncio.to_thread(adapter.savepoint_result, "fraud-detection", ref) == "s3://b/sp-1"


ERROR = json.dumps({
    "type": "org.apache.flink.kubernetes.operator.exception.ReconciliationException",
    "message": "org.apache.flink.client.deployment.ClusterDeploymentException: Could not create",
    "throwableList": [{"type": "java.lang.ClassNotFoundException", "message": "bogus"}],
})


@pytest.mark.parametrize("lifecycle, job_state, error, ready", [
    ("CREATED", None, None, False),
    ("DEPLOYED", "RUNNING", None, False),
    ("STABLE", "RUNNING", None, True),
    ("STABLE", "RESTARTING", None, False),
    ("UPGRADING", "CANCELLING", None, False),
    ("ROLLING_BACK", "RUNNING", ERROR, False),
    ("ROLLED_BACK", "RUNNING", ERROR, False),
    ("FAILED", "FAILED", ERROR, False),
    ("SUSPENDED", "FINISHED", None, False),
])
async def test_status_interpretation(kmock, k8s_cfg, lifecycle, job_state, error, ready):
    body = render_flink_deployment(k8s_cfg, "fraud-detection")
    status = {"lifecycleState": lifecycle, "jobManagerDeploymentStatus": "READY",
              "jobStatus": {"state": job_state, "jobId": "abc123",
                            "savepointInfo": {"lastSavepoint": {"location": "s3://b/sp"}}}}
    if error:
        status["error"] = error
    if job_state is None:
        del status["jobStatus"]["state"]
    obj = {**body, "status": status}
    assert validate_flink_deployment(obj) == []
    kmock.objects[FD, NS, "fraud-detection"] = obj
    st = await asyncio.to_thread(_adapter(k8s_cfg).status, "fraud-detection")
    assert (st.lifecycle_state, st.job_state, st.job_id) == (lifecycle, job_state, "abc123")
    assert st.ready is ready
    assert st.version == "1.0.0" and st.last_savepoint == "s3://b/sp"
    if error:
        assert st.error == ("ReconciliationException: org.apache.flink.client.deployment."
                            "ClusterDeploymentException: Could not create\n"
                            "caused by ClassNotFoundException: bogus")


def test_status_without_status_is_created():
    assert interpret("x", {"metadata": {"name": "x"}}).lifecycle_state == "CREATED"


async def test_missing_and_delete(kmock, k8s_cfg):
    adapter = _adapter(k8s_cfg)
    assert (await asyncio.to_thread(adapter.status, "fraud-detection")).lifecycle_state == "MISSING"
    await asyncio.to_thread(adapter.delete, "fraud-detection")  # already gone: fine


async def test_apply_without_a_data_plane_names_the_fix(kmock, k8s_cfg):
    from flink_platform.job_launch import LaunchError

    adapter = KubernetesFlinkAdapter(k8s_cfg, poll_s=0.05)
    with pytest.raises(LaunchError, match="platform_provision"):
        await asyncio.to_thread(adapter.apply, "fraud-detection")
    assert not _posts(kmock, FD)


async def test_dispose_deletes_the_objects_in_s3_and_the_snapshot(kmock, k8s_cfg, clean_moto):
    """Savepoints are listed and disposed in S3 (the same SavepointStore as on local); the
    FlinkStateSnapshot naming a disposed savepoint goes too."""
    import boto3

    adapter = _adapter(k8s_cfg)
    bucket = adapter.store.bucket
    s3 = boto3.client("s3", endpoint_url=clean_moto, region_name=k8s_cfg.region,
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={
        "LocationConstraint": k8s_cfg.region})
    path = f"s3://{bucket}/savepoints/fraud-detection/savepoint-abc"
    s3.put_object(Bucket=bucket, Key="savepoints/fraud-detection/savepoint-abc/_metadata",
                  Body=b"m")
    name = "fraud-detection-sp-1"
    kmock.objects[SNAP, NS, name] = {
        **snapshot_body(NS, name, "fraud-detection", "fraud-detection"),
        "status": {"state": "COMPLETED", "path": path}}
    assert await asyncio.to_thread(adapter.list_savepoints, "fraud-detection") == [path]
    await asyncio.to_thread(adapter.dispose_savepoint, "fraud-detection", path)
    assert await asyncio.to_thread(adapter.list_savepoints, "fraud-detection") == []
    deletes = list(kmock["delete", SNAP])
    assert [d.url.path.rsplit("/", 1)[-1] for d in deletes] == [name]


async def test_flink_rest_through_the_proxy_with_the_connection_credentials(kmock, k8s_cfg):
    """``kubernetes_conn_id`` set (the user's own kubeconfig): the REST API goes through the
    API server's service proxy with that kubeconfig's token."""
    proxy = f"/api/v1/namespaces/{NS}/services/fraud-detection-rest:rest/proxy"
    kmock[f"get {proxy}/jobs/overview"] << {"jobs": [
        {"jid": "j1", "name": "fraud-detection", "state": "RUNNING", "start-time": 1}]}
    assert k8s_cfg.kube_credentials == "connection"
    adapter = _adapter(k8s_cfg)
    assert adapter.metrics_endpoint("fraud-detection") == f"{str(kmock.url).rstrip('/')}{proxy}"
    rest = adapter.rest("fraud-detection")
    assert await asyncio.to_thread(rest.running_job_id, "fraud-detection") == "j1"
    [request] = list(kmock)
    assert request.url.path == f"{proxy}/jobs/overview"
    assert request.headers["Authorization"] == "Bearer dummy-not-a-secret"


async def test_prometheus_query_range_through_the_service_proxy(kmock, k8s_cfg):
    """The load test's time series: kube-prometheus-stack's Prometheus through the API
    server's service proxy, with the connection's token; the step is the PodMonitor's."""
    from flink_platform.loadtest.prometheus_series import PrometheusRange

    proxy = ("/api/v1/namespaces/monitoring/services/kube-prometheus-stack-prometheus:http-web"
             "/proxy")
    kmock[f"get {proxy}/api/v1/query_range"] << {"status": "success", "data": {
        "resultType": "matrix", "result": [{"metric": {}, "values": [[100, "1.5"]]}]}}
    adapter = _adapter(k8s_cfg)
    server = adapter.prometheus_server()
    assert server == {"url": f"{str(kmock.url).rstrip('/')}{proxy}", "scrape_interval_s": 15.0}
    prom = PrometheusRange(server["url"], adapter.rest_session())
    points = await asyncio.to_thread(prom.query, "up", 90, 110, server["scrape_interval_s"])
    assert points == [[100.0, 1.5]]
    [request] = list(kmock)
    assert request.url.path == f"{proxy}/api/v1/query_range"
    assert request.params["step"] == "15" and request.params["query"] == "up"
    assert request.headers["Authorization"] == "Bearer dummy-not-a-secret"
