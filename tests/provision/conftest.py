"""Helpers for the provision/teardown tests: boto3 clients on the test moto server and a
``run_dag`` that runs a DAG in-process with ``dag.test()`` and reports task states."""

from __future__ import annotations

import copy

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
    """Run ``dag`` once with ``dag.test()``; return the run state and each task's state.

    ``dag.test()`` runs the tasks in this process and merges the run conf into the task
    objects' params in place; the module's DAG object is shared by the session, so its
    params are restored afterwards (else one test's conf is the next run's default)."""
    saved = copy.deepcopy(dag.params), {t.task_id: copy.deepcopy(t.params) for t in dag.tasks}
    try:
        run = dag.test(run_conf=conf or {})
    finally:
        dag.params = saved[0]
        for task in dag.tasks:
            task.params = saved[1][task.task_id]
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    return str(run.state), states


@pytest.fixture()
def spec(platform_config):
    from flink_platform.aws.specs import PlatformSpec

    return PlatformSpec(platform_config)
