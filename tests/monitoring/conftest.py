"""Fixtures of the monitoring tests: the session's local Prometheus and Alertmanager (real
Debian binaries on 127.0.0.1), and an SQS queue subscribed to the platform's SNS topic."""

from __future__ import annotations

import json
import time

import boto3
import pytest
import requests

from flink_platform.local.monitoring import alertmanager_url, topic_arn
from tests.provision import kube_helpers

kmock_namespaces = kube_helpers.kmock_namespaces  # the provision tests' kmock fixture


@pytest.fixture()
def kube(kmock, kmock_namespaces):
    """A KubeClient on kmock (the Kubernetes API emulator over HTTP)."""
    from flink_platform.kubernetes.client import KubeClient

    kmock["create"] << 201 << (lambda request: request.data)  # real API servers answer 201
    return KubeClient(config_dict=kube_helpers.kubeconfig(kmock.url))


def _client(service: str, url: str, cfg):
    return boto3.client(service, endpoint_url=url, region_name=cfg.region,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture()
def monitoring(local_stack, prometheus):
    """Alertmanager and Prometheus started by the stack (if not running yet); yields the
    (prometheus, alertmanager) URLs."""
    return prometheus, alertmanager_url(local_stack.cfg)


@pytest.fixture()
def alert_queue(clean_moto, platform_config):
    """The platform topic (the name provision gives it) with a raw-delivery SQS queue
    subscribed; yields a function that polls the queue for SNS messages until a deadline."""
    sns, sqs = _client("sns", clean_moto, platform_config), _client("sqs", clean_moto,
                                                                     platform_config)
    name = topic_arn(platform_config).rsplit(":", 1)[1]
    arn = sns.create_topic(Name=name)["TopicArn"]
    assert arn == topic_arn(platform_config), "the emulator's ARN is not the one configured"
    queue = sqs.create_queue(QueueName="alertmanager-notifications")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})

    def read(predicate, timeout_s: float = 60.0) -> dict:
        seen = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                               WaitTimeSeconds=1).get("Messages", []):
                body = json.loads(message["Body"])
                if predicate(body):
                    return body
                seen.append(body)
        raise AssertionError(f"no matching SNS message in {timeout_s:.0f}s; seen: {seen}")

    return read


def prometheus_api(url: str, path: str, **params) -> dict:
    resp = requests.get(f"{url}/api/v1/{path}", params=params or None, timeout=10)
    resp.raise_for_status()
    body = resp.json()
    assert body["status"] == "success", body
    return body["data"]
