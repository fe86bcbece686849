"""What the platform creates on AWS, derived from the config only (no network, no boto3).

Every name carries the environment suffix (``cfg.resource_name``) and every resource gets
``cfg.tags``. Provision and teardown both read their names from here, so teardown needs
no output of a provision run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from flink_platform.config import PlatformConfig

EKS_CLUSTER_POLICIES = ("arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",)
EKS_NODE_POLICIES = (
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
)
EMR_CONTAINERS_SERVICE = "emr-containers.amazonaws.com"
JOB_SERVICE_ACCOUNT = "flink"  # the Flink Kubernetes Operator's job service account
# Monitoring on the aws target (kubernetes/monitoring.py sets these names in the helm values,
# so the IRSA trust below and the service accounts the charts create agree)
MONITORING_NAMESPACE = "monitoring"
ALERTMANAGER_SERVICE_ACCOUNT = "kube-prometheus-stack-alertmanager"
FLUENT_BIT_SERVICE_ACCOUNT = "aws-for-fluent-bit"
OIDC_AUDIENCE = "sts.amazonaws.com"
OIDC_THUMBPRINT = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"  # EKS OIDC root CA
METRICS_NAMESPACE = "flink-platform"
VPC_CIDR = "10.42.0.0/16"
# Public subnets hold the NAT gateway and internet-facing load balancers; the nodes (and
# with the VPC CNI, every pod IP) live in the larger private subnets behind the NAT.
PUBLIC_SUBNET_CIDRS = ("10.42.0.0/20", "10.42.16.0/20")
PRIVATE_SUBNET_CIDRS = ("10.42.64.0/18", "10.42.128.0/18")
ANYWHERE = "0.0.0.0/0"
ELB_ROLE_TAG = "kubernetes.io/role/elb"  # public subnets: internet-facing load balancers
INTERNAL_ELB_ROLE_TAG = "kubernetes.io/role/internal-elb"  # private subnets
EMR_CONTAINERS_ROLE = "AWSServiceRoleForAmazonEMRContainers"  # EMR on EKS service-linked role
EMR_CONTAINERS_USER = "emr-containers"  # its Kubernetes user (access entry -> RoleBinding)
STREAM_KEYS = ("trading_events", "market_data", "fraud_alerts")  # config.StreamsConfig fields

S3_OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
S3_BUCKET_ACTIONS = ("s3:ListBucket", "s3:GetBucketLocation")
KINESIS_ACTIONS = (
    "kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords",
    "kinesis:GetShardIterator", "kinesis:ListShards", "kinesis:PutRecord", "kinesis:PutRecords",
)
LOGS_ACTIONS = ("logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents")
SNS_ACTIONS = ("sns:Publish",)
# Fluent Bit's cloudwatch_logs output: streams in an existing group. No logs:CreateLogGroup:
# the chart runs with cloudWatchLogs.autoCreateGroup=false (provision creates the group).
FLUENT_BIT_LOGS_ACTIONS = LOGS_ACTIONS


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _service_trust(service: str) -> dict[str, Any]:
    return _doc({"Effect": "Allow", "Principal": {"Service": service},
                 "Action": "sts:AssumeRole"})


@dataclass(frozen=True)
class PlatformSpec:
    """Names, tags and documents of every AWS resource of one platform config."""

    cfg: PlatformConfig

    # -- names ---------------------------------------------------------------
    @cached_property
    def names(self) -> dict[str, str]:
        c, rn = self.cfg, self.cfg.resource_name
        return {
            "vpc": rn("flink-platform-vpc"),
            "cluster": rn(c.cluster.name),
            "nodegroup": rn(c.cluster.nodegroup.name),
            "cluster_role": rn("eks-cluster"),
            "node_role": rn("eks-nodes"),
            "job_role": rn("flink-job-execution"),
            "job_policy": rn("flink-job-access"),
            "alertmanager_role": rn("alertmanager-sns"),
            "fluent_bit_role": rn("fluent-bit-logs"),
            "virtual_cluster": rn(c.namespaces.jobs),
            "bucket": rn(c.bucket.name),
            "trading_events": rn(c.streams.trading_events.name),
            "market_data": rn(c.streams.market_data.name),
            "fraud_alerts": rn(c.streams.fraud_alerts.name),
            "topic": rn(c.alerts.topic_name),
            "log_group": rn(c.alerts.log_group),
        }

    @property
    def streams(self) -> dict[str, Any]:
        """Stream name -> its StreamConfig (trades and ticks in, fraud alerts out)."""
        return {self.names[key]: getattr(self.cfg.streams, key) for key in STREAM_KEYS}

    @property
    def roles(self) -> tuple[str, ...]:
        n = self.names
        return (n["job_role"], n["cluster_role"], n["node_role"])

    # -- tags ----------------------------------------------------------------
    @property
    def tags(self) -> dict[str, str]:
        return dict(self.cfg.tags)

    def tag_list(self, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
        return [{key: k, value: v} for k, v in self.cfg.tags.items()]

    def name_tags(self, name: str) -> list[dict[str, str]]:
        return [*self.tag_list(), {"Key": "Name", "Value": name}]

    def subnet_tags(self, name: str, public: bool) -> list[dict[str, str]]:
        """Name and platform tags, plus the tags EKS and the load balancer controller read."""
        role = ELB_ROLE_TAG if public else INTERNAL_ELB_ROLE_TAG
        return [*self.name_tags(name), {"Key": role, "Value": "1"},
                {"Key": f"kubernetes.io/cluster/{self.names['cluster']}", "Value": "shared"}]

    def emr_service_linked_role_arn(self, account_id: str) -> str:
        return f"arn:aws:iam::{account_id}:role/{EMR_CONTAINERS_ROLE}"

    # -- EKS -----------------------------------------------------------------
    def cluster_kwargs(self) -> dict[str, Any]:
        # access entries (the EMR on EKS service's cluster access) need the API mode
        return {"version": self.cfg.cluster.kubernetes_version, "tags": self.tags,
                "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"}}

    def nodegroup_kwargs(self) -> dict[str, Any]:
        ng = self.cfg.cluster.nodegroup
        return {
            "scalingConfig": {"minSize": ng.min_size, "maxSize": ng.max_size,
                              "desiredSize": ng.desired_size},
            "instanceTypes": list(ng.instance_types),
            "tags": self.tags,
        }

    # -- IAM -----------------------------------------------------------------
    cluster_role_trust = staticmethod(lambda: _service_trust("eks.amazonaws.com"))
    node_role_trust = staticmethod(lambda: _service_trust("ec2.amazonaws.com"))

    def job_service_accounts(self) -> list[str]:
        return [f"system:serviceaccount:{self.cfg.namespaces.jobs}:{JOB_SERVICE_ACCOUNT}"]

    def irsa_trust(self, account_id: str, oidc_issuer: str,
                   subjects: list[str]) -> dict[str, Any]:
        """IRSA: exactly ``subjects`` (service accounts), via the cluster's OIDC provider."""
        issuer = oidc_issuer.removeprefix("https://")
        return _doc({
            "Effect": "Allow",
            "Principal": {"Federated": f"arn:aws:iam::{account_id}:oidc-provider/{issuer}"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{issuer}:sub": subjects,
                f"{issuer}:aud": OIDC_AUDIENCE,
            }},
        })

    def job_role_trust(self, account_id: str, oidc_issuer: str) -> dict[str, Any]:
        """IRSA: only the job namespace's service accounts, via the cluster's OIDC provider."""
        return self.irsa_trust(account_id, oidc_issuer, self.job_service_accounts())

    def topic_arn(self, account_id: str) -> str:
        return f"arn:aws:sns:{self.cfg.region}:{account_id}:{self.names['topic']}"

    def log_group_arn(self, account_id: str) -> str:
        return f"arn:aws:logs:{self.cfg.region}:{account_id}:log-group:{self.names['log_group']}"

    def monitoring_roles(self, account_id: str, oidc_issuer: str) -> dict[str, dict[str, Any]]:
        """The IRSA roles of Alertmanager (publish to the topic) and Fluent Bit (write to the
        log group), by ``names`` key: role name, trust (the one service account its chart
        creates) and its only, inline, policy."""
        ns = MONITORING_NAMESPACE
        log_group = self.log_group_arn(account_id)
        wanted = {
            "alertmanager_role": (ALERTMANAGER_SERVICE_ACCOUNT, "publish-alerts", {
                "Sid": "PublishAlerts", "Effect": "Allow", "Action": list(SNS_ACTIONS),
                "Resource": [self.topic_arn(account_id)]}),
            "fluent_bit_role": (FLUENT_BIT_SERVICE_ACCOUNT, "ship-flink-logs", {
                "Sid": "ShipFlinkLogs", "Effect": "Allow",
                "Action": list(FLUENT_BIT_LOGS_ACTIONS),
                "Resource": [log_group, f"{log_group}:log-stream:*"]}),
        }
        return {key: {"name": self.names[key],
                      "trust": self.irsa_trust(account_id, oidc_issuer,
                                               [f"system:serviceaccount:{ns}:{account}"]),
                      "policy_name": policy_name, "policy": _doc(statement)}
                for key, (account, policy_name, statement) in wanted.items()}

    def job_policy(self, account_id: str) -> dict[str, Any]:
        """Exactly the recipe's actions on exactly this bucket, these streams, this log group."""
        region, n = self.cfg.region, self.names
        bucket_arn = f"arn:aws:s3:::{n['bucket']}"
        stream_arns = [f"arn:aws:kinesis:{region}:{account_id}:stream/{name}"
                       for name in self.streams]
        log_group_arn = self.log_group_arn(account_id)
        return _doc(
            {"Sid": "CheckpointsObjects", "Effect": "Allow",
             "Action": list(S3_OBJECT_ACTIONS), "Resource": [f"{bucket_arn}/*"]},
            {"Sid": "CheckpointsBucket", "Effect": "Allow",
             "Action": list(S3_BUCKET_ACTIONS), "Resource": [bucket_arn]},
            {"Sid": "Streams", "Effect": "Allow",
             "Action": list(KINESIS_ACTIONS), "Resource": stream_arns},
            {"Sid": "Logs", "Effect": "Allow", "Action": list(LOGS_ACTIONS),
             "Resource": [log_group_arn, f"{log_group_arn}:log-stream:*"]},
            {"Sid": "Alerts", "Effect": "Allow", "Action": list(SNS_ACTIONS),
             "Resource": [self.topic_arn(account_id)]},
            # cloudwatch:PutMetricData has no resource-level permissions: AWS requires
            # Resource "*". It is narrowed to our metrics namespace by the condition instead.
            {"Sid": "Metrics", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"],
             "Resource": "*",
             "Condition": {"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}}},
        )

    # -- S3 ------------------------------------------------------------------
    @staticmethod
    def bucket_encryption() -> dict[str, Any]:
        return {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                           "BucketKeyEnabled": True}]}

    def bucket_lifecycle(self) -> dict[str, Any]:
        """Checkpoints to STANDARD_IA (read at once on restore), never to an archive class:
        an incremental checkpoint keeps referencing shared files of old ones, and a restore
        from an archived file fails. Versions Flink deleted or replaced expire; multipart
        uploads the file sinks abandoned (a failover) are aborted."""
        b = self.cfg.bucket
        return {"Rules": [
            {"ID": "checkpoints-infrequent-access", "Filter": {"Prefix": "checkpoints/"},
             "Status": "Enabled",
             "Transitions": [{"Days": b.checkpoints_to_ia_days, "StorageClass": "STANDARD_IA"}]},
            {"ID": "expire-noncurrent-versions", "Filter": {"Prefix": ""}, "Status": "Enabled",
             "NoncurrentVersionExpiration": {"NoncurrentDays": b.noncurrent_versions_expire_days},
             "AbortIncompleteMultipartUpload": {
                 "DaysAfterInitiation": b.incomplete_uploads_abort_days}},
        ]}

    @staticmethod
    def public_access_block() -> dict[str, bool]:
        return {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                "BlockPublicPolicy": True, "RestrictPublicBuckets": True}

    # -- plan (what the DAG templates its operators with) ---------------------
    def plan(self) -> dict[str, Any]:
        return {
            **{f"{k}_name": v for k, v in self.names.items()},
            "region": self.cfg.region,
            "aws_conn_id": self.cfg.aws_conn_id,
            "jobs_namespace": self.cfg.namespaces.jobs,
            "cluster_kwargs": self.cluster_kwargs(),
            "nodegroup_kwargs": self.nodegroup_kwargs(),
            "bucket_lifecycle": self.bucket_lifecycle(),  # what configure_bucket applies
            "tags": self.tags,
            **{f"{key}_{field}": getattr(getattr(self.cfg.streams, key), field)
               for key in STREAM_KEYS for field in ("shards", "retention_hours")},
        }


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True)
