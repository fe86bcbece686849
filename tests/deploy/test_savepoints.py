"""Savepoints in S3 through one code path for both targets (flink_platform.savepoints),
against the AWS emulator over HTTP."""

from __future__ import annotations

import time

import boto3
import pytest

from flink_platform.savepoints import SavepointStore, split_s3


@pytest.fixture()
def store(clean_moto, platform_config):
    s3 = boto3.client("s3", endpoint_url=clean_moto, region_name=platform_config.region,
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    store = SavepointStore(platform_config, s3)
    s3.create_bucket(Bucket=store.bucket)
    s3.put_bucket_versioning(Bucket=store.bucket, VersioningConfiguration={"Status": "Enabled"})
    return store


def _write(store, name: str, files=("_metadata", "state-1")) -> str:
    for f in files:
        store.s3.put_object(Bucket=store.bucket, Key=f"savepoints/job-a/{name}/{f}", Body=b"x")
        time.sleep(0.01)  # LastModified order
    return f"s3://{store.bucket}/savepoints/job-a/{name}"


def test_list_oldest_first_only_complete_savepoints(store):
    first, second = _write(store, "savepoint-1"), _write(store, "savepoint-2")
    _write(store, "in-progress", files=("state-1",))  # no _metadata: not a savepoint
    store.s3.put_object(Bucket=store.bucket, Key="savepoints/job-b/savepoint-9/_metadata", Body=b"")
    assert store.list("job-a") == [first, second]
    assert store.exists(first) and not store.exists(f"{first}x")


def test_dispose_removes_every_version(store):
    path = _write(store, "savepoint-1")
    store.s3.put_object(Bucket=store.bucket, Key="savepoints/job-a/savepoint-1/state-1", Body=b"y")
    assert store.dispose(path) == 3  # two versions of state-1, one of _metadata
    left = store.s3.list_object_versions(Bucket=store.bucket, Prefix="savepoints/job-a/")
    assert not left.get("Versions") and not left.get("DeleteMarkers")
    assert store.list("job-a") == []


def test_dispose_refuses_anything_but_a_savepoint_of_the_bucket(store):
    for path in (f"s3://{store.bucket}/checkpoints/job-a/chk-1", "s3://other/savepoints/a/b",
                 f"s3://{store.bucket}/savepoints/job-a"):
        with pytest.raises(ValueError, match="refusing to dispose"):
            store.dispose(path)


def test_move_relocates_a_savepoint(store):
    source = _write(store, "savepoint-1")
    target = store.move(source, f"s3://{store.bucket}/savepoints/job-a/handover-1")
    assert target.endswith("/handover-1") and store.list("job-a") == [target]
    keys = [o["Key"] for o in store.s3.list_objects_v2(Bucket=store.bucket)["Contents"]]
    assert sorted(keys) == ["savepoints/job-a/handover-1/_metadata",
                            "savepoints/job-a/handover-1/state-1"]
    with pytest.raises(FileNotFoundError):
        store.move(source, f"s3://{store.bucket}/savepoints/job-a/handover-2")


def test_split_s3():
    assert split_s3("s3://b/a/c/") == ("b", "a/c/")
    with pytest.raises(ValueError):
        split_s3("file:///tmp/x")
