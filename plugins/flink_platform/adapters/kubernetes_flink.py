"""aws target: the FlinkDeployment lifecycle through the Flink Kubernetes Operator's CRs.

Custom objects go through the cncf provider's ``KubernetesHook`` on this task's
credentials (:func:`flink_platform.hooks.kube_access.kube_access`: a fresh EKS token, or the
``kubernetes_conn_id`` connection when configured); the JobManager's REST API through the
API server's service proxy with the same credentials. Savepoints use a
FlinkStateSnapshot resource when the operator serves it (>= 1.10, detected by API
discovery; the EMR build may be older) and ``spec.job.savepointTriggerNonce`` otherwise.
Upgrades restore from an explicit savepoint via ``initialSavepointPath`` +
``savepointRedeployNonce``; rollback re-applies ``status.reconciliationStatus.lastStableSpec``.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from flink_platform.adapters.base import FlinkDeploymentAdapter, FlinkJobStatus
from flink_platform.adapters.k8s_status import interpret, parse_error, snapshot_result
from flink_platform.config import PlatformConfig
from flink_platform.data_plane import DataPlane
from flink_platform.hooks.kube_access import REST_PORT_NAME
from flink_platform.job_launch import LaunchError
from flink_platform.manifests import GROUP, VERSION, deployment_name, render_flink_deployment
from flink_platform.savepoints import SavepointStore

if TYPE_CHECKING:
    from flink_platform.hooks.flink_rest import FlinkRestHook
    from flink_platform.hooks.kube_access import KubeAccess

PLURAL, SNAPSHOTS = "flinkdeployments", "flinkstatesnapshots"
JOB_LABEL = "flink-platform/job"


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".")[:3] if p.isdigit())


class KubernetesFlinkAdapter(FlinkDeploymentAdapter):
    """FlinkDeployment / FlinkStateSnapshot custom resources in ``cfg.namespaces.jobs``."""

    def __init__(self, cfg: PlatformConfig, hook: Any = None, poll_s: float = 2.0,
                 data_plane: DataPlane | None = None, store: SavepointStore | None = None,
                 access: KubeAccess | None = None) -> None:
        self.cfg = cfg
        self.namespace = cfg.namespaces.jobs
        self._hook = hook
        self._access = access
        self.poll_s = poll_s
        self._snapshots: bool | None = None
        self.data_plane = data_plane
        self.store = store or SavepointStore(cfg)

    def _render(self, job: str, overrides: dict[str, Any] | None) -> dict[str, Any]:
        if self.data_plane is None:
            raise LaunchError(f"{job}: no data plane (stream ARNs, bucket) to deploy on: deploy "
                              "through flink_deploy after platform_provision")
        return render_flink_deployment(self.cfg, job, overrides, self.data_plane)

    # -- plumbing ----------------------------------------------------------------------
    @property
    def access(self) -> KubeAccess:
        """This adapter's cluster credentials, built once (one adapter per task)."""
        if self._access is None:
            from flink_platform.hooks.kube_access import kube_access

            self._access = kube_access(self.cfg)
        return self._access

    @property
    def hook(self):
        if self._hook is None:
            self._hook = self.access.kubernetes_hook()
        return self._hook

    @property
    def api(self):
        return self.hook.custom_object_client

    def _get(self, job: str) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        try:
            return self.api.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, deployment_name(self.cfg, job))
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    def _patch(self, job: str, body: dict[str, Any], plural: str = PLURAL) -> dict[str, Any]:
        return self.api.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, plural, deployment_name(self.cfg, job), body)

    def supports_snapshots(self) -> bool:
        """FlinkStateSnapshot served (operator >= 1.10 with snapshot resources enabled)?"""
        if self._snapshots is None:
            if _version_tuple(self.cfg.operator.version) < (1, 10):
                self._snapshots = False
            else:
                resources = self.api.get_api_resources(GROUP, VERSION)
                names = [r.name if hasattr(r, "name") else r["name"]
                         for r in (getattr(resources, "resources", None) or resources["resources"])]
                self._snapshots = SNAPSHOTS in names
        return self._snapshots

    def _wait(self, job: str, done, what: str, timeout_s: float) -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            result = done(self._get(job))
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{what} of {job} not done within {timeout_s:.0f}s")
            time.sleep(self.poll_s)

    # -- interface ----------------------------------------------------------------------
    def apply(self, job: str, overrides: dict[str, Any] | None = None) -> FlinkJobStatus:
        body = self._render(job, overrides)
        current = self._get(job)
        if current is None:
            obj = self.hook.create_custom_object(GROUP, VERSION, PLURAL, body, self.namespace)
            return interpret(job, obj)
        patch = _spec_patch(current, body)
        if patch is None:
            return interpret(job, current)  # idempotent: nothing changed
        return interpret(job, self._patch(job, patch))

    def status(self, job: str) -> FlinkJobStatus:
        obj = self._get(job)
        return interpret(job, obj) if obj else FlinkJobStatus(name=job)

    def upgrade(self, job: str, overrides: dict[str, Any], from_savepoint: str) -> FlinkJobStatus:
        body = self._render(job, overrides)
        current = self._get(job) or {}
        body["spec"]["job"]["initialSavepointPath"] = from_savepoint
        if current:
            body["spec"]["job"]["savepointRedeployNonce"] = _nonce(current,
                                                                   "savepointRedeployNonce")
            return interpret(job, self._patch(job, _spec_patch(current, body) or {}))
        return interpret(job, self.hook.create_custom_object(GROUP, VERSION, PLURAL, body,
                                                             self.namespace))

    def rollback(self, job: str, from_savepoint: str) -> FlinkJobStatus:
        """Re-apply the operator's last stable spec, restored from ``from_savepoint``."""
        current = self._get(job)
        status = (current or {}).get("status") or {}
        stable = status.get("reconciliationStatus", {}).get("lastStableSpec")
        if not stable:
            raise RuntimeError(f"{job} has no lastStableSpec to roll back to")
        spec = json.loads(stable)
        spec.pop("resource_metadata", None)
        spec.setdefault("job", {}).update(
            initialSavepointPath=from_savepoint, state="running",
            savepointRedeployNonce=_nonce(current, "savepointRedeployNonce"))
        return interpret(job, self._patch(job, _spec_patch(current, {"spec": spec}) or {}))

    def start_savepoint(self, job: str) -> str:
        if self.supports_snapshots():
            name = f"{deployment_name(self.cfg, job)}-sp-{int(time.time() * 1000)}"
            body = snapshot_body(self.namespace, name, deployment_name(self.cfg, job), job)
            self.hook.create_custom_object(GROUP, VERSION, SNAPSHOTS, body, self.namespace)
            return f"snapshot:{name}"
        nonce = _nonce(self._get(job), "savepointTriggerNonce")
        self._patch(job, {"spec": {"job": {"savepointTriggerNonce": nonce}}})
        return f"nonce:{nonce}"

    def savepoint_result(self, job: str, ref: str) -> str | None:
        kind, value = ref.split(":", 1)
        if kind == "snapshot":
            obj = self.api.get_namespaced_custom_object(GROUP, VERSION, self.namespace,
                                                        SNAPSHOTS, value)
            return snapshot_result(obj)
        info = (((self._get(job) or {}).get("status") or {}).get("jobStatus") or {}).get(
            "savepointInfo") or {}
        last = info.get("lastSavepoint") or {}
        if str(last.get("triggerNonce")) == value and last.get("location"):
            return last["location"]
        error = parse_error(((self._get(job) or {}).get("status") or {}).get("error"))
        if error and not info.get("triggerId"):
            raise RuntimeError(f"savepoint of {job} failed: {error}")
        return None

    def suspend(self, job: str) -> str | None:
        if self._get(job) is None:
            return None
        self._patch(job, {"spec": {"job": {"state": "suspended"}}})
        obj = self._wait(job, lambda o: o if (o or {}).get("status", {}).get("lifecycleState")
                         == "SUSPENDED" else None, "suspend", self.cfg.flink.ready_timeout_s)
        return interpret(job, obj).last_savepoint

    def delete(self, job: str, timeout_s: float = 600) -> None:
        """Delete the FlinkDeployment and wait until the object is gone: the operator's
        finalizer has then stopped the job, so it writes no more checkpoints (teardown
        empties the bucket and uninstalls the operator only after this)."""
        from kubernetes.client.exceptions import ApiException

        name = deployment_name(self.cfg, job)
        try:
            self.hook.delete_custom_object(GROUP, VERSION, PLURAL, name, self.namespace)
        except ApiException as err:
            if err.status != 404:
                raise
        deadline = time.monotonic() + timeout_s
        while self._get(job) is not None:
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"FlinkDeployment {self.namespace}/{name} still exists {timeout_s:.0f}s "
                    "after its delete: the Flink operator's finalizer has not finished "
                    "(is the operator running? see its log and the object's events)")
            time.sleep(self.poll_s)

    def _snapshot_objects(self, job: str) -> list[dict[str, Any]]:
        return self.api.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, SNAPSHOTS, label_selector=f"{JOB_LABEL}={job}")["items"]

    def list_savepoints(self, job: str) -> list[str]:
        """Savepoints in S3 (flink_platform.savepoints: the same code as on local)."""
        return self.store.list(job)

    def dispose_savepoint(self, job: str, path: str) -> None:
        """Delete the savepoint's objects in S3, and the FlinkStateSnapshot that names it."""
        self.store.dispose(path)
        if self.supports_snapshots():
            for obj in self._snapshot_objects(job):
                if ((obj.get("status") or {}).get("path") or "").rstrip("/") == path.rstrip("/"):
                    self.hook.delete_custom_object(GROUP, VERSION, SNAPSHOTS,
                                                   obj["metadata"]["name"], self.namespace)

    def metrics_endpoint(self, job: str) -> str:
        """The JobManager REST Service (``<deployment>-rest``, port ``rest``) through the API
        server's service proxy: workers outside the cluster cannot resolve ``*.svc``.
        Requests need the cluster's token and CA (``self.access.session()``)."""
        return self.access.service_proxy_url(self.namespace, f"{deployment_name(self.cfg, job)}"
                                             f"-rest", REST_PORT_NAME)

    def prometheus_urls(self, job: str) -> list[str]:
        """The job's running TaskManagers' Prometheus reporters (port 9249) through the API
        server's pod proxy (Flink labels its pods ``app=<deployment>``,
        ``component=taskmanager``); the same credentials as :meth:`rest`."""
        from flink_platform.hooks.kube_access import PROMETHEUS_PORT

        want = {"app": deployment_name(self.cfg, job), "component": "taskmanager"}
        pods = self.hook.core_v1_client.list_namespaced_pod(
            self.namespace, label_selector=",".join(f"{k}={v}" for k, v in want.items()))
        return [f"{self.access.pod_proxy_url(self.namespace, pod.metadata.name, PROMETHEUS_PORT)}"
                f"/metrics" for pod in pods.items
                if want.items() <= (pod.metadata.labels or {}).items()
                and (pod.status.phase if pod.status else None) == "Running"]

    def prometheus_server(self) -> dict[str, Any]:
        """kube-prometheus-stack's Prometheus through the API server's service proxy; the
        scrape interval is the one the PodMonitor renders."""
        from flink_platform.kubernetes.monitoring import NAMESPACE, PROMETHEUS_SERVICE
        from flink_platform.manifests import render_pod_monitor

        interval = render_pod_monitor(self.cfg)["spec"]["podMetricsEndpoints"][0]["interval"]
        return {"url": self.access.service_proxy_url(NAMESPACE, *PROMETHEUS_SERVICE),
                "scrape_interval_s": float(interval.removesuffix("s"))}

    def rest_session(self) -> Any:
        """The cluster's bearer token and CA: the REST and metrics URLs go through the
        Kubernetes API server's proxy."""
        return self.access.session()

    def rest(self, job: str) -> FlinkRestHook:
        """The job's Flink REST API, through the service proxy."""
        from flink_platform.hooks.flink_rest import FlinkRestHook

        return FlinkRestHook(self.metrics_endpoint(job), session=self.access.session())

    def completed_checkpoints(self, job: str, since: float | None = None) -> int:
        """``_metadata`` objects under the job's S3 checkpoint dir (newer than ``since``)."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from flink_platform.manifests import bucket_name

        s3 = S3Hook(aws_conn_id=self.cfg.aws_conn_id)
        objects = s3.get_conn().list_objects_v2(Bucket=bucket_name(self.cfg),
                                                Prefix=f"checkpoints/{job}/").get("Contents", [])
        return sum(1 for o in objects if o["Key"].endswith("/_metadata")
                   and (since is None or o["LastModified"].timestamp() >= since))

    def flink_job_id(self, job: str, rest: FlinkRestHook | None = None) -> str | None:
        """The running Flink job's id: ``status.jobStatus.jobId``, else by name from
        ``/jobs/overview``."""
        status = ((self._get(job) or {}).get("status") or {}).get("jobStatus") or {}
        return status.get("jobId") or (rest or self.rest(job)).running_job_id(job)

    def restored_from(self, job: str) -> str | None:
        """Path the running job restored from, as Flink reports it (checkpoint statistics
        ``latest.restored.external_path``), not what the spec asked for."""
        rest = self.rest(job)
        job_id = self.flink_job_id(job, rest)
        return rest.restored_from(job_id) if job_id else None


def snapshot_body(namespace: str, name: str, deployment: str, job: str) -> dict[str, Any]:
    """FlinkStateSnapshot of a savepoint of ``deployment`` (disposed when the CR is deleted)."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "FlinkStateSnapshot",
        "metadata": {"name": name, "namespace": namespace, "labels": {JOB_LABEL: job}},
        "spec": {"backoffLimit": 1,
                 "jobReference": {"kind": "FlinkDeployment", "name": deployment},
                 "savepoint": {"alreadyExists": False, "disposeOnDelete": True,
                               "formatType": "CANONICAL"}},
    }


def _nonce(obj: dict[str, Any] | None, field: str) -> int:
    return int((((obj or {}).get("spec") or {}).get("job") or {}).get(field) or 0) + 1


def _spec_patch(current: dict[str, Any], body: dict[str, Any]) -> dict[str, Any] | None:
    """Merge patch turning ``current`` into ``body`` (labels + spec), None when equal.
    flinkConfiguration keys that disappeared are nulled (a merge patch keeps them otherwise);
    the operator's nonces are kept unless the body sets them."""
    old_spec, new_spec = current.get("spec") or {}, json.loads(json.dumps(body.get("spec") or {}))
    for key, value in (old_spec.get("job") or {}).items():
        if key.endswith("Nonce"):
            new_spec.setdefault("job", {}).setdefault(key, value)
    old_labels = (current.get("metadata") or {}).get("labels") or {}
    new_labels = (body.get("metadata") or {}).get("labels") or {}
    merged_labels = {**old_labels, **new_labels}
    if new_spec == {k: v for k, v in old_spec.items() if k in new_spec} and \
            merged_labels == old_labels:
        return None
    removed = (set(old_spec.get("flinkConfiguration") or {})
               - set(new_spec.get("flinkConfiguration") or {}))
    if removed:
        new_spec.setdefault("flinkConfiguration", {}).update({k: None for k in removed})
    patch: dict[str, Any] = {"spec": new_spec}
    if merged_labels != old_labels:
        patch["metadata"] = {"labels": new_labels}
    return patch
