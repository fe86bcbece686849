"""The cluster's network: what EKS managed nodes need to join the cluster and pull images.

A VPC (DNS support and hostnames on) with, per AZ, a public subnet (public IPs on launch,
``kubernetes.io/role/elb=1``) routed to an internet gateway and a private subnet
(``kubernetes.io/role/internal-elb=1``) routed through one NAT gateway (with its Elastic
IP) in the first public subnet. Every subnet carries ``kubernetes.io/cluster/<name>=shared``.
Everything is tagged ``platform-env`` and found again by tag; an existing piece with other
settings fails naming it (``ConfigDriftError``), it is never changed. The nodegroup runs in
the private subnets; the cluster gets both.

``cluster.network.vpc_id`` in the config names an existing VPC instead: then nothing is
created here, and teardown deletes none of it.
"""

from __future__ import annotations

import time
from typing import Any

from flink_platform.aws.clients import check_drift, client, error_code, is_not_found
from flink_platform.aws.specs import (
    ANYWHERE,
    PRIVATE_SUBNET_CIDRS,
    PUBLIC_SUBNET_CIDRS,
    VPC_CIDR,
    PlatformSpec,
)

NAT_LIVE_STATES = ("pending", "available")
NAT_GONE_STATES = ("deleting", "deleted")
NAT_TIMEOUT_S = 15 * 60
# EC2's "already gone" codes that clients.is_not_found does not know
GONE_CODES = frozenset({"NatGatewayNotFound", "Gateway.NotAttached"})


def gone(err: Exception) -> bool:
    return is_not_found(err) or error_code(err) in GONE_CODES


def _filters(spec: PlatformSpec, name: str | None = None, **extra: str) -> list[dict[str, Any]]:
    found = [{"Name": "tag:platform-env", "Values": [spec.cfg.tags["platform-env"]]}]
    if name:
        found.append({"Name": "tag:Name", "Values": [name]})
    return found + [{"Name": key.replace("_", "-"), "Values": [v]} for key, v in extra.items()]


def _tags(item: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in item.get("Tags", [])}


def _spec_of(resource: str, spec: PlatformSpec, name: str) -> list[dict[str, Any]]:
    return [{"ResourceType": resource, "Tags": spec.name_tags(name)}]


# -- provision ---------------------------------------------------------------------------

def ensure_network(spec: PlatformSpec, nat_timeout_s: float = NAT_TIMEOUT_S) -> dict[str, Any]:
    """The network the cluster runs in; ``vpc_id``, ``public_subnet_ids``,
    ``private_subnet_ids`` and ``managed`` (False for an existing VPC from the config)."""
    net = spec.cfg.cluster.network
    if net.vpc_id:
        return _existing_network(spec)
    ec2 = client(spec.cfg, "ec2")
    vpc_id = _ensure_vpc(ec2, spec)
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones(
        Filters=[{"Name": "state", "Values": ["available"]}])["AvailabilityZones"]]
    public = _ensure_subnets(ec2, spec, vpc_id, zones, PUBLIC_SUBNET_CIDRS, public=True)
    private = _ensure_subnets(ec2, spec, vpc_id, zones, PRIVATE_SUBNET_CIDRS, public=False)
    igw_id = _ensure_internet_gateway(ec2, spec, vpc_id)
    nat_id = _ensure_nat_gateway(ec2, spec, vpc_id, public[0], nat_timeout_s)
    base = spec.names["vpc"]
    _ensure_route_table(ec2, spec, vpc_id, f"{base}-public", public, {"GatewayId": igw_id})
    _ensure_route_table(ec2, spec, vpc_id, f"{base}-private", private, {"NatGatewayId": nat_id})
    return {"vpc_id": vpc_id, "public_subnet_ids": public, "private_subnet_ids": private,
            "internet_gateway_id": igw_id, "nat_gateway_id": nat_id, "managed": True}


def _existing_network(spec: PlatformSpec) -> dict[str, Any]:
    """The configured VPC's subnets, checked to exist and to belong to that VPC."""
    net = spec.cfg.cluster.network
    ids = [*net.public_subnet_ids, *net.private_subnet_ids]
    subnets = client(spec.cfg, "ec2").describe_subnets(SubnetIds=ids)["Subnets"]
    check_drift("cluster.network subnets", {
        f"VPC of {s['SubnetId']}": (s["VpcId"], net.vpc_id) for s in subnets})
    return {"vpc_id": net.vpc_id, "public_subnet_ids": list(net.public_subnet_ids),
            "private_subnet_ids": list(net.private_subnet_ids), "managed": False}


def _ensure_vpc(ec2, spec: PlatformSpec) -> str:
    name = spec.names["vpc"]
    vpcs = ec2.describe_vpcs(Filters=_filters(spec, name))["Vpcs"]
    if vpcs:
        check_drift(f"VPC {name}", {"cidr": (vpcs[0]["CidrBlock"], VPC_CIDR)})
        return vpcs[0]["VpcId"]
    vpc_id = ec2.create_vpc(CidrBlock=VPC_CIDR,
                            TagSpecifications=_spec_of("vpc", spec, name))["Vpc"]["VpcId"]
    # nodes resolve the cluster endpoint and register by private DNS name
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    return vpc_id


def _ensure_subnets(ec2, spec: PlatformSpec, vpc_id: str, zones: list[str],
                    cidrs: tuple[str, ...], public: bool) -> list[str]:
    kind = "public" if public else "private"
    existing = {s["CidrBlock"]: s for s in ec2.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]}
    ids = []
    for index, cidr in enumerate(cidrs):
        name = f"{spec.names['vpc']}-{kind}-{index}"
        want = spec.subnet_tags(name, public)
        subnet = existing.get(cidr)
        if subnet is None:
            subnet = ec2.create_subnet(
                VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zones[index % len(zones)],
                TagSpecifications=[{"ResourceType": "subnet", "Tags": want}])["Subnet"]
            if public:
                ec2.modify_subnet_attribute(SubnetId=subnet["SubnetId"],
                                            MapPublicIpOnLaunch={"Value": True})
        else:
            have = _tags(subnet)
            check_drift(f"subnet {cidr} of VPC {spec.names['vpc']}", {
                "Name tag": (have.get("Name"), name),
                "public IP on launch": (subnet.get("MapPublicIpOnLaunch", False), public),
                **{f"tag {t['Key']}": (have.get(t["Key"]), t["Value"]) for t in want[-2:]},
            })
        ids.append(subnet["SubnetId"])
    return ids


def _ensure_internet_gateway(ec2, spec: PlatformSpec, vpc_id: str) -> str:
    name = f"{spec.names['vpc']}-igw"
    found = ec2.describe_internet_gateways(Filters=_filters(spec, name))["InternetGateways"]
    if found:
        igw = found[0]
        attached = [a["VpcId"] for a in igw.get("Attachments", [])]
        check_drift(f"internet gateway {name}", {"attached to": (attached or [vpc_id], [vpc_id])})
        if attached:
            return igw["InternetGatewayId"]
        igw_id = igw["InternetGatewayId"]
    else:
        igw_id = ec2.create_internet_gateway(TagSpecifications=_spec_of(
            "internet-gateway", spec, name))["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=vpc_id)
    return igw_id


def _ensure_nat_gateway(ec2, spec: PlatformSpec, vpc_id: str, subnet_id: str,
                        timeout_s: float) -> str:
    """One NAT gateway (and its Elastic IP) in the first public subnet, waited ``available``."""
    name = f"{spec.names['vpc']}-nat"
    # NAT gateways are looked up by VPC and state, then by tag: not every EC2 API (moto's
    # included) filters NAT gateways by tag
    live = [n for n in ec2.describe_nat_gateways(Filters=[
        {"Name": "vpc-id", "Values": [vpc_id]},
        {"Name": "state", "Values": list(NAT_LIVE_STATES)}])["NatGateways"]
        if _tags(n).get("Name") == name]
    if live:
        nat = live[0]
        check_drift(f"NAT gateway {name}", {"subnet": (nat["SubnetId"], subnet_id)})
    else:
        addresses = ec2.describe_addresses(Filters=_filters(spec, name))["Addresses"]
        allocation = (addresses[0]["AllocationId"] if addresses else ec2.allocate_address(
            Domain="vpc", TagSpecifications=_spec_of("elastic-ip", spec, name))["AllocationId"])
        nat = ec2.create_nat_gateway(SubnetId=subnet_id, AllocationId=allocation,
                                     TagSpecifications=_spec_of("natgateway", spec, name),
                                     )["NatGateway"]
    return _wait_nat(ec2, nat["NatGatewayId"], "available", timeout_s)


def _wait_nat(ec2, nat_id: str, state: str, timeout_s: float, poll_s: float = 10.0) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            [nat] = ec2.describe_nat_gateways(NatGatewayIds=[nat_id])["NatGateways"]
            current = nat["State"]
        except Exception as err:
            if not gone(err) or state != "deleted":
                raise
            current = "deleted"
        if current == state:
            return nat_id
        if current == "failed" and state != "deleted":
            raise RuntimeError(f"NAT gateway {nat_id} failed: {nat.get('FailureMessage')}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"NAT gateway {nat_id} is {current!r}, not {state!r}, after "
                               f"{timeout_s:.0f}s")
        time.sleep(poll_s)


def _ensure_route_table(ec2, spec: PlatformSpec, vpc_id: str, name: str,
                        subnet_ids: list[str], target: dict[str, str]) -> str:
    """A route table with ``0.0.0.0/0 -> target``, associated with ``subnet_ids``."""
    found = ec2.describe_route_tables(Filters=_filters(spec, name, vpc_id=vpc_id))["RouteTables"]
    if found:
        table = found[0]
        table_id = table["RouteTableId"]
    else:
        table = ec2.create_route_table(VpcId=vpc_id, TagSpecifications=_spec_of(
            "route-table", spec, name))["RouteTable"]
        table_id = table["RouteTableId"]
    [(key, value)] = target.items()
    default = [r for r in table.get("Routes", []) if r.get("DestinationCidrBlock") == ANYWHERE]
    if default:
        check_drift(f"route table {name}", {f"{ANYWHERE} {key}": (default[0].get(key), value)})
    else:
        ec2.create_route(RouteTableId=table_id, DestinationCidrBlock=ANYWHERE, **target)
    associated = {a.get("SubnetId") for a in table.get("Associations", [])}
    for subnet_id in subnet_ids:
        if subnet_id not in associated:
            ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet_id)
    return table_id


# -- teardown ----------------------------------------------------------------------------

def delete_network(spec: PlatformSpec, nat_timeout_s: float = NAT_TIMEOUT_S,
                   poll_s: float = 10.0) -> list[str]:
    """Every tagged network piece, in dependency order: NAT gateways (waited until deleted)
    -> Elastic IPs -> internet gateways -> route tables (not the main one) -> subnets -> VPC.
    An existing VPC from the config is never touched. Already gone is success."""
    if spec.cfg.cluster.network.vpc_id:
        return []
    ec2 = client(spec.cfg, "ec2")
    deleted: list[str] = []
    vpc_ids = [v["VpcId"] for v in ec2.describe_vpcs(Filters=_filters(spec))["Vpcs"]]
    nats = [n["NatGatewayId"] for vpc_id in vpc_ids for n in ec2.describe_nat_gateways(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                 {"Name": "state", "Values": [*NAT_LIVE_STATES, "deleting"]}])["NatGateways"]]
    for nat_id in nats:
        _delete(deleted, nat_id, ec2.delete_nat_gateway, NatGatewayId=nat_id)
    for nat_id in nats:  # its Elastic IP stays in use until the NAT gateway is gone
        _wait_nat(ec2, nat_id, "deleted", nat_timeout_s, poll_s)
    for address in ec2.describe_addresses(Filters=_filters(spec))["Addresses"]:
        _delete(deleted, address["AllocationId"], ec2.release_address,
                AllocationId=address["AllocationId"])
    for igw in ec2.describe_internet_gateways(Filters=_filters(spec))["InternetGateways"]:
        igw_id = igw["InternetGatewayId"]
        for attachment in igw.get("Attachments", []):
            _delete([], igw_id, ec2.detach_internet_gateway, InternetGatewayId=igw_id,
                    VpcId=attachment["VpcId"])
        _delete(deleted, igw_id, ec2.delete_internet_gateway, InternetGatewayId=igw_id)
    for vpc_id in vpc_ids:
        _delete_route_tables(ec2, vpc_id, deleted)
        for subnet in ec2.describe_subnets(
                Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]:
            _delete(deleted, subnet["SubnetId"], ec2.delete_subnet, SubnetId=subnet["SubnetId"])
        _delete(deleted, vpc_id, ec2.delete_vpc, VpcId=vpc_id)
    return deleted


def _delete_route_tables(ec2, vpc_id: str, deleted: list[str]) -> None:
    tables = ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    for table in tables:
        associations = table.get("Associations", [])
        if any(a.get("Main") for a in associations):
            continue  # the main route table goes with the VPC
        for association in associations:
            _delete([], association["RouteTableAssociationId"], ec2.disassociate_route_table,
                    AssociationId=association["RouteTableAssociationId"])
        _delete(deleted, table["RouteTableId"], ec2.delete_route_table,
                RouteTableId=table["RouteTableId"])


def _delete(deleted: list[str], resource_id: str, call, **kwargs: Any) -> None:
    try:
        call(**kwargs)
    except Exception as err:
        if not gone(err):
            raise
        return
    deleted.append(resource_id)
