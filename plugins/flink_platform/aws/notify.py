"""Operational events to the platform's SNS topic: what an on-call person subscribes to.

Every message is JSON ``{"event", "environment", "summary", ...details}`` with an ``event``
message attribute, so subscribers can filter (an SQS queue, e-mail, a chat hook):

* ``upgrade_done`` / ``upgrade_rolled_back`` (flink_savepoint_upgrade),
* ``load_test_slo_breach`` (platform_load_test),
* ``teardown_report`` (platform_teardown: what was left, before the topic itself goes).

The topic is found by its name (``alerts.topic_name`` + environment suffix), never created
here: a notification after teardown must not bring the topic back. When it does not exist
the event is logged and :func:`notify` returns None.
"""

from __future__ import annotations

import json
import logging
from enum import StrEnum
from typing import Any

from flink_platform.aws.clients import client
from flink_platform.aws.specs import PlatformSpec

log = logging.getLogger(__name__)
SUBJECT_MAX = 100  # SNS limit


class PlatformEvent(StrEnum):
    UPGRADE_DONE = "upgrade_done"
    UPGRADE_ROLLED_BACK = "upgrade_rolled_back"
    LOAD_TEST_SLO_BREACH = "load_test_slo_breach"
    TEARDOWN_REPORT = "teardown_report"


def topic_arn(spec: PlatformSpec, sns: Any = None) -> str | None:
    """ARN of the platform topic, or None when it does not exist."""
    sns = sns or client(spec.cfg, "sns")
    suffix = f":{spec.names['topic']}"
    for page in sns.get_paginator("list_topics").paginate():
        for topic in page.get("Topics", []):
            if topic["TopicArn"].endswith(suffix):
                return topic["TopicArn"]
    return None


def notify(spec: PlatformSpec, event: PlatformEvent, summary: str,
           **details: Any) -> str | None:
    """Publish ``event``; returns the SNS message id (None when the topic is gone)."""
    sns = client(spec.cfg, "sns")
    arn = topic_arn(spec, sns)
    body = {"event": event.value, "environment": spec.cfg.env_suffix, "summary": summary,
            **details}
    if arn is None:
        log.warning("no topic %s: event not published: %s", spec.names["topic"], summary)
        return None
    response = sns.publish(
        TopicArn=arn, Subject=f"[{spec.cfg.env_suffix}] {summary}"[:SUBJECT_MAX],
        Message=json.dumps(body, default=str),
        MessageAttributes={"event": {"DataType": "String", "StringValue": event.value}})
    log.info("published %s to %s: %s", event.value, arn, summary)
    return response["MessageId"]
