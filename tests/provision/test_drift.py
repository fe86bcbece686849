"""An existing resource with other settings is reported by name and field, not changed."""

from __future__ import annotations

import pytest

from flink_platform.aws.clients import ConfigDriftError


def test_bucket_with_other_lifecycle_is_reported_not_changed(aws, spec):
    from flink_platform.aws.storage import configure_bucket

    s3, bucket = aws("s3"), spec.names["bucket"]
    s3.create_bucket(Bucket=bucket)
    other = {"Rules": [{"ID": "mine", "Filter": {"Prefix": "checkpoints/"}, "Status": "Enabled",
                        "Transitions": [{"Days": 60, "StorageClass": "STANDARD_IA"}]}]}
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=other)
    with pytest.raises(ConfigDriftError, match=rf"S3 bucket {bucket} .*lifecycle"):
        configure_bucket(spec)
    [rule] = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rule["ID"] == "mine"  # untouched


def test_fresh_bucket_is_configured_then_reused(aws, spec):
    from flink_platform.aws.storage import configure_bucket

    aws("s3").create_bucket(Bucket=spec.names["bucket"])
    first = configure_bucket(spec)
    assert set(first["applied"]) == {"versioning", "lifecycle", "public access block", "tags"}
    assert configure_bucket(spec)["applied"] == []


def test_cluster_with_other_version_is_reported(aws, spec):
    from flink_platform.aws.cluster import cluster_exists

    aws("eks").create_cluster(name=spec.names["cluster"], version="1.29",
                              roleArn="arn:aws:iam::123456789012:role/x",
                              resourcesVpcConfig={"subnetIds": []})
    with pytest.raises(ConfigDriftError,
                       match=rf"EKS cluster {spec.names['cluster']} .*version: exists with '1.29'"):
        cluster_exists(spec)


def test_role_with_other_trust_is_reported(aws, spec):
    import json

    from flink_platform.aws.iam import ensure_role

    name = spec.names["cluster_role"]
    aws("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(
        spec.node_role_trust()))
    with pytest.raises(ConfigDriftError, match=rf"IAM role {name} .*trust policy"):
        ensure_role(spec, name, spec.cluster_role_trust(), [])


def test_bucket_rules_keep_checkpoints_readable_and_expire_old_versions(aws, spec):
    """No checkpoint ever moves to an archive class (a restore reads old shared files of
    incremental checkpoints at once); noncurrent versions expire; abandoned multipart
    uploads are aborted. Read back from the emulator, as S3 stores them."""
    from flink_platform.aws.storage import configure_bucket

    s3, bucket = aws("s3"), spec.names["bucket"]
    s3.create_bucket(Bucket=bucket)
    configure_bucket(spec)
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    classes = {t["StorageClass"] for r in rules for t in r.get("Transitions", [])}
    assert classes == {"STANDARD_IA"}, classes
    [expire] = [r for r in rules if "NoncurrentVersionExpiration" in r]
    assert (expire.get("Filter", {}).get("Prefix") or "") == ""  # the whole bucket
    assert expire["NoncurrentVersionExpiration"]["NoncurrentDays"] == 7
    assert expire["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 7
    assert configure_bucket(spec)["applied"] == []  # read back equal: no drift
