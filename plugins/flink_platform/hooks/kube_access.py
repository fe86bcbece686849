"""The one place the ``aws`` target's Kubernetes credentials are chosen, and the HTTP
session and service-proxy URLs that reach Flink inside the cluster with them.

``cfg.kube_credentials``: ``eks`` (default) builds the client from the cluster's endpoint and
CA with a fresh token (:class:`~flink_platform.hooks.eks_kube.EksKubeHook`); ``connection``
uses the Airflow Kubernetes connection ``cfg.kubernetes_conn_id`` (the user's own kubeconfig).

Airflow workers run outside the cluster and cannot resolve ``*.svc`` names: the JobManager's
REST API (operator Service ``<deployment>-rest``, port name ``rest``, 8081) and the
TaskManagers' Prometheus reporters (pod port 9249) are reached through the API server's
proxy subresource, ``/api/v1/namespaces/<ns>/services/<svc>:<port>/proxy/<path>``, with
the same bearer token and CA (RBAC: ``get`` on ``services/proxy`` and ``pods/proxy``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter

from flink_platform.config import PlatformConfig

REST_PORT_NAME = "rest"  # the operator's JobManager REST Service port (8081)
PROMETHEUS_PORT = 9249  # flink-metrics-prometheus reporter port on the pods


class _BearerFromKubeConfig(requests.auth.AuthBase):
    """Authorization from the kubernetes client Configuration, asked per request, so a
    refreshing token (EKS: re-signed every 10 minutes) stays valid for long samplers."""

    def __init__(self, configuration: Any) -> None:
        self.configuration = configuration

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        value = self.configuration.get_api_key_with_prefix("BearerToken", alias="authorization")
        if value:
            request.headers["Authorization"] = value
        return request


class _CaDataAdapter(HTTPAdapter):
    """HTTPS trusting exactly one CA given as data (no CA file, not the public bundle)."""

    def __init__(self, ca_cert_data: str | bytes) -> None:
        self.ca_cert_data = ca_cert_data
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ca_cert_data"] = self.ca_cert_data
        super().init_poolmanager(*args, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)
        if verify is True:
            conn.ca_certs = conn.ca_cert_dir = None  # the cluster CA only


@dataclass
class KubeAccess:
    """A kubernetes ApiClient for the cluster, plus what reaches Flink through its proxy.

    :param api_client: the kubernetes client (host, token, TLS).
    :param ca_cert_data: the cluster CA as data (EKS); None: the client's own TLS settings.
    """

    api_client: Any
    ca_cert_data: str | bytes | None = None

    @property
    def server(self) -> str:
        return self.api_client.configuration.host.rstrip("/")

    def kubernetes_hook(self):
        """The cncf ``KubernetesHook`` on this client (custom objects, pods ...)."""
        return _api_client_hook(self.api_client)

    def session(self) -> requests.Session:
        """requests session with the client's bearer token, CA and client certificate."""
        conf = self.api_client.configuration
        session = requests.Session()
        session.auth = _BearerFromKubeConfig(conf)
        if not conf.verify_ssl:
            session.verify = False
        elif self.ca_cert_data is not None:
            session.mount("https://", _CaDataAdapter(self.ca_cert_data))
        elif conf.ssl_ca_cert:
            session.verify = conf.ssl_ca_cert
        if conf.cert_file:
            session.cert = (conf.cert_file, conf.key_file)
        return session

    def service_proxy_url(self, namespace: str, service: str, port: str | int) -> str:
        """Base URL of ``service:port`` through the API server's service proxy."""
        return (f"{self.server}/api/v1/namespaces/{quote(namespace)}/services/"
                f"{quote(service)}:{port}/proxy")

    def pod_proxy_url(self, namespace: str, pod: str, port: str | int) -> str:
        """Base URL of ``pod:port`` through the API server's pod proxy."""
        return f"{self.server}/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}:{port}/proxy"


def _api_client_hook(api_client: Any):
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook

    class ApiClientKubernetesHook(KubernetesHook):
        """``KubernetesHook`` whose client was built elsewhere (no connection lookup)."""

        def get_conn(self):
            return api_client

    return ApiClientKubernetesHook(conn_id=None, kubernetes_conn_id=None)


def cluster_name(cfg: PlatformConfig) -> str:
    from flink_platform.aws.specs import PlatformSpec

    return PlatformSpec(cfg).names["cluster"]


def kube_access(cfg: PlatformConfig) -> KubeAccess:
    """Credentials for this task, per ``cfg.kube_credentials``: build one per task (an EKS
    token is signed here, now)."""
    if cfg.kube_credentials == "connection":
        from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook

        return KubeAccess(KubernetesHook(conn_id=cfg.kubernetes_conn_id).get_conn())
    from flink_platform.hooks.eks_kube import EksKubeHook

    hook = EksKubeHook(cluster_name(cfg), aws_conn_id=cfg.aws_conn_id, region_name=cfg.region)
    access = hook.cluster_access()
    return KubeAccess(hook.api_client(access), access.ca_cert_data())
