"""The cluster network against moto over HTTP: what EKS managed nodes need (public subnets
behind an internet gateway, private subnets behind a NAT gateway, routes, EKS/ELB subnet
tags), found again on a second run, removed in order by teardown; an existing VPC from the
config is used as is and never deleted."""

from __future__ import annotations

import pytest

from flink_platform.aws.specs import PlatformSpec
from flink_platform.config import ConfigError, load_config


def _tags(item) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in item.get("Tags", [])}


def _network_inventory(ec2) -> dict[str, int]:
    live_nats = ec2.describe_nat_gateways(Filters=[
        {"Name": "state", "Values": ["pending", "available"]}])["NatGateways"]
    return {
        "vpcs": len(ec2.describe_vpcs(Filters=[{"Name": "tag-key",
                                                "Values": ["platform-env"]}])["Vpcs"]),
        "subnets": len(ec2.describe_subnets()["Subnets"]),
        "internet_gateways": len(ec2.describe_internet_gateways()["InternetGateways"]),
        "nat_gateways": len(live_nats),
        "addresses": len(ec2.describe_addresses()["Addresses"]),
        "route_tables": len(ec2.describe_route_tables()["RouteTables"]),
    }


def test_network_twice_has_routes_and_tags_then_teardown_leaves_nothing(aws, spec):
    from flink_platform.aws.audit import leftover_resources
    from flink_platform.aws.cluster import delete_network_and_roles, ensure_cluster_prerequisites

    ec2 = aws("ec2")
    default_vpcs = _network_inventory(ec2)  # moto's default VPC (untagged) and its subnets
    first = ensure_cluster_prerequisites(spec)
    after_first = _network_inventory(ec2)
    second = ensure_cluster_prerequisites(spec)  # idempotent: found again by tag
    assert second == first
    assert _network_inventory(ec2) == after_first
    assert after_first["vpcs"] == 1 and after_first["nat_gateways"] == 1
    assert after_first["internet_gateways"] == default_vpcs["internet_gateways"] + 1

    env, cluster = spec.cfg.tags["platform-env"], spec.names["cluster"]
    public, private = first["public_subnet_ids"], first["private_subnet_ids"]
    assert len(public) == 2 and len(private) == 2
    assert sorted(first["subnet_ids"]) == sorted(public + private)  # the cluster gets both
    for subnet in ec2.describe_subnets(SubnetIds=public + private)["Subnets"]:
        tags, is_public = _tags(subnet), subnet["SubnetId"] in public
        assert subnet["VpcId"] == first["vpc_id"]
        assert subnet["MapPublicIpOnLaunch"] is is_public
        assert tags["platform-env"] == env
        assert tags[f"kubernetes.io/cluster/{cluster}"] == "shared"
        role = "kubernetes.io/role/elb" if is_public else "kubernetes.io/role/internal-elb"
        assert tags[role] == "1"
    azs = {s["AvailabilityZone"] for s in ec2.describe_subnets(SubnetIds=private)["Subnets"]}
    assert len(azs) == 2  # EKS needs subnets in two AZs

    [igw] = ec2.describe_internet_gateways(Filters=[
        {"Name": "attachment.vpc-id", "Values": [first["vpc_id"]]}])["InternetGateways"]
    assert _tags(igw)["platform-env"] == env
    [nat] = ec2.describe_nat_gateways(Filters=[
        {"Name": "vpc-id", "Values": [first["vpc_id"]]}])["NatGateways"]
    assert nat["State"] == "available" and nat["SubnetId"] == public[0]
    assert _tags(nat)["platform-env"] == env
    [eip] = ec2.describe_addresses()["Addresses"]
    assert _tags(eip)["platform-env"] == env
    assert nat["NatGatewayAddresses"][0]["AllocationId"] == eip["AllocationId"]

    tables = ec2.describe_route_tables(Filters=[
        {"Name": "vpc-id", "Values": [first["vpc_id"]]}])["RouteTables"]
    by_subnet = {a["SubnetId"]: t for t in tables for a in t["Associations"] if "SubnetId" in a}
    for subnet_id in public:
        [route] = [r for r in by_subnet[subnet_id]["Routes"]
                   if r["DestinationCidrBlock"] == "0.0.0.0/0"]
        assert route["GatewayId"] == igw["InternetGatewayId"]
    for subnet_id in private:
        [route] = [r for r in by_subnet[subnet_id]["Routes"]
                   if r["DestinationCidrBlock"] == "0.0.0.0/0"]
        assert route["NatGatewayId"] == nat["NatGatewayId"]
    assert all(_tags(t)["platform-env"] == env for t in by_subnet.values())

    deleted = delete_network_and_roles(spec)
    assert {first["vpc_id"], igw["InternetGatewayId"], nat["NatGatewayId"],
            eip["AllocationId"], *public, *private} <= set(deleted)
    assert _network_inventory(ec2) == {**default_vpcs, "vpcs": 0}
    [gone] = ec2.describe_nat_gateways(NatGatewayIds=[nat["NatGatewayId"]])["NatGateways"]
    assert gone["State"] == "deleted"  # AWS lists it for a while: the audit must ignore it
    assert leftover_resources(spec) == []
    assert delete_network_and_roles(spec) == []  # already gone is success


def test_drifted_network_is_reported_not_changed(aws, spec):
    from flink_platform.aws.clients import ConfigDriftError
    from flink_platform.aws.network import ensure_network

    ec2 = aws("ec2")
    network = ensure_network(spec)
    ec2.modify_subnet_attribute(SubnetId=network["public_subnet_ids"][1],
                                MapPublicIpOnLaunch={"Value": False})
    with pytest.raises(ConfigDriftError, match="subnet 10.42.16.0/20.*public IP on launch"):
        ensure_network(spec)


def test_existing_vpc_from_config_creates_and_deletes_nothing(aws, spec):
    from flink_platform.aws.cluster import delete_network_and_roles, ensure_cluster_prerequisites

    ec2 = aws("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.9.{i}.0/24")["Subnet"]["SubnetId"]
               for i in range(3)]
    before = _network_inventory(ec2)
    cfg = load_config(overrides={"cluster.network": {
        "vpc_id": vpc_id, "public_subnet_ids": subnets[:1], "private_subnet_ids": subnets[1:]}})
    existing = PlatformSpec(cfg)

    facts = ensure_cluster_prerequisites(existing)
    assert facts["vpc_id"] == vpc_id
    assert facts["private_subnet_ids"] == subnets[1:]
    assert sorted(facts["subnet_ids"]) == sorted(subnets)
    assert _network_inventory(ec2) == before  # no network created

    deleted = delete_network_and_roles(existing)
    assert sorted(deleted) == sorted(spec.names[r] for r in ("cluster_role", "node_role"))
    assert _network_inventory(ec2) == before
    assert ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]  # the VPC is never deleted


@pytest.mark.parametrize(("network", "message"), [
    ({"vpc_id": "vpc-0123456789abcdef0"}, "private_subnet_ids and public_subnet_ids"),
    ({"vpc_id": "vpc-0123456789abcdef0", "public_subnet_ids": ["subnet-0123456789abcdef0"],
      "private_subnet_ids": ["my-subnet"]}, "'my-subnet' is not a subnet id"),
    ({"vpc_id": "vpc_1", "public_subnet_ids": [], "private_subnet_ids": []},
     r"cluster\.network\.vpc_id"),
    ({"private_subnet_ids": ["subnet-0123456789abcdef0"]}, "subnet ids need vpc_id"),
])
def test_network_config_is_validated(network, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides={"cluster.network": network})
