"""The resource specs: names carry the environment suffix, the job policy is least
privilege, the IRSA trust is conditioned on the job namespace's service accounts."""

from __future__ import annotations

import json


def test_names_carry_the_environment_suffix(spec):
    assert all(name.endswith("-local-demo") for name in spec.names.values())


def test_job_policy_has_no_wildcard_action_and_star_only_for_metrics(spec):
    doc = spec.job_policy("123456789012")
    for statement in doc["Statement"]:
        assert all("*" not in action for action in statement["Action"])
        resources = statement["Resource"]
        if statement["Sid"] == "Metrics":
            assert resources == "*" and statement["Action"] == ["cloudwatch:PutMetricData"]
            assert statement["Condition"] == {
                "StringEquals": {"cloudwatch:namespace": "flink-platform"}}
        else:
            assert "*" not in resources
    assert "kinesis:ListStreams" not in json.dumps(doc)


def test_trust_is_conditioned_on_job_service_accounts(spec):
    issuer = "https://oidc.eks.us-east-1.amazonaws.com/id/ABC"
    [statement] = spec.job_role_trust("123456789012", issuer)["Statement"]
    assert statement["Condition"]["StringEquals"] == {
        "oidc.eks.us-east-1.amazonaws.com/id/ABC:sub": ["system:serviceaccount:flink-jobs:flink"],
        "oidc.eks.us-east-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com"}


def test_aws_clients_retry_throttling_with_adaptive_backoff(platform_config):
    from flink_platform.aws.clients import client
    from flink_platform.aws.streams import kinesis
    from flink_platform.operators.kinesis import KinesisCreateStreamOperator

    for conn in (client(platform_config, "s3"), kinesis("aws_default", platform_config.region)):
        assert conn.meta.config.retries["mode"] == "adaptive"
        assert conn.meta.config.retries["total_max_attempts"] == 11  # 1 call + 10 retries
    op = KinesisCreateStreamOperator(task_id="t", stream_name="s", shard_count=1)
    assert op.hook.conn.meta.config.retries["mode"] == "adaptive"
