"""A small Kubernetes client: create-or-patch of plain dict manifests, reads as plain dicts,
deletes where "not found" is success."""

from __future__ import annotations

import json
from typing import Any

# kind -> (API prefix, plural, namespaced)
KINDS: dict[str, tuple[str, str, bool]] = {
    "Namespace": ("/api/v1", "namespaces", False),
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "Pod": ("/api/v1", "pods", True),
    "Endpoints": ("/api/v1", "endpoints", True),
    "Role": ("/apis/rbac.authorization.k8s.io/v1", "roles", True),
    "RoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
    "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    "ConfigMap": ("/api/v1", "configmaps", True),
    "PrometheusRule": ("/apis/monitoring.coreos.com/v1", "prometheusrules", True),
}


def object_path(kind: str, namespace: str | None = None, name: str | None = None) -> str:
    prefix, plural, namespaced = KINDS[kind]
    path = f"{prefix}/namespaces/{namespace}/{plural}" if namespaced else f"{prefix}/{plural}"
    return f"{path}/{name}" if name else path


class KubeClient:
    """Kubernetes REST calls on a kubernetes ``ApiClient``.

    :func:`KubeClient.for_config` is what tasks use: the target's credentials, chosen once in
    :func:`flink_platform.hooks.kube_access.kube_access` (EKS token or a connection).
    ``conn_id`` / ``config_dict`` build the client through the cncf ``KubernetesHook``.
    """

    def __init__(self, conn_id: str | None = None, config_dict: dict[str, Any] | None = None,
                 api_client: Any = None) -> None:
        if api_client is None:
            from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook

            hook = (KubernetesHook(config_dict=config_dict) if config_dict
                    else KubernetesHook(conn_id=conn_id or "kubernetes_default"))
            api_client = hook.get_conn()
        self.api = api_client

    @classmethod
    def for_config(cls, cfg: Any) -> KubeClient:
        """A client with this task's credentials for the platform's cluster."""
        from flink_platform.hooks.kube_access import kube_access

        return cls(api_client=kube_access(cfg).api_client)

    def _call(self, method: str, path: str, body: Any = None,
              content_type: str = "application/json") -> dict[str, Any]:
        data = self.api.call_api(
            path, method, body=body, auth_settings=["BearerToken"],
            header_params={"Content-Type": content_type, "Accept": "application/json"},
            _preload_content=False, _return_http_data_only=True, _request_timeout=30)
        raw = data.data
        return json.loads(raw) if raw else {}

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        from kubernetes.client.exceptions import ApiException

        try:
            return self._call("GET", object_path(kind, namespace, name))
        except ApiException as err:
            if err.status == 404:
                return None
            raise

    def apply(self, obj: dict[str, Any]) -> str:
        """Create ``obj``; if it exists, merge-patch it to the manifest. Returns the action."""
        from kubernetes.client.exceptions import ApiException

        meta = obj["metadata"]
        try:
            self._call("POST", object_path(obj["kind"], meta.get("namespace")), obj)
            return "created"
        except ApiException as err:
            if err.status != 409:
                raise
        self._call("PATCH", object_path(obj["kind"], meta.get("namespace"), meta["name"]), obj,
                   content_type="application/merge-patch+json")
        return "patched"

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", object_path(obj["kind"], obj["metadata"].get("namespace")), obj)

    def delete(self, kind: str, namespace: str | None, name: str) -> bool:
        """Delete the object; False when it was already gone."""
        from kubernetes.client.exceptions import ApiException

        try:
            self._call("DELETE", object_path(kind, namespace, name))
        except ApiException as err:
            if err.status == 404:
                return False
            raise
        return True
