"""EKS prerequisites and checks: the network (``flink_platform.aws.network``), cluster and
node roles, and the "create or reuse" decision for the cluster and its managed nodegroup."""

from __future__ import annotations

from typing import Any

from flink_platform.aws.clients import check_drift, client, is_not_found
from flink_platform.aws.iam import delete_role, ensure_role
from flink_platform.aws.network import delete_network, ensure_network
from flink_platform.aws.specs import EKS_CLUSTER_POLICIES, EKS_NODE_POLICIES, PlatformSpec


def ensure_cluster_prerequisites(spec: PlatformSpec) -> dict[str, Any]:
    """Network plus the EKS cluster role and node role, each created once. The cluster gets
    every subnet (``subnet_ids``), the nodegroup the private ones (``private_subnet_ids``)."""
    n = spec.names
    network = ensure_network(spec)
    return {
        "vpc_id": network["vpc_id"],
        "subnet_ids": [*network["private_subnet_ids"], *network["public_subnet_ids"]],
        "private_subnet_ids": network["private_subnet_ids"],
        "public_subnet_ids": network["public_subnet_ids"],
        "cluster_role_arn": ensure_role(spec, n["cluster_role"], spec.cluster_role_trust(),
                                        EKS_CLUSTER_POLICIES),
        "node_role_arn": ensure_role(spec, n["node_role"], spec.node_role_trust(),
                                     EKS_NODE_POLICIES),
    }


def describe_cluster(spec: PlatformSpec) -> dict[str, Any] | None:
    try:
        return client(spec.cfg, "eks").describe_cluster(name=spec.names["cluster"])["cluster"]
    except Exception as err:
        if is_not_found(err):
            return None
        raise


def cluster_exists(spec: PlatformSpec) -> bool:
    """True when the cluster exists and matches the config (else ConfigDriftError)."""
    cluster = describe_cluster(spec)
    if cluster is None or cluster["status"] == "DELETING":
        return False
    check_drift(f"EKS cluster {spec.names['cluster']}", {
        "kubernetes version": (cluster.get("version"), spec.cfg.cluster.kubernetes_version),
    })
    return True


def nodegroup_exists(spec: PlatformSpec) -> bool:
    """True when the nodegroup exists and matches the config (else ConfigDriftError)."""
    eks = client(spec.cfg, "eks")
    try:
        ng = eks.describe_nodegroup(clusterName=spec.names["cluster"],
                                    nodegroupName=spec.names["nodegroup"])["nodegroup"]
    except Exception as err:
        if is_not_found(err):
            return False
        raise
    want = spec.nodegroup_kwargs()
    check_drift(f"EKS nodegroup {spec.names['nodegroup']}", {
        "scaling": ({k: ng["scalingConfig"][k] for k in want["scalingConfig"]},
                    want["scalingConfig"]),
        "instance types": (ng.get("instanceTypes"), want["instanceTypes"]),
    })
    return True


def cluster_facts(spec: PlatformSpec) -> dict[str, Any]:
    cluster = describe_cluster(spec) or {}
    return {"cluster_name": spec.names["cluster"], "cluster_arn": cluster.get("arn"),
            "cluster_endpoint": cluster.get("endpoint"),
            "oidc_issuer": cluster.get("identity", {}).get("oidc", {}).get("issuer"),
            "nodegroup_name": spec.names["nodegroup"]}


# -- teardown -------------------------------------------------------------------------

def delete_network_and_roles(spec: PlatformSpec) -> list[str]:
    """After the cluster is gone: its network (none of a configured existing VPC), then the
    cluster role and node role."""
    deleted = delete_network(spec)
    for role in (spec.names["cluster_role"], spec.names["node_role"]):
        if delete_role(spec, role):
            deleted.append(role)
    return deleted
