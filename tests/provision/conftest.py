"""Helpers for the provision/teardown tests: boto3 clients on the test moto server and a
``run_dag`` that runs a DAG in-process with ``dag.test()`` and reports task states."""

from __future__ import annotations

import boto3
import pytest


@pytest.fixture()
def aws(clean_moto, platform_config):
    """``aws("s3")``: a boto3 client on the (freshly reset) test moto server."""

    def make(service: str):
        return boto3.client(service, endpoint_url=clean_moto, region_name=platform_config.region,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    return make


def run_dag(dag, conf: dict | None = None) -> tuple[str, dict[str, str]]:
    """Run ``dag`` once with ``dag.test()`` (its params restored after: tests/dag_runs.py);
    return the run state and each task's state."""
    from tests.dag_runs import run_in_process

    run = run_in_process(dag, conf)
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    return str(run.state), states


@pytest.fixture()
def spec(platform_config):
    from flink_platform.aws.specs import PlatformSpec

    return PlatformSpec(platform_config)
