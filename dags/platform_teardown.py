"""Tear the Flink platform down, in reverse provisioning order, then audit by tag.

Flink deployments -> monitoring (aws) and its IRSA roles -> EMR virtual cluster -> the
EMR service's EKS access entry ->
operator releases (and the platform's namespaces, RBAC with them) -> Kinesis streams ->
S3 bucket (every object version and delete marker first)
-> log group -> job IAM (detach, then delete; OIDC provider) -> nodegroup -> EKS cluster
-> cluster network and cluster/node roles -> report what is left to the platform topic
-> the topic itself -> audit.

On any target but ``local`` the run must repeat the environment it deletes in the
``confirm_environment`` Param (``<environment>-<suffix>``, e.g. ``prod-x7k2``): otherwise
``confirm_teardown`` fails naming the Param and the expected value, and no step runs (each
takes its config from that task). After the Flink deployments are deleted, their delete
waits until each FlinkDeployment object is gone (the operator's finalizer has stopped the
job, so nothing writes checkpoints any more) before the operator and the bucket go.

Every step treats "already gone" as success and runs whatever happened upstream
(``ALL_DONE``), so a half-provisioned platform is removed too. Throttling is retried with
backoff (botocore adaptive retries, plus task retries with exponential backoff). The
audit lists every resource still tagged ``platform-env=<env>-<suffix>`` and fails,
naming them. Names come from the config, not from a provision run. The account-wide EMR
on EKS service-linked role is left in place on purpose (shared, and AWS-managed).
Trigger: ``airflow dags test platform_teardown``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG, Param, TriggerRule, chain, task

from flink_platform.aws.clients import RETRY_CONFIG
from flink_platform.config import load_config
from flink_platform.dag_utils import DEFAULT_ARGS, AirflowFailException, resolve_config, watcher
from flink_platform.operators.eks import EksDeleteClusterIfExists, EksDeleteNodegroupIfExists
from flink_platform.params import config_params

DAG_ID = "platform_teardown"
PARSE_CFG = load_config()
ALL_DONE = TriggerRule.ALL_DONE
STEP = {"trigger_rule": ALL_DONE}
CONFIRM_PARAM = "confirm_environment"
PARAMS: dict[str, Any] = {
    **config_params("region"),
    CONFIRM_PARAM: Param(
        "", type="string", title=CONFIRM_PARAM,
        description="Required on every target but local: the environment to delete, "
                    "<environment>-<suffix> (e.g. prod-x7k2), typed again."),
}


def _spec(config: dict[str, Any] | None):
    from flink_platform.aws import spec_from

    return spec_from(config)


@task
def confirm_teardown(config: dict[str, Any], params: dict[str, Any] | None = None,
                     ti=None) -> dict[str, Any]:
    """Outside ``local``, the run must name the environment it deletes (on ``local`` too when
    the Param is given: a typed name that is not this environment stops the run); returns
    the config every step then runs on (a failure here leaves them nothing to run on)."""
    spec = _spec(config)
    expected, given = spec.cfg.env_suffix, (params or {}).get(CONFIRM_PARAM) or ""
    if spec.cfg.target == "local" and not given:
        return config
    if given != expected:
        raise AirflowFailException(
            f"teardown of the {spec.cfg.target} environment {expected} needs the Param "
            f"{CONFIRM_PARAM}={expected!r} (got {given!r}): trigger again with it; "
            "nothing was deleted")
    print(f"teardown of {expected} confirmed by {CONFIRM_PARAM}")
    if ti is not None:
        ti.xcom_push(key="confirmed_environment", value=given)
    return config


@task(multiple_outputs=True, retries=0)
def plan_resources(config: dict[str, Any]) -> dict[str, Any]:
    """Names of every resource (no AWS call)."""
    return _spec(config).plan()


@task(**STEP)
def delete_flink_deployments(config: dict[str, Any]) -> dict[str, Any]:
    """Remove every configured Flink job through the target's Flink adapter."""
    spec = _spec(config)
    try:
        from flink_platform.adapters import get_flink_adapter

        adapter = get_flink_adapter(spec.cfg)
    except ImportError as err:  # the Flink-job adapter module is not in this tree yet
        return {"skipped": f"no Flink adapter available ({err})"}
    for job in spec.cfg.jobs:
        adapter.delete(job)
    return {"deleted": sorted(spec.cfg.jobs)}


@task(**STEP)
def uninstall_monitoring(config: dict[str, Any]) -> dict[str, Any]:
    """The rule and dashboard objects, Fluent Bit, kube-prometheus-stack (aws only)."""
    from flink_platform.adapters import get_platform_adapter

    return get_platform_adapter(_spec(config).cfg).uninstall_monitoring()


@task(**STEP)
def delete_monitoring_iam(config: dict[str, Any]) -> list[str]:
    """The IRSA roles of Alertmanager and Fluent Bit, once their charts are uninstalled."""
    from flink_platform.aws.iam import delete_monitoring_iam as delete

    return delete(_spec(config))


@task(**STEP)
def uninstall_operator_releases(config: dict[str, Any]) -> dict[str, Any]:
    """Helm uninstall of the Flink operator and cert-manager; namespaces and RBAC."""
    from flink_platform.adapters import get_platform_adapter

    return get_platform_adapter(_spec(config).cfg).uninstall()


@task(**STEP)
def delete_virtual_cluster(config: dict[str, Any]) -> str | None:
    from flink_platform.aws.alerts import delete_virtual_cluster as delete

    return delete(_spec(config))


@task(**STEP)
def delete_emr_access(config: dict[str, Any]) -> bool:
    """The EMR service-linked role's access entry (after the virtual cluster that used it)."""
    from flink_platform.aws.clients import account_id
    from flink_platform.aws.emr_access import delete_emr_access as delete

    spec = _spec(config)
    return delete(spec, account_id(spec.cfg))


@task(**STEP)
def delete_streams(config: dict[str, Any]) -> list[str]:
    from flink_platform.aws.streams import delete_streams as delete

    spec = _spec(config)
    return delete(spec.cfg, list(spec.streams))


@task(**STEP)
def empty_and_delete_bucket(config: dict[str, Any]) -> dict[str, Any]:
    from flink_platform.aws.storage import empty_and_delete_bucket as delete

    return delete(_spec(config))


@task(**STEP)
def delete_log_group(config: dict[str, Any]) -> bool:
    from flink_platform.aws.alerts import delete_log_group as delete

    return delete(_spec(config))


@task(**STEP)
def delete_alert_topic(config: dict[str, Any]) -> bool:
    from flink_platform.aws.alerts import delete_topic
    from flink_platform.aws.clients import account_id

    spec = _spec(config)
    return delete_topic(spec, account_id(spec.cfg))


@task(**STEP)
def delete_job_iam(config: dict[str, Any]) -> list[str]:
    """Job role (detach, then delete), job policy, OIDC provider."""
    from flink_platform.aws.clients import account_id
    from flink_platform.aws.iam import delete_job_iam as delete

    spec = _spec(config)
    return delete(spec, account_id(spec.cfg))


@task(**STEP)
def delete_cluster_network_and_roles(config: dict[str, Any]) -> list[str]:
    from flink_platform.aws.cluster import delete_network_and_roles

    return delete_network_and_roles(_spec(config))


@task(**STEP)
def report_leftovers(config: dict[str, Any]) -> dict[str, Any]:
    """Publish what is still tagged (but the topic) to the platform topic, before it goes."""
    from flink_platform.aws.audit import leftover_resources
    from flink_platform.aws.notify import PlatformEvent, notify, topic_arn

    spec = _spec(config)
    topic = topic_arn(spec)
    left = [arn for arn in leftover_resources(spec) if arn != topic]
    summary = (f"teardown of {spec.cfg.env_suffix}: "
               + (f"{len(left)} resource(s) left: {', '.join(left)}" if left else "nothing left"))
    message_id = notify(spec, PlatformEvent.TEARDOWN_REPORT, summary, resources_left=left)
    return {"resources_left": left, "message_id": message_id}


@task(**STEP)
def audit_leftovers(config: dict[str, Any]) -> list[str]:
    """Fail, naming them, if any resource tagged with this environment is left."""
    from flink_platform.aws.audit import leftover_resources
    from flink_platform.reporting import write_stage_summary

    spec = _spec(config)
    left = leftover_resources(spec)
    write_stage_summary(DAG_ID, {
        "environment": spec.cfg.env_suffix, "tag_filter": f"platform-env={spec.cfg.env_suffix}",
        "resources_left": len(left), "leftovers": left,
    }, spec.cfg)
    if left:
        raise AirflowFailException(
            f"{len(left)} resource(s) still tagged platform-env={spec.cfg.env_suffix}: "
            + ", ".join(left))
    return left


with DAG(
    dag_id=DAG_ID,
    description="Tear down the Flink platform (reverse order) and audit leftovers by tag",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params=PARAMS,
    tags=["flink-platform", "teardown"],
    doc_md=__doc__,
) as dag:
    config = confirm_teardown(resolve_config())
    plan = plan_resources(config)
    eks = {"cluster_name": plan["cluster_name"], "region_name": plan["region"],
           "aws_conn_id": PARSE_CFG.aws_conn_id, "botocore_config": RETRY_CONFIG,
           "wait_for_completion": True,
           "waiter_delay": 10, "waiter_max_attempts": 90}
    delete_nodegroup = EksDeleteNodegroupIfExists(
        task_id="delete_nodegroup", trigger_rule=ALL_DONE,
        operator_kwargs={**eks, "nodegroup_name": plan["nodegroup_name"]})
    delete_cluster = EksDeleteClusterIfExists(
        task_id="delete_eks_cluster", trigger_rule=ALL_DONE,
        operator_kwargs={**eks, "force_delete_compute": True})

    chain(
        config, plan,
        delete_flink_deployments(config),
        uninstall_monitoring(config),
        delete_monitoring_iam(config),
        delete_virtual_cluster(config),
        delete_emr_access(config),
        uninstall_operator_releases(config),
        delete_streams(config),
        empty_and_delete_bucket(config),
        delete_log_group(config),
        delete_job_iam(config),
        delete_nodegroup,
        delete_cluster,
        delete_cluster_network_and_roles(config),
        report_leftovers(config),
        delete_alert_topic(config),
        audit_leftovers(config),
    )

    list(dag.tasks) >> watcher()
