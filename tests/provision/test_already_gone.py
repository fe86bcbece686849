"""Every teardown step on an empty account: "already gone" is success, nothing raises."""

from __future__ import annotations


def test_every_delete_step_tolerates_missing_resources(aws, spec):
    from flink_platform.aws.alerts import delete_log_group, delete_topic, delete_virtual_cluster
    from flink_platform.aws.audit import leftover_resources
    from flink_platform.aws.cluster import delete_network_and_roles
    from flink_platform.aws.iam import delete_job_iam
    from flink_platform.aws.storage import empty_and_delete_bucket
    from flink_platform.aws.streams import delete_streams

    assert delete_virtual_cluster(spec) is None
    assert delete_streams(spec.cfg, list(spec.streams)) == []
    assert empty_and_delete_bucket(spec)["deleted"] is False
    assert delete_log_group(spec) is False
    assert delete_topic(spec, "123456789012") is False
    assert delete_job_iam(spec, "123456789012") == []
    assert delete_network_and_roles(spec) == []
    assert leftover_resources(spec) == []


def test_eks_delete_operators_treat_missing_as_success(aws, spec):
    from flink_platform.operators.eks import EksDeleteClusterIfExists, EksDeleteNodegroupIfExists

    common = {"cluster_name": spec.names["cluster"], "region_name": spec.cfg.region,
              "wait_for_completion": True, "waiter_delay": 1, "waiter_max_attempts": 3}
    EksDeleteNodegroupIfExists(task_id="ng", operator_kwargs={
        **common, "nodegroup_name": spec.names["nodegroup"]}).execute({})
    EksDeleteClusterIfExists(task_id="cl", operator_kwargs={
        **common, "force_delete_compute": True}).execute({})


def test_bucket_teardown_removes_every_version_and_delete_marker(aws, spec):
    from flink_platform.aws.storage import configure_bucket, empty_and_delete_bucket

    s3, bucket = aws("s3"), spec.names["bucket"]
    s3.create_bucket(Bucket=bucket)
    configure_bucket(spec)  # versioning on
    for body in (b"v1", b"v2"):
        s3.put_object(Bucket=bucket, Key="checkpoints/chk-1/_metadata", Body=body)
    s3.delete_object(Bucket=bucket, Key="checkpoints/chk-1/_metadata")  # a delete marker
    result = empty_and_delete_bucket(spec)
    assert result == {"bucket": bucket, "deleted": True, "versions_removed": 3}
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
