"""The IRSA roles of monitoring against moto over HTTP: Alertmanager may only publish to
the platform topic, Fluent Bit may only write to the provisioned log group, each trusted
for exactly the one service account its chart creates; a second provision changes
nothing, a changed policy is reported, teardown deletes them and the audit names them
while they are left."""

from __future__ import annotations

import inspect
import json

import pytest

from flink_platform.aws.clients import ConfigDriftError

ACCOUNT = "123456789012"  # moto's account
ISSUER = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
HOST = ISSUER.removeprefix("https://")


def _doc(value):
    return json.loads(value) if isinstance(value, str) else value


@pytest.fixture()
def provisioned_iam(aws, spec):
    """What provision's ensure_iam step creates (job IAM, then the monitoring roles), plus
    the topic and log group the roles point at; returns the ARNs."""
    from flink_platform.aws.alerts import ensure_log_group, ensure_topic
    from flink_platform.aws.iam import ensure_job_iam, ensure_monitoring_iam

    job = ensure_job_iam(spec, ACCOUNT, ISSUER)
    roles = ensure_monitoring_iam(spec, ACCOUNT, ISSUER)
    return {**job, **roles, "topic_arn": ensure_topic(spec),
            "log_group_arn": ensure_log_group(spec)}


def _trust_and_policy(iam, name: str) -> tuple[dict, list[str], dict]:
    role = iam.get_role(RoleName=name)["Role"]
    [policy_name] = iam.list_role_policies(RoleName=name)["PolicyNames"]
    document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
    return _doc(role["AssumeRolePolicyDocument"]), [policy_name], _doc(document)


def _irsa_trust(service_account: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{HOST}"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            f"{HOST}:sub": [f"system:serviceaccount:{service_account}"],
            f"{HOST}:aud": "sts.amazonaws.com"}}}]}


def test_alertmanager_role_may_only_publish_to_the_topic(aws, spec, provisioned_iam):
    iam, name = aws("iam"), "alertmanager-sns-local-demo"
    assert spec.names["alertmanager_role"] == name
    assert provisioned_iam["alertmanager_role_arn"] == f"arn:aws:iam::{ACCOUNT}:role/{name}"
    trust, policies, document = _trust_and_policy(iam, name)
    assert trust == _irsa_trust("monitoring:kube-prometheus-stack-alertmanager")
    assert policies == ["publish-alerts"]
    assert document == {"Version": "2012-10-17", "Statement": [{
        "Sid": "PublishAlerts", "Effect": "Allow", "Action": ["sns:Publish"],
        "Resource": [provisioned_iam["topic_arn"]]}]}
    topic = provisioned_iam["topic_arn"]
    assert topic == f"arn:aws:sns:us-east-1:{ACCOUNT}:fraud-alerts-local-demo"
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
    tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name)["Tags"]}
    assert tags == spec.tags


def test_fluent_bit_role_may_only_write_to_the_log_group(aws, spec, provisioned_iam):
    iam, name = aws("iam"), "fluent-bit-logs-local-demo"
    assert provisioned_iam["fluent_bit_role_arn"] == f"arn:aws:iam::{ACCOUNT}:role/{name}"
    trust, policies, document = _trust_and_policy(iam, name)
    assert trust == _irsa_trust("monitoring:aws-for-fluent-bit")
    assert policies == ["ship-flink-logs"]
    group = provisioned_iam["log_group_arn"]
    assert group == f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{spec.names['log_group']}"
    assert document == {"Version": "2012-10-17", "Statement": [{
        "Sid": "ShipFlinkLogs", "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
        "Resource": [group, f"{group}:log-stream:*"]}]}  # no CreateLogGroup: no auto-create
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []


def test_second_provision_changes_nothing(aws, spec, provisioned_iam):
    from flink_platform.aws.iam import ensure_job_iam, ensure_monitoring_iam

    iam = aws("iam")
    names = ("alertmanager-sns-local-demo", "fluent-bit-logs-local-demo")
    before = {n: (iam.get_role(RoleName=n)["Role"], _trust_and_policy(iam, n)) for n in names}
    roles_before = iam.list_roles()["Roles"]
    ensure_job_iam(spec, ACCOUNT, ISSUER)
    again = ensure_monitoring_iam(spec, ACCOUNT, ISSUER)
    assert again == {key: provisioned_iam[key]
                     for key in ("alertmanager_role_arn", "fluent_bit_role_arn")}
    assert iam.list_roles()["Roles"] == roles_before
    for name in names:
        role, trust_and_policy = before[name]
        assert iam.get_role(RoleName=name)["Role"]["RoleId"] == role["RoleId"]
        assert _trust_and_policy(iam, name) == trust_and_policy


def test_a_changed_policy_is_reported_not_changed(aws, spec, provisioned_iam):
    from flink_platform.aws.iam import ensure_monitoring_iam

    iam, name = aws("iam"), "alertmanager-sns-local-demo"
    wider = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": "*"}]}
    iam.put_role_policy(RoleName=name, PolicyName="publish-alerts",
                        PolicyDocument=json.dumps(wider))
    with pytest.raises(ConfigDriftError, match=rf"IAM role {name} .*inline policy publish-alerts"):
        ensure_monitoring_iam(spec, ACCOUNT, ISSUER)
    assert _trust_and_policy(iam, name)[2] == wider  # untouched

    iam.put_role_policy(RoleName=name, PolicyName="extra", PolicyDocument=json.dumps(wider))
    with pytest.raises(ConfigDriftError, match="inline policies: exists with"):
        ensure_monitoring_iam(spec, ACCOUNT, ISSUER)


def test_a_role_without_its_policy_gets_it(aws, spec, provisioned_iam):
    """A run that stopped between create_role and put_role_policy is completed."""
    from flink_platform.aws.iam import ensure_monitoring_iam

    iam, name = aws("iam"), "fluent-bit-logs-local-demo"
    iam.delete_role_policy(RoleName=name, PolicyName="ship-flink-logs")
    ensure_monitoring_iam(spec, ACCOUNT, ISSUER)
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["ship-flink-logs"]


def test_teardown_deletes_them_and_the_audit_names_them_until_then(aws, spec, provisioned_iam):
    from flink_platform.aws.audit import leftover_resources
    from flink_platform.aws.iam import delete_monitoring_iam

    arns = {provisioned_iam["alertmanager_role_arn"], provisioned_iam["fluent_bit_role_arn"]}
    assert arns <= set(leftover_resources(spec))
    assert delete_monitoring_iam(spec) == ["alertmanager-sns-local-demo",
                                           "fluent-bit-logs-local-demo"]
    names = [r["RoleName"] for r in aws("iam").list_roles()["Roles"]]
    assert "alertmanager-sns-local-demo" not in names and "fluent-bit-logs-local-demo" not in names
    assert spec.names["job_role"] in names  # only its own roles
    assert not arns & set(leftover_resources(spec))
    assert delete_monitoring_iam(spec) == []  # a second teardown: nothing to do


def test_teardown_of_nothing_succeeds(aws, spec):
    from flink_platform.aws.iam import delete_monitoring_iam

    assert delete_monitoring_iam(spec) == []


def test_teardown_dag_deletes_them_after_uninstalling_monitoring():
    import platform_teardown

    task = platform_teardown.dag.get_task("delete_monitoring_iam")
    assert task.upstream_task_ids == {"confirm_teardown", "uninstall_monitoring"}
    assert task.trigger_rule == "all_done"
    # before the OIDC provider they trust goes (delete_job_iam), and before the audit
    later = task.get_flat_relative_ids(upstream=False)
    assert {"delete_job_iam", "audit_leftovers"} <= later


def test_provision_dag_passes_ensure_iam_roles_to_install_monitoring():
    import platform_provision

    task = platform_provision.dag.get_task("install_monitoring")
    assert "ensure_iam" in task.upstream_task_ids
    bound = inspect.signature(platform_provision.install_monitoring.function).bind(
        *task.op_args, **task.op_kwargs).arguments
    kwargs = {k: (v.operator.task_id, v.key) for k, v in bound.items()}
    assert kwargs["alertmanager_role_arn"] == ("ensure_iam", "alertmanager_role_arn")
    assert kwargs["fluent_bit_role_arn"] == ("ensure_iam", "fluent_bit_role_arn")
