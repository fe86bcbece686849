"""Provision's roles reach the charts: the IRSA roles ``ensure_iam`` creates (moto over
HTTP) go through the DAG's install_monitoring task and the aws platform adapter into the
helm commands of the installer pods (kmock over HTTP), as the annotation of exactly the
service accounts the roles trust."""

from __future__ import annotations

import asyncio
import json

import pytest
from kmock import resource

from flink_platform.kubernetes import monitoring as mon
from tests.provision.kube_helpers import wait_for

ISSUER = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
HOST = ISSUER.removeprefix("https://")


@pytest.fixture()
def aws_spec(clean_moto):
    """The aws config's spec; its ``aws_default`` is the test moto server here."""
    from flink_platform.aws.specs import PlatformSpec
    from flink_platform.config import load_config

    return PlatformSpec(load_config("aws"))


def _trusted_account(aws_spec, role_arn: str) -> str:
    """The one service account (namespace/name) the role's trust allows."""
    from flink_platform.aws.clients import client

    role = client(aws_spec.cfg, "iam").get_role(RoleName=role_arn.rsplit("/", 1)[1])["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    [statement] = trust["Statement"]
    [subject] = statement["Condition"]["StringEquals"][f"{HOST}:sub"]
    _, _, namespace, name = subject.split(":")
    return f"{namespace}/{name}"


def _value(command: list[str], key: str) -> str:
    """The value of ``--set``/``--set-json key=...`` in a helm command (exactly one)."""
    [value] = [arg.partition("=")[2] for flag, arg in zip(command, command[1:], strict=False)
               if flag in ("--set", "--set-json") and arg.partition("=")[0] == key]
    return value


async def test_the_charts_carry_the_provisioned_roles(kmock, kube, aws_spec, monkeypatch):
    import platform_provision
    from flink_platform import adapters
    from flink_platform.adapters.platform_kubernetes import KubernetesPlatformAdapter
    from flink_platform.aws.clients import account_id
    from flink_platform.aws.iam import ensure_job_iam, ensure_monitoring_iam

    cfg = aws_spec.cfg
    account = account_id(cfg)
    ensure_job_iam(aws_spec, account, ISSUER)  # ensure_iam's order: the OIDC provider first
    roles = ensure_monitoring_iam(aws_spec, account, ISSUER)
    assert roles == {
        "alertmanager_role_arn": f"arn:aws:iam::{account}:role/alertmanager-sns-prod-x7k2",
        "fluent_bit_role_arn": f"arn:aws:iam::{account}:role/fluent-bit-logs-prod-x7k2"}
    topic = aws_spec.topic_arn(account)
    # the DAG task's adapter, on kmock instead of the EKS endpoint
    monkeypatch.setattr(adapters, "get_platform_adapter", lambda c: KubernetesPlatformAdapter(
        c, kube=kube, helm_poll_s=0.02))

    task = asyncio.create_task(asyncio.to_thread(
        platform_provision.install_monitoring.function, cfg.model_dump(mode="json"), topic,
        roles["alertmanager_role_arn"], roles["fluent_bit_role_arn"]))
    commands = {}
    for release in ("kube-prometheus-stack", "aws-for-fluent-bit"):
        key = (resource("v1/pods"), cfg.namespaces.operator, f"helm-{release}")
        await wait_for(lambda key=key: key in kmock.objects and not kmock.objects[key].deleted,
                       what=f"pod helm-{release}")
        commands[release] = kmock.objects[key].raw["spec"]["containers"][0]["command"]
        kmock.objects[key].patch({"status": {"phase": "Succeeded"}})
    result = await task
    assert result["releases"] == ["kube-prometheus-stack", "aws-for-fluent-bit"]

    stack, logs = commands["kube-prometheus-stack"], commands["aws-for-fluent-bit"]
    assert stack == mon.kube_prometheus_stack_command(cfg, topic, roles["alertmanager_role_arn"])
    assert logs == mon.fluent_bit_command(cfg, aws_spec.names["log_group"],
                                          roles["fluent_bit_role_arn"])
    assert json.loads(_value(stack, "alertmanager.serviceAccount.annotations")) == {
        "eks.amazonaws.com/role-arn": roles["alertmanager_role_arn"]}
    assert json.loads(_value(logs, "serviceAccount.annotations")) == {
        "eks.amazonaws.com/role-arn": roles["fluent_bit_role_arn"]}
    # the annotated account is the one the role trusts, in the release's namespace
    assert stack[stack.index("--namespace") + 1] == logs[logs.index("--namespace") + 1] \
        == "monitoring"
    assert _trusted_account(aws_spec, roles["alertmanager_role_arn"]) == \
        f"monitoring/{_value(stack, 'alertmanager.serviceAccount.name')}" == \
        "monitoring/kube-prometheus-stack-alertmanager"
    assert _trusted_account(aws_spec, roles["fluent_bit_role_arn"]) == \
        f"monitoring/{_value(logs, 'serviceAccount.name')}" == "monitoring/aws-for-fluent-bit"
