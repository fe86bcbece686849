"""The final teardown audit against moto over HTTP: resources AWS still reports while they
go away (a deleted NAT gateway, a terminated EMR virtual cluster) are not leftovers; a live
one is, and the audit task fails naming it."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException


def _tagged_nat(aws, spec) -> str:
    ec2 = aws("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.7.0.0/24")["Subnet"]["SubnetId"]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]  # untagged: not ours
    tags = [{"ResourceType": "natgateway", "Tags": spec.tag_list()}]
    return ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation,
                                  TagSpecifications=tags)["NatGateway"]["NatGatewayId"]


def test_deleted_nat_gateway_is_not_a_leftover_a_live_one_is(aws, spec):
    from flink_platform.aws.audit import leftover_resources

    nat_id = _tagged_nat(aws, spec)
    [live] = leftover_resources(spec)
    assert live.endswith(f":natgateway/{nat_id}")
    aws("ec2").delete_nat_gateway(NatGatewayId=nat_id)  # still listed, state "deleted"
    assert leftover_resources(spec) == []


def test_terminated_virtual_cluster_is_not_a_leftover(aws, spec):
    from flink_platform.aws.audit import _going_away

    emr = aws("emr-containers")
    vc = emr.create_virtual_cluster(
        name=spec.names["virtual_cluster"], tags=spec.tags,
        containerProvider={"type": "EKS", "id": spec.names["cluster"],
                           "info": {"eksInfo": {"namespace": spec.cfg.namespaces.jobs}}})
    assert _going_away(spec, vc["arn"]) is False
    emr.delete_virtual_cluster(id=vc["id"])
    assert _going_away(spec, vc["arn"]) is True


def test_audit_task_fails_naming_the_live_resource(aws, spec, airflow_db):
    import platform_teardown

    config = spec.cfg.model_dump(mode="json")
    nat_id = _tagged_nat(aws, spec)
    with pytest.raises(AirflowFailException, match=f"natgateway/{nat_id}"):
        platform_teardown.audit_leftovers.function(config)
    aws("ec2").delete_nat_gateway(NatGatewayId=nat_id)
    assert platform_teardown.audit_leftovers.function(config) == []
