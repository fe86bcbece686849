"""Operational events reach the platform's SNS topic; an SQS queue subscribed to it reads
them back (the AWS emulator over HTTP, as a subscriber on aws would)."""

from __future__ import annotations

import json

import boto3
import pytest

from flink_platform.aws.notify import PlatformEvent, notify
from flink_platform.aws.specs import PlatformSpec


def _client(service, url, cfg):
    return boto3.client(service, endpoint_url=url, region_name=cfg.region,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def subscribe_queue(url, cfg, topic_arn: str) -> str:
    """A new SQS queue subscribed (raw delivery) to ``topic_arn``; returns its URL."""
    sqs, sns = _client("sqs", url, cfg), _client("sns", url, cfg)
    queue = sqs.create_queue(QueueName="platform-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true"})
    return queue


def read_events(url, cfg, queue: str) -> list[dict]:
    sqs = _client("sqs", url, cfg)
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10,
                                   WaitTimeSeconds=2).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


@pytest.fixture()
def topic(clean_moto, platform_config):
    spec = PlatformSpec(platform_config)
    arn = _client("sns", clean_moto, platform_config).create_topic(
        Name=spec.names["topic"])["TopicArn"]
    return spec, arn


def test_an_event_reaches_a_subscribed_queue(clean_moto, platform_config, topic):
    spec, arn = topic
    queue = subscribe_queue(clean_moto, platform_config, arn)
    message_id = notify(spec, PlatformEvent.UPGRADE_ROLLED_BACK, "upgrade of x rolled back",
                        job="fraud-detection", savepoint="s3://b/savepoints/x/sp-1")
    assert message_id
    [event] = read_events(clean_moto, platform_config, queue)
    assert event["event"] == "upgrade_rolled_back" and event["job"] == "fraud-detection"
    assert event["environment"] == platform_config.env_suffix
    assert event["summary"] == "upgrade of x rolled back"


def test_no_topic_no_message_and_no_topic_created(clean_moto, platform_config):
    spec = PlatformSpec(platform_config)
    assert notify(spec, PlatformEvent.TEARDOWN_REPORT, "teardown") is None
    assert _client("sns", clean_moto, platform_config).list_topics()["Topics"] == []
