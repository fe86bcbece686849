"""One FlinkDeployment lifecycle, two adapters: the interface the DAGs and sensors use.

The target picks the adapter once (:func:`flink_platform.adapters.get_flink_adapter`):
``local`` drives the standalone Flink cluster's REST API and CLI; ``aws`` drives
FlinkDeployment / FlinkStateSnapshot custom resources of the Flink Kubernetes Operator.
Status is expressed in the operator's vocabulary on both targets.
"""

from __future__ import annotations

import abc
import time
from dataclasses import asdict, dataclass, field
from typing import Any

LIFECYCLE_STATES = (
    "CREATED", "DEPLOYED", "STABLE", "UPGRADING", "ROLLING_BACK", "ROLLED_BACK",
    "FAILED", "SUSPENDED", "DELETED", "MISSING",
)


@dataclass
class FlinkJobStatus:
    """What a deployment looks like now (operator vocabulary on both targets)."""

    name: str
    lifecycle_state: str = "MISSING"
    job_state: str | None = None  # RUNNING, FAILED, CANCELED, FINISHED, RESTARTING ...
    job_id: str | None = None
    version: str | None = None
    last_checkpoint: str | None = None
    last_savepoint: str | None = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.lifecycle_state == "STABLE" and self.job_state == "RUNNING"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FlinkDeploymentAdapter(abc.ABC):
    """Operations on the platform's Flink jobs, addressed by job name from the config."""

    poll_s: float = 0.2  # how often waits re-read the job's state

    @abc.abstractmethod
    def apply(self, job: str, overrides: dict[str, Any] | None = None) -> FlinkJobStatus:
        """Create the deployment, or patch it when it exists (idempotent)."""

    @abc.abstractmethod
    def status(self, job: str) -> FlinkJobStatus:
        """Lifecycle state, job state, job id, last checkpoint/savepoint, error."""

    def trigger_savepoint(self, job: str, timeout_s: float = 300) -> str:
        """Take a savepoint of the running job and return its path (start, then poll)."""
        ref = self.start_savepoint(job)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            path = self.savepoint_result(job, ref)
            if path:
                return path
            time.sleep(self.poll_s)
        raise TimeoutError(f"savepoint of {job} not completed within {timeout_s:.0f}s")

    @abc.abstractmethod
    def upgrade(self, job: str, overrides: dict[str, Any], from_savepoint: str) -> FlinkJobStatus:
        """Apply a new spec restored from ``from_savepoint``."""

    @abc.abstractmethod
    def suspend(self, job: str) -> str | None:
        """Stop the job with a savepoint; return the savepoint path."""

    @abc.abstractmethod
    def delete(self, job: str) -> None:
        """Remove the deployment; already gone is success."""

    @abc.abstractmethod
    def list_savepoints(self, job: str) -> list[str]:
        """Savepoints of ``job``, oldest first."""

    @abc.abstractmethod
    def dispose_savepoint(self, job: str, path: str) -> None:
        """Delete one savepoint (retention)."""

    @abc.abstractmethod
    def metrics_endpoint(self, job: str) -> str:
        """Base URL of a Flink REST API that serves this job's metrics."""

    @abc.abstractmethod
    def rest_session(self) -> Any:
        """The ``requests.Session`` that reaches :meth:`metrics_endpoint` (and
        :meth:`prometheus_urls`) with the credentials they need."""

    @abc.abstractmethod
    def prometheus_urls(self, job: str) -> list[str]:
        """The Prometheus reporter URLs of the TaskManagers running ``job``."""

    @abc.abstractmethod
    def prometheus_server(self) -> dict[str, Any]:
        """The platform's Prometheus server that scrapes the jobs: ``url`` (its query API's
        base, reached with :meth:`rest_session`) and ``scrape_interval_s``."""

    # -- additive (lifecycle DAGs and sensors); adapters override --------------------
    def rollback(self, job: str, from_savepoint: str) -> FlinkJobStatus:
        """Re-deploy the last stable spec from ``from_savepoint``."""
        raise NotImplementedError

    def start_savepoint(self, job: str) -> str:
        """Trigger a savepoint without waiting; return a reference for savepoint_result."""
        raise NotImplementedError

    def savepoint_result(self, job: str, ref: str) -> str | None:
        """Path of the savepoint ``ref`` once completed, None while running; raises on failure."""
        raise NotImplementedError

    def completed_checkpoints(self, job: str, since: float | None = None) -> int:
        """Completed checkpoints of the current deployment (after ``since``, epoch s)."""
        raise NotImplementedError

    def restored_from(self, job: str) -> str | None:
        """The savepoint/checkpoint the running job restored its state from."""
        raise NotImplementedError
