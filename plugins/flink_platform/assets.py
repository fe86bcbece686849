"""Airflow Assets that chain the lifecycle DAGs (provision -> deploy -> ...).

Asset URIs carry no environment-specific part at parse time; the run's facts (names,
ARNs, job ids) travel in the asset event's ``extra`` and in XCom.
"""

from __future__ import annotations

from airflow.sdk import Asset

PLATFORM_PROVISIONED = Asset(name="platform_provisioned", uri="flink-platform://platform/provisioned")


def job_deployed(job: str) -> Asset:
    """The Asset a deploy run publishes for one Flink job."""
    return Asset(name=f"flink_job_{job.replace('-', '_')}", uri=f"flink-platform://jobs/{job}")
