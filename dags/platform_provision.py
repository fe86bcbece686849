"""Provision the Flink platform, in the recipe's order, one task per step.

1. EKS cluster + managed nodegroup (provider operators, imported at run time: see
   ``flink_platform.operators.eks``; provider state sensors)
2. IAM: EMR on EKS service role, OIDC provider, Flink job execution role (IRSA) + policy,
   the IRSA roles of Alertmanager (sns:Publish on the topic) and Fluent Bit (log group)
3. EMR on EKS: first namespaces, service accounts and RBAC (the ``emr-containers``
   Role/RoleBinding in the job namespace) and the EKS access entry of the EMR service-linked
   role, then the virtual cluster on the job namespace
4. S3 state bucket: versioning, encryption, lifecycle, public access block, tags
5. Kinesis streams (trades and market ticks in, fraud alerts out) + our ACTIVE sensor
6. SNS alert topic, CloudWatch log group
7. Kubernetes: cert-manager, then the Flink operator via Helm pods; operator readiness
   (``local``: the local Flink cluster's readiness); monitoring (kube-prometheus-stack and
   Fluent Bit, their service accounts annotated with the step 2 roles)
8. Publish what was created as the ``platform_provisioned`` Asset (and XCom): the deploy
   DAG starts the jobs on exactly these stream ARNs and this bucket (flink_platform.data_plane)

Idempotent: existing resources are found, checked against the config and reused; one
with other settings fails its task naming it (``ConfigDriftError``), it is never changed.
Trigger: ``airflow dags test platform_provision`` (Params override documented fields).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.providers.amazon.aws.operators.emr import EmrEksCreateClusterOperator
from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator
from airflow.providers.amazon.aws.operators.sns import SnsPublishOperator
from airflow.providers.amazon.aws.sensors.eks import EksClusterStateSensor, EksNodegroupStateSensor
from airflow.sdk import DAG, Param, TriggerRule, chain, conf, task

from flink_platform.assets import PLATFORM_PROVISIONED
from flink_platform.aws.specs import STREAM_KEYS
from flink_platform.config import AWS_REGIONS, load_config
from flink_platform.dag_utils import DEFAULT_ARGS, resolve_config, watcher
from flink_platform.operators.eks import EksCreateCluster, EksCreateNodegroup
from flink_platform.operators.kinesis import KinesisCreateStreamOperator
from flink_platform.params import config_params
from flink_platform.sensors.kinesis_stream import KinesisStreamActiveSensor
from flink_platform.sensors.operator_ready import FlinkOperatorReadySensor

DAG_ID = "platform_provision"
PARSE_CFG = load_config()  # connection id and timeouts only; names come from the run
# Our stream and operator-readiness sensors defer to CheckTrigger when
# AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE=true (needs a triggerer); tests and the demo poke.
# The provider's EKS state sensors offer no deferrable mode: they reschedule instead.
DEFERRABLE = conf.getboolean("operators", "default_deferrable", fallback=False)
AWS = {"aws_conn_id": PARSE_CFG.aws_conn_id}
AFTER_BRANCH = TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS

# Not operator.version: the CRD lock pins it (flink_platform.versions), so no other value
# validates and a form field for it could never take effect.
PARAMS: dict[str, Any] = config_params(
    "region", "cluster.kubernetes_version", "cluster.nodegroup.min_size",
    "cluster.nodegroup.desired_size", "cluster.nodegroup.max_size",
    "streams.trading_events.shards", "streams.trading_events.retention_hours",
    "streams.market_data.shards", "streams.market_data.retention_hours",
    "streams.fraud_alerts.shards",
    "bucket.checkpoints_to_ia_days", "bucket.noncurrent_versions_expire_days",
)
PARAMS["region"] = Param(PARAMS["region"].value, type="string", enum=list(AWS_REGIONS),
                         title="region", description="Overrides config field region.")


def _spec(config: dict[str, Any] | None):
    from flink_platform.aws import spec_from

    return spec_from(config)


@task(multiple_outputs=True, retries=0)
def plan_resources(config: dict[str, Any]) -> dict[str, Any]:
    """Names, tags and operator kwargs of every resource (no AWS call)."""
    return _spec(config).plan()


@task(multiple_outputs=True)
def ensure_cluster_prerequisites(config: dict[str, Any]) -> dict[str, Any]:
    """The cluster's network (public + private subnets, IGW, NAT) and its IAM roles."""
    from flink_platform.aws.clients import drift_fails_task
    from flink_platform.aws.cluster import ensure_cluster_prerequisites as ensure

    with drift_fails_task():
        facts = ensure(_spec(config))
    return {**facts, "resources_vpc_config": {"subnetIds": facts["subnet_ids"]}}


@task.branch
def decide_cluster(config: dict[str, Any]) -> list[str]:
    from flink_platform.aws.clients import drift_fails_task
    from flink_platform.aws.cluster import cluster_exists

    with drift_fails_task():
        exists = cluster_exists(_spec(config))
    return ["await_eks_cluster"] if exists else ["create_eks_cluster", "await_eks_cluster"]


@task.branch
def decide_nodegroup(config: dict[str, Any]) -> list[str]:
    from flink_platform.aws.clients import drift_fails_task
    from flink_platform.aws.cluster import nodegroup_exists

    with drift_fails_task():
        exists = nodegroup_exists(_spec(config))
    return ["await_nodegroup"] if exists else ["create_nodegroup", "await_nodegroup"]


@task(multiple_outputs=True)
def ensure_iam(config: dict[str, Any]) -> dict[str, Any]:
    """OIDC provider, EMR service role, job policy, IRSA job execution role; the IRSA roles
    of Alertmanager and Fluent Bit (used on aws only, created on both targets alike)."""
    from flink_platform.aws.clients import account_id, drift_fails_task
    from flink_platform.aws.cluster import cluster_facts
    from flink_platform.aws.iam import ensure_job_iam, ensure_monitoring_iam

    spec = _spec(config)
    cluster = cluster_facts(spec)
    account = account_id(spec.cfg)
    with drift_fails_task():
        roles = ensure_job_iam(spec, account, cluster["oidc_issuer"])
        monitoring = ensure_monitoring_iam(spec, account, cluster["oidc_issuer"])
    return {**cluster, **roles, **monitoring}


@task
def ensure_emr_access(config: dict[str, Any]) -> dict[str, Any]:
    """EKS access entry: the EMR service-linked role as Kubernetes user emr-containers."""
    from flink_platform.aws.clients import account_id, drift_fails_task
    from flink_platform.aws.emr_access import ensure_emr_access as ensure

    spec = _spec(config)
    with drift_fails_task():
        return ensure(spec, account_id(spec.cfg))


@task.branch
def decide_virtual_cluster(config: dict[str, Any]) -> list[str]:
    from flink_platform.aws.alerts import find_virtual_cluster
    from flink_platform.aws.clients import drift_fails_task

    with drift_fails_task():
        exists = find_virtual_cluster(_spec(config)) is not None
    return ["virtual_cluster"] if exists else ["create_virtual_cluster", "virtual_cluster"]


@task(trigger_rule=AFTER_BRANCH)
def virtual_cluster(config: dict[str, Any]) -> dict[str, Any]:
    from flink_platform.aws.alerts import find_virtual_cluster

    vc = find_virtual_cluster(_spec(config))
    if vc is None:
        raise RuntimeError("virtual cluster not found after creation")
    return {"virtual_cluster_id": vc["id"], "virtual_cluster_arn": vc["arn"]}


@task
def configure_bucket(config: dict[str, Any]) -> dict[str, Any]:
    from flink_platform.aws.clients import drift_fails_task
    from flink_platform.aws.storage import configure_bucket as configure

    with drift_fails_task():
        return configure(_spec(config))


@task
def apply_stream_retention(config: dict[str, Any]) -> dict[str, str]:
    """Retention of the now ACTIVE streams; returns stream name -> ARN."""
    from flink_platform.aws.streams import ensure_retention

    spec = _spec(config)
    return ensure_retention(spec.cfg, spec.streams)


@task
def ensure_alert_topic(config: dict[str, Any]) -> str:
    from flink_platform.aws.alerts import ensure_topic

    return ensure_topic(_spec(config))


@task
def ensure_log_group(config: dict[str, Any]) -> str:
    from flink_platform.aws.alerts import ensure_log_group as ensure
    from flink_platform.aws.clients import drift_fails_task

    with drift_fails_task():
        return ensure(_spec(config))


def _platform(config: dict[str, Any]):
    from flink_platform.adapters import get_platform_adapter

    return get_platform_adapter(_spec(config).cfg)


@task
def apply_kubernetes_objects(config: dict[str, Any], job_role_arn: str) -> dict[str, Any]:
    """Namespaces, service accounts (IRSA annotation), RBAC."""
    return _platform(config).apply_base_objects(job_role_arn)


@task
def install_cert_manager(config: dict[str, Any]) -> dict[str, Any]:
    return _platform(config).install_cert_manager()


@task
def install_flink_operator(config: dict[str, Any], job_role_arn: str) -> dict[str, Any]:
    return _platform(config).install_operator(job_role_arn)


@task
def remove_helm_installer(config: dict[str, Any]) -> dict[str, Any]:
    """Least privilege: the cluster-admin helm-installer account goes once Helm is done."""
    return _platform(config).remove_helm_installer()


@task
def install_monitoring(config: dict[str, Any], topic_arn: str, alertmanager_role_arn: str,
                       fluent_bit_role_arn: str) -> dict[str, Any]:
    """kube-prometheus-stack, the platform rules and dashboard, Fluent Bit (aws), with
    ensure_iam's IRSA roles; on local the stack runs Prometheus and Alertmanager itself
    (docs/OBSERVABILITY.md)."""
    spec = _spec(config)
    return _platform(config).install_monitoring(
        topic_arn, spec.names["log_group"], alertmanager_role_arn=alertmanager_role_arn,
        fluent_bit_role_arn=fluent_bit_role_arn)


@task(outlets=[PLATFORM_PROVISIONED])
def publish_platform(config: dict[str, Any], iam: dict[str, Any], vc: dict[str, Any],
                     bucket: dict[str, Any], streams: dict[str, str], topic_arn: str,
                     log_group_arn: str, outlet_events=None) -> dict[str, Any]:
    """The Asset event (and XCom) the deploy DAG runs on; the demo's stage summary."""
    from flink_platform.aws.specs import JOB_SERVICE_ACCOUNT
    from flink_platform.reporting import write_stage_summary

    spec = _spec(config)
    by_role = {key: streams[spec.names[key]] for key in STREAM_KEYS}
    facts = {
        "target": spec.cfg.target, "environment": spec.cfg.env_suffix, "region": spec.cfg.region,
        "cluster_name": iam["cluster_name"], "cluster_endpoint": iam["cluster_endpoint"],
        "nodegroup_name": iam["nodegroup_name"], "oidc_issuer": iam["oidc_issuer"],
        "job_role_arn": iam["job_role_arn"], "emr_service_role_arn": iam["emr_service_role_arn"],
        "job_policy_arn": iam["job_policy_arn"], "job_namespace": spec.cfg.namespaces.jobs,
        "alertmanager_role_arn": iam["alertmanager_role_arn"],
        "fluent_bit_role_arn": iam["fluent_bit_role_arn"],
        "job_service_account": JOB_SERVICE_ACCOUNT, **vc,
        "bucket": bucket["bucket"], "bucket_arn": bucket["bucket_arn"],
        "stream_arns": streams, "stream_arns_by_role": by_role, "topic_arn": topic_arn,
        "log_group_arn": log_group_arn,
    }
    outlet_events[PLATFORM_PROVISIONED].extra = facts
    write_stage_summary(DAG_ID, facts, spec.cfg)
    return facts


with DAG(
    dag_id=DAG_ID,
    description="Provision EKS, IAM/IRSA, EMR on EKS, S3, Kinesis, alerts, Flink operator",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params=PARAMS,
    tags=["flink-platform", "provision"],
    doc_md=__doc__,
) as dag:
    config = resolve_config()
    plan = plan_resources(config)

    # 1. EKS cluster and managed nodegroup
    prereq = ensure_cluster_prerequisites(config)
    cluster_choice = decide_cluster(config)
    create_cluster = EksCreateCluster(task_id="create_eks_cluster", operator_kwargs={
        "cluster_name": plan["cluster_name"], "cluster_role_arn": prereq["cluster_role_arn"],
        "resources_vpc_config": prereq["resources_vpc_config"], "compute": None,
        "create_cluster_kwargs": plan["cluster_kwargs"], "region_name": plan["region"], **AWS})
    await_cluster = EksClusterStateSensor(
        task_id="await_eks_cluster", cluster_name=plan["cluster_name"],
        region_name=plan["region"], mode="reschedule", poke_interval=30, timeout=30 * 60,
        trigger_rule=AFTER_BRANCH, **AWS)
    nodegroup_choice = decide_nodegroup(config)
    create_nodegroup = EksCreateNodegroup(task_id="create_nodegroup", operator_kwargs={
        "cluster_name": plan["cluster_name"], "nodegroup_name": plan["nodegroup_name"],
        "nodegroup_subnets": prereq["private_subnet_ids"],  # behind the NAT gateway
        "nodegroup_role_arn": prereq["node_role_arn"],
        "create_nodegroup_kwargs": plan["nodegroup_kwargs"], "region_name": plan["region"],
        **AWS})
    await_nodegroup = EksNodegroupStateSensor(
        task_id="await_nodegroup", cluster_name=plan["cluster_name"],
        nodegroup_name=plan["nodegroup_name"], region_name=plan["region"],
        mode="reschedule", poke_interval=30, timeout=30 * 60,
        trigger_rule=AFTER_BRANCH, **AWS)

    # 2. IAM (IRSA)
    iam = ensure_iam(config)

    # 3. EMR on EKS: namespaces + RBAC and cluster access first, then the virtual cluster
    k8s_objects = apply_kubernetes_objects(config, iam["job_role_arn"])
    emr_access = ensure_emr_access(config)
    vc_choice = decide_virtual_cluster(config)
    create_vc = EmrEksCreateClusterOperator(
        task_id="create_virtual_cluster", virtual_cluster_name=plan["virtual_cluster_name"],
        eks_cluster_name=plan["cluster_name"], eks_namespace=plan["jobs_namespace"],
        tags=dict(PARSE_CFG.tags), region_name=plan["region"], **AWS)  # tags: not templated
    vc = virtual_cluster(config)

    # 4. S3 state bucket
    create_bucket = S3CreateBucketOperator(
        task_id="create_bucket", bucket_name=plan["bucket_name"], region_name=plan["region"], **AWS)
    bucket = configure_bucket(config)

    # 5. Kinesis streams
    create_streams = [
        KinesisCreateStreamOperator(
            task_id=f"create_stream_{key}", stream_name=plan[f"{key}_name"],
            shard_count=plan[f"{key}_shards"], retention_hours=plan[f"{key}_retention_hours"],
            tags=plan["tags"], region_name=plan["region"], **AWS)
        for key in STREAM_KEYS
    ]
    await_streams = KinesisStreamActiveSensor(
        task_id="await_streams_active",
        stream_names=[plan[f"{key}_name"] for key in STREAM_KEYS],
        region_name=plan["region"], deferrable=DEFERRABLE, poke_interval=10, timeout=10 * 60,
        **AWS)
    streams = apply_stream_retention(config)

    # 6. Alerts
    topic_arn = ensure_alert_topic(config)
    log_group_arn = ensure_log_group(config)

    # 7. Kubernetes side
    cert_manager = install_cert_manager(config)
    flink_operator = install_flink_operator(config, iam["job_role_arn"])
    helm_installer_removed = remove_helm_installer(config)
    operator_ready = FlinkOperatorReadySensor(
        task_id="await_flink_operator_ready", config=config, deferrable=DEFERRABLE,
        poke_interval=5, timeout=PARSE_CFG.flink.ready_timeout_s)

    # 8. Publish
    notify = SnsPublishOperator(
        task_id="notify_provisioned", target_arn=topic_arn,
        subject="flink-platform provisioned",
        message="Flink platform {{ ti.xcom_pull(task_ids='resolve_config')['environment'] }}-"
                "{{ ti.xcom_pull(task_ids='resolve_config')['suffix'] }} provisioned by run "
                "{{ run_id }}", region_name=plan["region"], **AWS)
    published = publish_platform(config, iam, vc, bucket, streams, topic_arn, log_group_arn)

    chain(config, plan, prereq, cluster_choice, create_cluster, await_cluster)
    cluster_choice >> await_cluster
    chain(await_cluster, nodegroup_choice, create_nodegroup, await_nodegroup)
    nodegroup_choice >> await_nodegroup
    chain(await_nodegroup, iam, k8s_objects, emr_access, vc_choice, create_vc, vc)
    vc_choice >> vc
    chain(vc, create_bucket, bucket, create_streams, await_streams, streams)
    chain(streams, topic_arn, log_group_arn, cert_manager, flink_operator, operator_ready,
          install_monitoring(config, topic_arn, iam["alertmanager_role_arn"],
                             iam["fluent_bit_role_arn"]),
          helm_installer_removed, notify, published)

    list(dag.tasks) >> watcher()
