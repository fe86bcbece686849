"""Kubernetes API credentials of the platform's EKS cluster, built in memory for each task.

Endpoint and CA come from ``eks:DescribeCluster`` through the Airflow AWS connection. The
bearer token is what ``aws eks get-token`` prints: ``k8s-aws-v1.`` + base64url of a
presigned STS ``GetCallerIdentity`` URL whose signed header ``x-k8s-aws-id`` names the
cluster. It is signed locally with the connection's credentials (the Amazon provider's
``eks_get_token.fetch_access_token_for_cluster``; no network call). EKS accepts a token for
15 minutes, so the client signs a new one every :data:`TOKEN_REFRESH_S`.

Unlike ``EksHook.generate_config_file`` nothing is written to disk: no kubeconfig, no
credentials file, no exec plugin; the CA is handed to urllib3 as data.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

TOKEN_PREFIX = "k8s-aws-v1."
TOKEN_REFRESH_S = 10 * 60  # EKS accepts a token for 15 minutes
CLUSTER_ID_HEADER = "x-k8s-aws-id"


class EksAccessError(RuntimeError):
    """The cluster cannot be reached yet (missing, not ACTIVE, no endpoint or CA)."""


@dataclass(frozen=True)
class ClusterAccess:
    """Where the cluster's API server is and the CA that signs its certificate."""

    endpoint: str
    ca_cert: bytes  # PEM (what EKS returns) or DER: ssl cadata accepts both

    def ca_cert_data(self) -> str | bytes:
        """The CA as urllib3's ``ca_cert_data`` wants it: PEM text, or DER bytes."""
        if self.ca_cert.lstrip().startswith(b"-----BEGIN"):
            return self.ca_cert.decode("ascii")
        return self.ca_cert


class EksKubeHook(AwsBaseHook):
    """Kubernetes API access to an EKS cluster through an Airflow AWS connection.

    :param cluster_name: the EKS cluster (e.g. ``flink-platform-prod-x7k2``).
    :param aws_conn_id: Airflow AWS connection: needs ``eks:DescribeCluster``; its identity
        must be mapped into the cluster (EKS access entry or ``aws-auth``).
    :param region_name: the cluster's region.
    :param clock: seconds since the epoch (tests may pass their own).
    """

    hook_name = "EKS Kubernetes API"

    def __init__(self, cluster_name: str, *, aws_conn_id: str | None = "aws_default",
                 region_name: str | None = None, clock: Callable[[], float] = time.time,
                 **kwargs: Any) -> None:
        super().__init__(aws_conn_id=aws_conn_id, region_name=region_name, client_type="eks",
                         **kwargs)
        self.cluster_name = cluster_name
        self.clock = clock

    def cluster_access(self) -> ClusterAccess:
        """Endpoint and CA of the cluster from ``eks:DescribeCluster``."""
        cluster = self.conn.describe_cluster(name=self.cluster_name)["cluster"]
        endpoint = cluster.get("endpoint")
        ca_data = (cluster.get("certificateAuthority") or {}).get("data")
        if not endpoint or not ca_data:
            raise EksAccessError(
                f"EKS cluster {self.cluster_name} has no API endpoint or CA yet (status "
                f"{cluster.get('status')}): wait until it is ACTIVE (platform_provision)")
        return ClusterAccess(endpoint=endpoint.rstrip("/"), ca_cert=base64.b64decode(ca_data))

    @cached_property
    def sts_url(self) -> str:
        """STS GetCallerIdentity URL the token presigns (regional endpoint of the session)."""
        sts = AwsBaseHook(aws_conn_id=self.aws_conn_id, region_name=self.region_name,
                          client_type="sts").conn
        endpoint = sts.meta.endpoint_url
        return f"{endpoint.rstrip('/')}/?Action=GetCallerIdentity&Version=2011-06-15"

    def token(self) -> str:
        """A fresh ``k8s-aws-v1.`` bearer token for the cluster (signed now, locally)."""
        from airflow.providers.amazon.aws.utils.eks_get_token import (
            fetch_access_token_for_cluster,
        )

        session = self.get_session(region_name=self.region_name)
        return fetch_access_token_for_cluster(self.cluster_name, self.sts_url,
                                              region_name=self.region_name, session=session)

    def kube_config_dict(self, access: ClusterAccess | None = None) -> dict[str, Any]:
        """An in-memory kubeconfig (token inline) for ``KubernetesHook(config_dict=...)``;
        keep it off disk. (The kubernetes config loader puts the CA, not the token, in a temp
        file; :meth:`api_client` avoids even that.)"""
        access = access or self.cluster_access()
        name = self.cluster_name
        return {
            "apiVersion": "v1", "kind": "Config", "current-context": name, "preferences": {},
            "clusters": [{"name": name, "cluster": {
                "server": access.endpoint,
                "certificate-authority-data": base64.b64encode(access.ca_cert).decode()}}],
            "users": [{"name": name, "user": {"token": self.token()}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        }

    def api_client(self, access: ClusterAccess | None = None):
        """A kubernetes ``ApiClient`` on the cluster's endpoint, trusting its CA (in memory),
        with a bearer token signed now and re-signed every TOKEN_REFRESH_S."""
        import urllib3
        from kubernetes import client

        access = access or self.cluster_access()
        conf = client.Configuration()
        conf.host = access.endpoint
        conf.api_key_prefix = {"BearerToken": "Bearer"}
        conf.api_key = {"BearerToken": self.token()}
        issued = [self.clock()]

        def refresh(configuration) -> None:
            if self.clock() - issued[0] >= TOKEN_REFRESH_S:
                configuration.api_key["BearerToken"] = self.token()
                issued[0] = self.clock()

        conf.refresh_api_key_hook = refresh
        api = client.ApiClient(conf)
        # The generated client only takes a CA *file* (Configuration.ssl_ca_cert); give its
        # pool the CA as data instead, so nothing is written to disk.
        api.rest_client.pool_manager = urllib3.PoolManager(
            num_pools=4, maxsize=4, cert_reqs="CERT_REQUIRED", ca_cert_data=access.ca_cert_data())
        return api
