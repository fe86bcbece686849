"""Alert topic (SNS), Flink log group (CloudWatch Logs) and the EMR on EKS virtual cluster:
find-or-create checks and "already gone is success" deletes."""

from __future__ import annotations

from typing import Any

from flink_platform.aws.clients import check_drift, client, is_not_found
from flink_platform.aws.specs import PlatformSpec

LOG_RETENTION_DAYS = 30
LIVE_VC_STATES = ("RUNNING", "ARRESTED")


def ensure_topic(spec: PlatformSpec) -> str:
    """create_topic is idempotent for the same name and tags; returns the topic ARN."""
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    sns = SnsHook(aws_conn_id=spec.cfg.aws_conn_id, region_name=spec.cfg.region).conn
    return sns.create_topic(Name=spec.names["topic"], Tags=spec.tag_list())["TopicArn"]


def ensure_log_group(spec: PlatformSpec) -> str:
    logs = client(spec.cfg, "logs")
    name = spec.names["log_group"]
    found = [g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
             if g["logGroupName"] == name]
    if found:
        check_drift(f"log group {name}",
                    {"retention days": (found[0].get("retentionInDays"), LOG_RETENTION_DAYS)})
        return found[0]["arn"].removesuffix(":*")
    logs.create_log_group(logGroupName=name, tags=spec.tags)
    logs.put_retention_policy(logGroupName=name, retentionInDays=LOG_RETENTION_DAYS)
    group = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]
    return group["arn"].removesuffix(":*")


def find_virtual_cluster(spec: PlatformSpec) -> dict[str, Any] | None:
    """The live virtual cluster of this name; drift if it sits on another cluster/namespace."""
    emr = client(spec.cfg, "emr-containers")
    pages = emr.get_paginator("list_virtual_clusters").paginate(states=list(LIVE_VC_STATES))
    for page in pages:
        for vc in page["virtualClusters"]:
            if vc["name"] == spec.names["virtual_cluster"]:
                provider = vc["containerProvider"]
                check_drift(f"EMR virtual cluster {vc['name']}", {
                    "EKS cluster": (provider["id"], spec.names["cluster"]),
                    "namespace": (provider["info"]["eksInfo"]["namespace"],
                                  spec.cfg.namespaces.jobs),
                })
                return vc
    return None


def delete_virtual_cluster(spec: PlatformSpec) -> str | None:
    emr = client(spec.cfg, "emr-containers")
    vc = find_virtual_cluster(spec)
    if vc is None:
        return None
    try:
        emr.delete_virtual_cluster(id=vc["id"])
    except Exception as err:
        if not is_not_found(err):
            raise
    return vc["id"]


def delete_log_group(spec: PlatformSpec) -> bool:
    try:
        client(spec.cfg, "logs").delete_log_group(logGroupName=spec.names["log_group"])
    except Exception as err:
        if is_not_found(err):
            return False
        raise
    return True


def delete_topic(spec: PlatformSpec, account: str) -> bool:
    """SNS delete_topic succeeds for a missing topic too; report whether it existed."""
    sns = client(spec.cfg, "sns")
    arn = f"arn:aws:sns:{spec.cfg.region}:{account}:{spec.names['topic']}"
    try:
        sns.get_topic_attributes(TopicArn=arn)
    except Exception as err:
        if is_not_found(err):
            return False
        raise
    sns.delete_topic(TopicArn=arn)
    return True
