"""Fixtures of the Flink-job tests: labelled datasets and job cleanup on the shared cluster."""

from __future__ import annotations

import pytest

from include.flink_jobs.streaming_events import write_dataset

from .flink_client import cancel

FRAUD_SEED, FRAUD_COUNT, FRAUD_MALFORMED = 7, 62_000, 0.002
RISK_SEED, RISK_COUNT = 11, 30_000


@pytest.fixture(scope="session")
def fraud_dataset(tmp_path_factory):
    """62,000 labelled trades (10 scenarios per rule) with 0.2% malformed lines."""
    path = tmp_path_factory.mktemp("fraud-data")
    write_dataset(path, FRAUD_SEED, FRAUD_COUNT, malformed_rate=FRAUD_MALFORMED, with_ticks=False)
    return path


@pytest.fixture(scope="session")
def risk_dataset(tmp_path_factory):
    """30,000 trades (5 minutes of event time) and their ticks, without late events."""
    path = tmp_path_factory.mktemp("risk-data")
    write_dataset(path, RISK_SEED, RISK_COUNT, late_rate=0.0)
    return path


@pytest.fixture()
def submitted_jobs(flink_cluster):
    """Job ids a test submits; every one is cancelled afterwards (4 shared slots)."""
    ids: list[str] = []
    yield ids
    for job_id in ids:
        cancel(flink_cluster, job_id)
