"""EKS prerequisites and checks: VPC/subnets, cluster and node roles, and the
"create or reuse" decision for the cluster and its managed nodegroup."""

from __future__ import annotations

from typing import Any

from flink_platform.aws.clients import check_drift, client, is_not_found
from flink_platform.aws.iam import delete_role, ensure_role
from flink_platform.aws.specs import (
    EKS_CLUSTER_POLICIES,
    EKS_NODE_POLICIES,
    SUBNET_CIDRS,
    VPC_CIDR,
    PlatformSpec,
)


def _tagged(spec: PlatformSpec) -> list[dict[str, Any]]:
    return [{"Name": "tag:platform-env", "Values": [spec.cfg.tags["platform-env"]]}]


def ensure_network(spec: PlatformSpec) -> list[str]:
    """A VPC with one subnet per AZ for the cluster (found again by tag); subnet ids."""
    ec2 = client(spec.cfg, "ec2")
    name = spec.names["vpc"]
    vpcs = ec2.describe_vpcs(Filters=[*_tagged(spec), {"Name": "tag:Name", "Values": [name]}])
    if vpcs["Vpcs"]:
        vpc_id = vpcs["Vpcs"][0]["VpcId"]
        check_drift(f"VPC {name}", {"cidr": (vpcs["Vpcs"][0]["CidrBlock"], VPC_CIDR)})
    else:
        vpc_id = ec2.create_vpc(CidrBlock=VPC_CIDR, TagSpecifications=[
            {"ResourceType": "vpc", "Tags": spec.name_tags(name)}])["Vpc"]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    by_cidr = {s["CidrBlock"]: s["SubnetId"] for s in subnets}
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
    ids = []
    for index, cidr in enumerate(SUBNET_CIDRS):
        if cidr not in by_cidr:
            by_cidr[cidr] = ec2.create_subnet(
                VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zones[index % len(zones)],
                TagSpecifications=[{"ResourceType": "subnet",
                                    "Tags": spec.name_tags(f"{name}-{index}")}],
            )["Subnet"]["SubnetId"]
        ids.append(by_cidr[cidr])
    return ids


def ensure_cluster_prerequisites(spec: PlatformSpec) -> dict[str, Any]:
    """Network plus the EKS cluster role and node role, each created once."""
    n = spec.names
    return {
        "subnet_ids": ensure_network(spec),
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
    """After the cluster is gone: its subnets, VPC, cluster role and node role."""
    ec2 = client(spec.cfg, "ec2")
    deleted = []
    for vpc in ec2.describe_vpcs(Filters=_tagged(spec))["Vpcs"]:
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])
        for subnet in subnets["Subnets"]:
            ec2.delete_subnet(SubnetId=subnet["SubnetId"])
            deleted.append(subnet["SubnetId"])
        ec2.delete_vpc(VpcId=vpc["VpcId"])
        deleted.append(vpc["VpcId"])
    for role in (spec.names["cluster_role"], spec.names["node_role"]):
        if delete_role(spec, role):
            deleted.append(role)
    return deleted
