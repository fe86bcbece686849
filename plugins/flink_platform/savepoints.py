"""The jobs' savepoints in S3, one code path for both targets.

Savepoints live under ``s3://<bucket>/savepoints/<job>/<savepoint dir>/`` (Flink writes
``_metadata`` and the state files there; job_launch sets the directory on both targets).
Listing, retention and disposal read and delete those objects through the platform's AWS
connection: the emulator on ``local``, S3 on ``aws``. The bucket is versioned, so disposal
removes every version of every object (a delete marker alone would keep paying for state).
``move`` relocates a savepoint (Flink savepoints are self-contained and relocatable): the
local handover upgrade restores from a path chosen before the savepoint existed.
"""

from __future__ import annotations

from typing import Any

from flink_platform.aws.clients import StateBucketClient

METADATA = "_metadata"


def split_s3(path: str) -> tuple[str, str]:
    """``s3://bucket/a/b/`` -> (``bucket``, ``a/b/``) (``s3a://`` / ``s3p://`` too)."""
    scheme, sep, rest = path.partition("://")
    if not sep or scheme not in ("s3", "s3a", "s3p"):
        raise ValueError(f"not an S3 path: {path!r}")
    bucket, _, key = rest.partition("/")
    return bucket, key


class SavepointStore(StateBucketClient):
    """Savepoints of the platform's jobs in the state bucket.

    :param cfg: the platform config (bucket name, AWS connection)
    :param s3: a boto3 S3 client (default: through the config's Airflow AWS connection)
    """

    def root(self, job: str) -> str:
        return f"s3://{self.bucket}/savepoints/{job}"

    def _objects(self, prefix: str) -> list[dict[str, Any]]:
        objects = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                      Prefix=prefix):
            objects += page.get("Contents", [])
        return objects

    def list(self, job: str) -> list[str]:
        """Completed savepoints of ``job`` (a ``_metadata`` object), oldest first."""
        done = [o for o in self._objects(f"savepoints/{job}/") if o["Key"].endswith(f"/{METADATA}")]
        done.sort(key=lambda o: (o["LastModified"], o["Key"]))
        return [f"s3://{self.bucket}/{o['Key'].rsplit('/', 1)[0]}" for o in done]

    def exists(self, path: str) -> bool:
        bucket, key = split_s3(path.rstrip("/"))
        return any(o["Key"] == f"{key}/{METADATA}" for o in self._objects(f"{key}/"))

    def dispose(self, path: str) -> int:
        """Delete every version of every object under the savepoint; returns how many."""
        bucket, key = split_s3(path.rstrip("/"))
        if bucket != self.bucket or not key.startswith("savepoints/") or key.count("/") < 2:
            raise ValueError(f"refusing to dispose {path!r}: not a savepoint of the platform "
                             f"bucket {self.bucket} (s3://{self.bucket}/savepoints/<job>/<dir>)")
        removed = 0
        pages = self.s3.get_paginator("list_object_versions").paginate(Bucket=bucket,
                                                                       Prefix=f"{key}/")
        for page in pages:
            versions = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                        for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            for start in range(0, len(versions), 1000):
                self.s3.delete_objects(Bucket=bucket, Delete={
                    "Objects": versions[start:start + 1000], "Quiet": True})
            removed += len(versions)
        return removed

    def move(self, source: str, target: str) -> str:
        """Copy the savepoint ``source`` to ``target`` (server side), then dispose ``source``."""
        src_bucket, src_key = split_s3(source.rstrip("/"))
        dst_bucket, dst_key = split_s3(target.rstrip("/"))
        objects = self._objects(f"{src_key}/")
        if not any(o["Key"].endswith(f"/{METADATA}") for o in objects):
            raise FileNotFoundError(f"no savepoint at {source} (no {METADATA})")
        # _metadata last: a reader never sees a savepoint whose state files are missing
        for obj in sorted(objects, key=lambda o: o["Key"].endswith(f"/{METADATA}")):
            relative = obj["Key"][len(src_key) + 1:]
            self.s3.copy_object(Bucket=dst_bucket, Key=f"{dst_key}/{relative}",
                                CopySource={"Bucket": src_bucket, "Key": obj["Key"]})
        self.dispose(source)
        return f"s3://{dst_bucket}/{dst_key}"
