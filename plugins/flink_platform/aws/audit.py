"""Teardown audit: every resource still tagged with this platform's environment.

The Resource Groups Tagging API is asked first. moto 5.2 answers it for EC2 (VPC,
subnet), S3, SNS and CloudWatch Logs only, and real AWS leaves IAM out of it, so IAM
roles/policies/OIDC providers, EKS clusters/nodegroups, EMR virtual clusters and Kinesis
streams are also listed per service and filtered by tag. Results are merged by ARN.

A resource AWS still reports while it goes away (EKS cluster or nodegroup ``DELETING``,
EMR virtual cluster ``TERMINATING``/``TERMINATED``, Kinesis stream ``DELETING``, NAT
gateway ``deleting``/``deleted``: AWS lists deleted NAT gateways for about an hour) is not
a leftover: teardown already deleted it. Anything live still is.
"""

from __future__ import annotations

from collections.abc import Iterator

from flink_platform.aws.alerts import LIVE_VC_STATES
from flink_platform.aws.clients import account_id, client, is_not_found
from flink_platform.aws.iam import tagged_oidc_providers
from flink_platform.aws.network import NAT_GONE_STATES, gone
from flink_platform.aws.specs import PlatformSpec
from flink_platform.aws.streams import kinesis

EKS_GOING = frozenset({"DELETING"})


def _matches(spec: PlatformSpec, tags: dict[str, str]) -> bool:
    return tags.get("platform-env") == spec.cfg.tags["platform-env"]


def _as_dict(tags: list[dict[str, str]]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags}


def _tagging_api(spec: PlatformSpec) -> Iterator[str]:
    api = client(spec.cfg, "resourcegroupstaggingapi")
    env = spec.cfg.tags["platform-env"]
    for page in api.get_paginator("get_resources").paginate(
            TagFilters=[{"Key": "platform-env", "Values": [env]}]):
        for item in page["ResourceTagMappingList"]:
            yield item["ResourceARN"]


def _iam(spec: PlatformSpec) -> Iterator[str]:
    iam = client(spec.cfg, "iam")
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            if role["Path"].startswith("/aws-service-role/"):
                continue
            if _matches(spec, _as_dict(iam.list_role_tags(RoleName=role["RoleName"])["Tags"])):
                yield role["Arn"]
    for page in iam.get_paginator("list_policies").paginate(Scope="Local"):
        for policy in page["Policies"]:
            tags = iam.list_policy_tags(PolicyArn=policy["Arn"])["Tags"]
            if _matches(spec, _as_dict(tags)):
                yield policy["Arn"]
    yield from tagged_oidc_providers(spec)


def _eks(spec: PlatformSpec) -> Iterator[str]:
    eks = client(spec.cfg, "eks")
    for name in eks.list_clusters()["clusters"]:
        try:
            cluster = eks.describe_cluster(name=name)["cluster"]
            nodegroups = eks.list_nodegroups(clusterName=name)["nodegroups"]
        except Exception as err:  # deleted between list and describe
            if is_not_found(err):
                continue
            raise
        if _matches(spec, cluster.get("tags", {})) and cluster["status"] not in EKS_GOING:
            yield cluster["arn"]
        for ng_name in nodegroups:
            ng = eks.describe_nodegroup(clusterName=name, nodegroupName=ng_name)["nodegroup"]
            if _matches(spec, ng.get("tags", {})) and ng["status"] not in EKS_GOING:
                yield ng["nodegroupArn"]


def _ec2(spec: PlatformSpec) -> Iterator[str]:
    """Elastic IPs (the Tagging API of moto does not list them) and NAT gateways."""
    ec2 = client(spec.cfg, "ec2")
    env = [{"Name": "tag:platform-env", "Values": [spec.cfg.tags["platform-env"]]}]
    prefix = f"arn:aws:ec2:{spec.cfg.region}:{account_id(spec.cfg)}"
    for address in ec2.describe_addresses(Filters=env)["Addresses"]:
        yield f"{prefix}:elastic-ip/{address['AllocationId']}"
    for page in ec2.get_paginator("describe_nat_gateways").paginate():
        for nat in page["NatGateways"]:
            if _matches(spec, _as_dict(nat.get("Tags", []))):
                yield f"{prefix}:natgateway/{nat['NatGatewayId']}"


def _emr(spec: PlatformSpec) -> Iterator[str]:
    emr = client(spec.cfg, "emr-containers")
    for page in emr.get_paginator("list_virtual_clusters").paginate(states=list(LIVE_VC_STATES)):
        for vc in page["virtualClusters"]:
            if _matches(spec, vc.get("tags", {})):
                yield vc["arn"]


def _kinesis(spec: PlatformSpec) -> Iterator[str]:
    conn = kinesis(spec.cfg.aws_conn_id, spec.cfg.region)
    for name in conn.list_streams()["StreamNames"]:
        try:
            tags = conn.list_tags_for_stream(StreamName=name)["Tags"]
            summary = conn.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        except Exception as err:
            if is_not_found(err):
                continue
            raise
        if _matches(spec, _as_dict(tags)) and summary["StreamStatus"] != "DELETING":
            yield summary["StreamARN"]


def _going_away(spec: PlatformSpec, arn: str) -> bool:
    """True when AWS reports the resource as deleting or deleted (or it is gone now)."""
    service, resource = arn.split(":")[2], arn.split(":", 5)[5].lstrip("/")
    kind, _, ident = resource.partition("/")
    try:
        if service == "ec2" and kind == "natgateway":
            nats = client(spec.cfg, "ec2").describe_nat_gateways(
                NatGatewayIds=[ident])["NatGateways"]
            return all(n["State"] in NAT_GONE_STATES for n in nats)
        if service == "eks" and kind == "cluster":
            cluster = client(spec.cfg, "eks").describe_cluster(name=ident)["cluster"]
            return cluster["status"] in EKS_GOING
        if service == "eks" and kind == "nodegroup":
            cluster_name, nodegroup = ident.split("/")[:2]
            ng = client(spec.cfg, "eks").describe_nodegroup(
                clusterName=cluster_name, nodegroupName=nodegroup)["nodegroup"]
            return ng["status"] in EKS_GOING
        if service == "emr-containers" and kind == "virtualclusters":
            vc = client(spec.cfg, "emr-containers").describe_virtual_cluster(
                id=ident)["virtualCluster"]
            return vc["state"] not in LIVE_VC_STATES
        if service == "kinesis" and kind == "stream":
            summary = kinesis(spec.cfg.aws_conn_id, spec.cfg.region).describe_stream_summary(
                StreamName=ident)["StreamDescriptionSummary"]
            return summary["StreamStatus"] == "DELETING"
    except Exception as err:
        if gone(err):
            return True
        raise
    return False


def leftover_resources(spec: PlatformSpec) -> list[str]:
    """ARNs of every live resource still tagged ``platform-env=<env-suffix>``, sorted."""
    found: set[str] = set()
    for source in (_tagging_api, _iam, _eks, _emr, _kinesis, _ec2):
        found.update(source(spec))
    return sorted(arn for arn in found if not _going_away(spec, arn))
