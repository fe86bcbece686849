"""Provision (twice) and teardown end to end with ``dag.test()`` against moto over HTTP and
the real local Flink cluster; teardown after a provision that failed at step 5."""

from __future__ import annotations

import json

import pytest

from tests.provision.conftest import run_dag

pytestmark = pytest.mark.slow
REUSED = ("create_eks_cluster", "create_nodegroup", "create_virtual_cluster")


def _doc(value):
    return json.loads(value) if isinstance(value, str) else value


def assert_provisioned(aws, spec) -> None:
    """Every resource exists with the configured settings."""
    n, cfg = spec.names, spec.cfg
    cluster = aws("eks").describe_cluster(name=n["cluster"])["cluster"]
    assert cluster["status"] == "ACTIVE" and cluster["version"] == cfg.cluster.kubernetes_version
    ng = aws("eks").describe_nodegroup(clusterName=n["cluster"], nodegroupName=n["nodegroup"])
    scaling = cfg.cluster.nodegroup
    assert ng["nodegroup"]["scalingConfig"] == {"minSize": scaling.min_size,
                                                "maxSize": scaling.max_size,
                                                "desiredSize": scaling.desired_size}

    s3 = aws("s3")
    assert s3.get_bucket_versioning(Bucket=n["bucket"])["Status"] == "Enabled"
    encryption = s3.get_bucket_encryption(Bucket=n["bucket"])["ServerSideEncryptionConfiguration"]
    rule = encryption["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=n["bucket"])["Rules"]}
    tiering = rules["checkpoints-infrequent-access"]
    assert tiering["Filter"]["Prefix"] == "checkpoints/" and tiering["Status"] == "Enabled"
    assert [(t["Days"], t["StorageClass"]) for t in tiering["Transitions"]] == [
        (30, "STANDARD_IA")]  # never an archive class: restores read old shared files
    expire = rules["expire-noncurrent-versions"]
    assert expire["NoncurrentVersionExpiration"]["NoncurrentDays"] == 7
    block = s3.get_public_access_block(Bucket=n["bucket"])["PublicAccessBlockConfiguration"]
    assert block == dict.fromkeys(("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                                   "RestrictPublicBuckets"), True)
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=n["bucket"])["TagSet"]}
    assert tags == cfg.tags

    kinesis = aws("kinesis")
    for name, want in spec.streams.items():
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        assert summary["StreamStatus"] == "ACTIVE"
        assert summary["OpenShardCount"] == want.shards
        assert summary["RetentionPeriodHours"] == want.retention_hours

    iam = aws("iam")
    issuer = cluster["identity"]["oidc"]["issuer"].removeprefix("https://")
    role = iam.get_role(RoleName=n["job_role"])["Role"]
    [trust] = _doc(role["AssumeRolePolicyDocument"])["Statement"]
    assert trust["Principal"]["Federated"] == f"arn:aws:iam::123456789012:oidc-provider/{issuer}"
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Condition"] == {"StringEquals": {
        f"{issuer}:sub": [f"system:serviceaccount:{cfg.namespaces.jobs}:flink"],
        f"{issuer}:aud": "sts.amazonaws.com"}}
    [attached] = iam.list_attached_role_policies(RoleName=n["job_role"])["AttachedPolicies"]
    policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
    document = _doc(iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy[
        "DefaultVersionId"])["PolicyVersion"]["Document"])
    assert document == spec.job_policy("123456789012")
    statements = {s["Sid"]: s for s in document["Statement"]}
    assert statements["CheckpointsObjects"]["Resource"] == [f"arn:aws:s3:::{n['bucket']}/*"]
    assert statements["CheckpointsBucket"]["Resource"] == [f"arn:aws:s3:::{n['bucket']}"]
    assert sorted(statements["Streams"]["Resource"]) == sorted(
        f"arn:aws:kinesis:{cfg.region}:123456789012:stream/{s}" for s in spec.streams)
    for sid, statement in statements.items():
        assert all("*" not in action for action in statement["Action"]), sid
        if sid != "Metrics":  # PutMetricData: AWS allows no resource-level scoping
            assert all(not r.endswith(":*") or r.endswith("log-stream:*")
                       for r in statement["Resource"]) and "*" not in statement["Resource"], sid

    [vc] = aws("emr-containers").list_virtual_clusters(states=["RUNNING"])["virtualClusters"]
    assert vc["name"] == n["virtual_cluster"]
    assert vc["containerProvider"]["info"]["eksInfo"]["namespace"] == cfg.namespaces.jobs
    topics = [t["TopicArn"] for t in aws("sns").list_topics()["Topics"]]
    assert any(arn.endswith(f":{n['topic']}") for arn in topics)
    groups = aws("logs").describe_log_groups(logGroupNamePrefix=n["log_group"])["logGroups"]
    assert [g["logGroupName"] for g in groups] == [n["log_group"]]


def assert_published(spec) -> None:
    """The platform_provisioned Asset event and the stage summary carry what was created."""
    import sqlalchemy as sa
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    from flink_platform.reporting import read_stage_summaries

    with create_session() as session:
        extra = session.scalars(
            sa.select(AssetEvent.extra).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == "flink-platform://platform/provisioned")
            .order_by(AssetEvent.id.desc())).first()
    summary = read_stage_summaries(spec.cfg)["platform_provision"]
    for facts in (extra, summary):
        assert facts["cluster_name"] == spec.names["cluster"]
        assert facts["bucket"] == spec.names["bucket"]
        assert facts["job_role_arn"].endswith(f":role/{spec.names['job_role']}")
        assert set(facts["stream_arns"]) == set(spec.streams)
        assert facts["virtual_cluster_id"] and facts["topic_arn"].endswith(spec.names["topic"])


def inventory(aws) -> dict[str, int]:
    """How many of each resource type exist (duplicates would raise a count)."""
    return {
        "clusters": len(aws("eks").list_clusters()["clusters"]),
        "virtual_clusters": len(aws("emr-containers").list_virtual_clusters(
            states=["RUNNING"])["virtualClusters"]),
        "streams": len(aws("kinesis").list_streams()["StreamNames"]),
        "buckets": len(aws("s3").list_buckets()["Buckets"]),
        "topics": len(aws("sns").list_topics()["Topics"]),
        "roles": len([r for r in aws("iam").list_roles()["Roles"]
                      if not r["Path"].startswith("/aws-service-role/")]),
        "policies": len(aws("iam").list_policies(Scope="Local")["Policies"]),
        "oidc": len(aws("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"]),
        "vpcs": len(aws("ec2").describe_vpcs(Filters=[{"Name": "tag-key",
                                                       "Values": ["platform-env"]}])["Vpcs"]),
    }


def assert_nothing_left(aws, spec) -> None:
    from flink_platform.aws.audit import leftover_resources

    assert leftover_resources(spec) == []
    counts = inventory(aws)
    assert counts == dict.fromkeys(counts, 0), counts


@pytest.mark.flink
def test_provision_twice_then_teardown_leaves_nothing(aws, spec, airflow_db, flink_cluster):
    import platform_provision
    import platform_teardown

    state, tasks = run_dag(platform_provision.dag)
    assert state == "success", tasks
    assert_provisioned(aws, spec)
    assert_published(spec)
    first = inventory(aws)
    assert first["clusters"] == 1 and first["streams"] == 3 and first["virtual_clusters"] == 1

    state, tasks = run_dag(platform_provision.dag)
    assert state == "success", tasks
    assert all(tasks[t] == "skipped" for t in REUSED), tasks  # found and reused
    assert inventory(aws) == first
    assert_provisioned(aws, spec)

    state, tasks = run_dag(platform_teardown.dag)
    assert state == "success", tasks
    assert_nothing_left(aws, spec)


def test_teardown_after_provision_failed_at_streams(aws, spec, airflow_db):
    """A trading-events stream with another shard count makes step 5 fail (drift); the run
    stops before the readiness step, so no Flink cluster is needed."""
    import platform_provision
    import platform_teardown

    name = spec.names["trading_events"]
    aws("kinesis").create_stream(StreamName=name, ShardCount=5, Tags=spec.tags)

    state, tasks = run_dag(platform_provision.dag)
    assert state == "failed"
    assert tasks["create_stream_trading_events"] == "failed"
    assert tasks["configure_bucket"] == "success" and tasks["ensure_iam"] == "success"
    assert tasks["publish_platform"] == "upstream_failed"
    roles = {r["RoleName"] for r in aws("iam").list_roles()["Roles"]}
    assert {spec.names["alertmanager_role"], spec.names["fluent_bit_role"]} <= roles  # step 2

    state, tasks = run_dag(platform_teardown.dag)
    assert state == "success", tasks
    assert_nothing_left(aws, spec)
