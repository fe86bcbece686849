"""One lifecycle action per job at a time: the job lease (flink_platform.job_lease) against
the AWS emulator over HTTP (its conditional writes, If-None-Match / If-Match, as S3's)."""

from __future__ import annotations

import boto3
import pytest

from flink_platform.job_lease import JobLeases, lease_acquired
from flink_platform.triggers.polling import READY, WAITING


@pytest.fixture()
def leases(clean_moto, platform_config):
    s3 = boto3.client("s3", endpoint_url=clean_moto, region_name=platform_config.region,
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    leases = JobLeases(platform_config, s3)
    s3.create_bucket(Bucket=leases.bucket)
    s3.put_bucket_versioning(Bucket=leases.bucket, VersioningConfiguration={"Status": "Enabled"})
    return leases


def test_second_holder_waits_and_learns_who_holds_it(leases):
    taken, lease = leases.try_acquire("job-a", "flink_deploy/run-1/job_a", "deploy")
    assert taken and lease.holder == "flink_deploy/run-1/job_a"
    taken, held = leases.try_acquire("job-a", "flink_savepoint_upgrade/run-2/savepoint_job_a",
                                     "savepoint")
    assert not taken
    assert held.holder == "flink_deploy/run-1/job_a" and "(deploy)" in held.describe()
    # another job is independent
    assert leases.try_acquire("job-b", "flink_savepoint_upgrade/run-2/x", "savepoint")[0]


def test_a_retried_task_keeps_its_own_lease(leases):
    first = leases.try_acquire("job-a", "dag/run-1/g", "upgrade")[1]
    taken, again = leases.try_acquire("job-a", "dag/run-1/g", "upgrade")
    assert taken and again == first  # the same lease, not a new lifetime


def test_release_only_by_the_holder_then_the_next_action_takes_it(leases):
    leases.try_acquire("job-a", "dag/run-1/g", "upgrade")
    assert "left as it is" in leases.release("job-a", "dag/run-2/g")
    assert leases.current("job-a")[0].holder == "dag/run-1/g"
    assert "released" in leases.release("job-a", "dag/run-1/g")
    assert leases.current("job-a") is None
    assert leases.try_acquire("job-a", "dag/run-2/g", "savepoint")[0]
    assert "no lease" in leases.release("job-b", "dag/run-2/g")


def test_a_lapsed_lease_is_taken_over_exactly_once(leases):
    leases.try_acquire("job-a", "dag/run-dead/g", "deploy", now=1000.0)  # lapsed long ago
    stale_etag = leases.current("job-a")[1]
    taken, lease = leases.try_acquire("job-a", "dag/run-2/g", "savepoint")
    assert taken and lease.holder == "dag/run-2/g"
    # a second waiter that read the same lapsed lease loses: its If-Match no longer matches
    body = b'{"job": "job-a", "holder": "dag/run-3/g"}'
    with pytest.raises(leases.s3.exceptions.ClientError, match="PreconditionFailed"):
        leases.s3.put_object(Bucket=leases.bucket, Key=leases.key("job-a"), Body=body,
                             IfMatch=stale_etag)
    assert leases.current("job-a")[0].holder == "dag/run-2/g"
    # and the holder that came back late cannot release the new holder's lease
    assert "left as it is" in leases.release("job-a", "dag/run-dead/g")


def test_the_sensor_check_says_ready_or_names_the_holder(leases, monkeypatch):
    monkeypatch.setattr(JobLeases, "s3", leases.s3)
    state, message, value = lease_acquired({}, "job-a", "dag/run-1/g", "upgrade")
    assert state == READY and value["holder"] == "dag/run-1/g", message
    state, message, value = lease_acquired({}, "job-a", "dag/run-2/g", "savepoint")
    assert state == WAITING and value is None
    assert "held by dag/run-1/g (upgrade)" in message, message


def test_a_lease_must_outlive_the_longest_action():
    from flink_platform.config import FlinkConfig

    with pytest.raises(ValueError, match="action_lease_ttl_s .* ready_timeout_s"):
        FlinkConfig(ready_timeout_s=1800, action_lease_ttl_s=3600)
