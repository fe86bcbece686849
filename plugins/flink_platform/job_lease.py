"""One lifecycle action per job at a time: a lease object in the platform bucket.

Deploy, a scheduled savepoint, an upgrade (with its rollback) each act on a job through
several tasks, and two of them on the same job at once would interleave: a savepoint of a
job being replaced, an upgrade restoring from a path another run is disposing of, two
read-modify-writes of the local deployment record. So every action first takes the job's
lease, ``s3://<bucket>/leases/<job>.json``, and gives it back at the end (an Airflow
teardown task, so a failed action releases it too).

Taking it is one conditional write (``If-None-Match: *``): S3 (and the emulator on
``local``) lets exactly one writer create the object, on both targets the same code. A
second action waits (deferred, in the triggerer) and its timeout names the holder. A lease
whose holder never gave it back (the worker died, the run was marked failed by hand) lapses
at ``expires_at`` (``flink.action_lease_ttl_s`` after it was taken) and is replaced with a
conditional write on its ETag, so two waiters cannot both take it over.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from flink_platform.aws.clients import StateBucketClient
from flink_platform.config import PlatformConfig

LEASE_PREFIX = "leases"
PRECONDITION_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})


@dataclass(frozen=True)
class Lease:
    """Who holds ``job``: ``holder`` is ``<dag_id>/<run_id>/<task group>``."""

    job: str
    holder: str
    action: str
    acquired_at: float
    expires_at: float

    def describe(self) -> str:
        taken = time.strftime("%H:%M:%S", time.gmtime(self.acquired_at))
        expires = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.expires_at))
        return f"held by {self.holder} ({self.action}) since {taken} UTC, lapses {expires} UTC"


def _conditional(call: Any, **kwargs: Any) -> bool:
    """Run a conditional S3 write; False when its precondition failed (someone else won)."""
    from botocore.exceptions import ClientError

    try:
        call(**kwargs)
        return True
    except ClientError as err:
        if str(err.response.get("Error", {}).get("Code", "")) in PRECONDITION_CODES:
            return False
        raise


class JobLeases(StateBucketClient):
    """The leases of the platform's jobs in its state bucket.

    :param cfg: the platform config (bucket name, AWS connection, lease lifetime)
    :param s3: a boto3 S3 client (default: through the config's Airflow AWS connection)
    """

    def __init__(self, cfg: PlatformConfig, s3: Any = None) -> None:
        super().__init__(cfg, s3)
        self.ttl_s = cfg.flink.action_lease_ttl_s

    def key(self, job: str) -> str:
        return f"{LEASE_PREFIX}/{job}.json"

    def url(self, job: str) -> str:
        return f"s3://{self.bucket}/{self.key(job)}"

    def current(self, job: str) -> tuple[Lease, str] | None:
        """The lease of ``job`` and its ETag, or None when nobody holds it."""
        try:
            obj = self.s3.get_object(Bucket=self.bucket, Key=self.key(job))
        except self.s3.exceptions.NoSuchKey:
            return None
        return Lease(**json.loads(obj["Body"].read())), obj["ETag"]

    def try_acquire(self, job: str, holder: str, action: str,
                    now: float | None = None) -> tuple[bool, Lease]:
        """(True, our lease) when taken (or already ours: a retried task), else (False, the
        holder's lease). Never waits."""
        now = time.time() if now is None else now
        ours = Lease(job, holder, action, now, now + self.ttl_s)
        body = json.dumps(asdict(ours)).encode()
        if _conditional(self.s3.put_object, Bucket=self.bucket, Key=self.key(job), Body=body,
                        IfNoneMatch="*", ContentType="application/json"):
            return True, ours
        held = self.current(job)
        if held is None:  # released between our write and the read: try again next poll
            return False, Lease(job, "(nobody: just released)", "-", now, now)
        lease, etag = held
        if lease.holder == holder:
            return True, lease
        if lease.expires_at <= now:  # lapsed: replace exactly that object, or lose the race
            if _conditional(self.s3.put_object, Bucket=self.bucket, Key=self.key(job),
                            Body=body, IfMatch=etag, ContentType="application/json"):
                return True, ours
        return False, lease

    def release(self, job: str, holder: str) -> str:
        """Give the lease back when ``holder`` has it; what happened, in words."""
        held = self.current(job)
        if held is None:
            return f"{job}: no lease to release"
        lease, etag = held
        if lease.holder != holder:
            return f"{job}: lease {lease.describe()}, not by {holder}: left as it is"
        if not _conditional(self.s3.delete_object, Bucket=self.bucket, Key=self.key(job),
                            IfMatch=etag):
            return f"{job}: lease changed hands before the release: left as it is"
        return f"{job}: lease released by {holder}"


def lease_acquired(params: dict[str, Any], job: str, holder: str,
                   action: str) -> tuple[str, str, dict[str, Any] | None]:
    """Check for :class:`flink_platform.operators.job_lease.FlinkAcquireJobLeaseOperator`:
    take the lease of ``job`` for ``holder`` (ready, with the lease) or say who holds it."""
    from flink_platform.params import config_from_params
    from flink_platform.triggers.polling import READY, WAITING

    leases = JobLeases(config_from_params(params))
    taken, lease = leases.try_acquire(job, holder, action)
    if taken:
        return READY, f"{job}: lease taken by {holder} for {action} ({leases.url(job)})", \
            asdict(lease)
    return WAITING, f"{job}: lease {lease.describe()}", None
