"""The state bucket's settings (versioning, encryption, lifecycle, public access, tags)
and its teardown (every object version and delete marker first)."""

from __future__ import annotations

from typing import Any

from flink_platform.aws.clients import check_drift, client, is_not_found
from flink_platform.aws.specs import PlatformSpec


def _read(call, key: str) -> Any:
    try:
        return call()[key]
    except Exception as err:
        if is_not_found(err):
            return None
        raise


def _current(s3, bucket: str) -> dict[str, Any]:
    return {
        "versioning": s3.get_bucket_versioning(Bucket=bucket).get("Status"),
        "lifecycle": _read(lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket), "Rules"),
        "public access block": _read(lambda: s3.get_public_access_block(Bucket=bucket),
                                     "PublicAccessBlockConfiguration"),
        "tags": _read(lambda: s3.get_bucket_tagging(Bucket=bucket), "TagSet"),
        "encryption": _read(lambda: s3.get_bucket_encryption(Bucket=bucket),
                            "ServerSideEncryptionConfiguration"),
    }


def _sse_algorithm(encryption: dict[str, Any] | None) -> str | None:
    rules = (encryption or {}).get("Rules") or [{}]
    return rules[0].get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")


def _lifecycle_view(rules: list[dict[str, Any]] | None) -> list[Any] | None:
    if not rules:
        return None
    return sorted((r.get("ID"), r.get("Filter", {}).get("Prefix") or "", r.get("Status"),
                   tuple((t["Days"], t["StorageClass"]) for t in r.get("Transitions", [])),
                   r.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays"),
                   r.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation"))
                  for r in rules)


def configure_bucket(spec: PlatformSpec) -> dict[str, Any]:
    """Apply every unset setting; a setting that is set differently is drift."""
    s3 = client(spec.cfg, "s3")
    bucket = spec.names["bucket"]
    have = _current(s3, bucket)
    want_lifecycle = spec.bucket_lifecycle()["Rules"]
    want_tags = {t["Key"]: t["Value"] for t in spec.tag_list()}
    have_tags = {t["Key"]: t["Value"] for t in have["tags"] or []}
    pairs: dict[str, tuple[Any, Any]] = {}  # only settings that are already set
    if have["versioning"] is not None:
        pairs["versioning"] = (have["versioning"], "Enabled")
    if have["lifecycle"] is not None:
        pairs["lifecycle"] = (_lifecycle_view(have["lifecycle"]), _lifecycle_view(want_lifecycle))
    if have["public access block"] is not None:
        pairs["public access block"] = (have["public access block"], spec.public_access_block())
    if _sse_algorithm(have["encryption"]) not in (None, "AES256"):  # S3's default is AES256
        pairs["encryption"] = (_sse_algorithm(have["encryption"]), "AES256")
    if have_tags:
        pairs["tags"] = ({k: have_tags.get(k) for k in want_tags}, want_tags)
    check_drift(f"S3 bucket {bucket}", pairs)
    applied = []
    if have["versioning"] is None:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        applied.append("versioning")
    s3.put_bucket_encryption(Bucket=bucket,
                             ServerSideEncryptionConfiguration=spec.bucket_encryption())
    if have["lifecycle"] is None:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket,
                                              LifecycleConfiguration={"Rules": want_lifecycle})
        applied.append("lifecycle")
    if have["public access block"] is None:
        s3.put_public_access_block(Bucket=bucket,
                                   PublicAccessBlockConfiguration=spec.public_access_block())
        applied.append("public access block")
    if not have_tags:
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": spec.tag_list()})
        applied.append("tags")
    return {"bucket": bucket, "bucket_arn": f"arn:aws:s3:::{bucket}", "applied": applied}


def empty_and_delete_bucket(spec: PlatformSpec) -> dict[str, Any]:
    """Delete every object version and delete marker, then the bucket; gone is success."""
    s3 = client(spec.cfg, "s3")
    bucket = spec.names["bucket"]
    removed = 0
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            keys = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                    for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            for start in range(0, len(keys), 1000):
                s3.delete_objects(Bucket=bucket,
                                  Delete={"Objects": keys[start:start + 1000], "Quiet": True})
            removed += len(keys)
        s3.delete_bucket(Bucket=bucket)
    except Exception as err:
        if not is_not_found(err):
            raise
        return {"bucket": bucket, "deleted": False, "versions_removed": removed}
    return {"bucket": bucket, "deleted": True, "versions_removed": removed}
