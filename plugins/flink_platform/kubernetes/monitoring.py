"""Monitoring on the ``aws`` target, rendered from the same files as the local stack.

kube-prometheus-stack (Prometheus, Alertmanager, Grafana; pinned chart) and aws-for-fluent-bit
are installed by the in-cluster helm step (provisioning.run_helm); the platform rules
(include/monitoring/rules) become a PrometheusRule, the dashboard a ConfigMap for Grafana's
dashboard sidecar; Alertmanager publishes to the platform SNS topic with the same receiver
and message template as locally (local/monitoring.py); Fluent Bit ships the Flink pods'
logs to the provisioned log group. Alertmanager and Fluent Bit get AWS credentials through
IRSA: provision creates the roles (aws/iam.py ``ensure_monitoring_iam``) for exactly the
service accounts named here, and passes their ARNs (docs/OBSERVABILITY.md).
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from flink_platform.aws.specs import (
    ALERTMANAGER_SERVICE_ACCOUNT,
    FLUENT_BIT_SERVICE_ACCOUNT,
    MONITORING_NAMESPACE,
)
from flink_platform.config import PlatformConfig
from flink_platform.kubernetes.client import KubeClient
from flink_platform.kubernetes.manifests import _install, uninstall_command
from flink_platform.kubernetes.provisioning import run_helm
from flink_platform.local.monitoring import (
    MONITORING_DIR,
    RULES_DIR,
    TEMPLATES_DIR,
    alertmanager_routing,
    sns_receiver,
)

NAMESPACE = MONITORING_NAMESPACE
KPS_RELEASE = "kube-prometheus-stack"
# the chart's Prometheus Service (<release fullname>-prometheus) and its port name
PROMETHEUS_SERVICE = (f"{KPS_RELEASE}-prometheus", "http-web")
KPS_CHART = "kube-prometheus-stack"
KPS_VERSION = "66.2.2"  # Prometheus Operator 0.78, Prometheus 2.55, Alertmanager 0.27
KPS_REPO = "https://prometheus-community.github.io/helm-charts"
FLUENT_BIT_RELEASE = "aws-for-fluent-bit"
FLUENT_BIT_CHART = "aws-for-fluent-bit"
FLUENT_BIT_VERSION = "0.1.34"
FLUENT_BIT_REPO = "https://aws.github.io/eks-charts"
DASHBOARD_FILE = MONITORING_DIR / "dashboards" / "flink-platform.json"
TEMPLATE_FILE = TEMPLATES_DIR / "sns.tmpl"
PART_OF = {"app.kubernetes.io/part-of": "flink-platform"}


def _irsa(key: str, role_arn: str | None) -> list[str]:
    """The IRSA annotation of a chart's service account; none without a role (the pods
    then use the node role's credentials)."""
    if not role_arn:
        return []
    return ["--set-json", f"{key}={json.dumps({'eks.amazonaws.com/role-arn': role_arn})}"]


def alertmanager_config(cfg: PlatformConfig, topic_arn: str) -> dict[str, Any]:
    """The same route and SNS receiver as locally; AWS's own SNS endpoint, IRSA creds."""
    receiver = sns_receiver(topic_arn, cfg.region)
    config = alertmanager_routing(receiver, "30s", ["/etc/alertmanager/config/*.tmpl"])
    config["route"]["routes"] = [{"matchers": ['alertname="Watchdog"'], "receiver": "null"}]
    config["receivers"].append({"name": "null"})
    return config


def kube_prometheus_stack_command(cfg: PlatformConfig, topic_arn: str,
                                  alertmanager_role_arn: str | None = None) -> list[str]:
    """helm upgrade --install of the pinned chart: Prometheus selects every PodMonitor and
    PrometheusRule (not only the release's), Alertmanager routes to SNS, Grafana's sidecar
    loads labelled dashboard ConfigMaps."""
    spec = "prometheus.prometheusSpec."
    options = [
        "--create-namespace",
        "--set", f"{spec}podMonitorSelectorNilUsesHelmValues=false",
        "--set", f"{spec}ruleSelectorNilUsesHelmValues=false",
        "--set", f"{spec}serviceMonitorSelectorNilUsesHelmValues=false",
        "--set", f"{spec}retention=7d",
        "--set-json", f"alertmanager.config={json.dumps(alertmanager_config(cfg, topic_arn))}",
        "--set-json", "alertmanager.templateFiles="
                      + json.dumps({"flink-platform-sns.tmpl": TEMPLATE_FILE.read_text()}),
        # the name the IRSA role trusts, not left to the chart's fullname helper
        "--set", "alertmanager.serviceAccount.create=true",
        "--set", f"alertmanager.serviceAccount.name={ALERTMANAGER_SERVICE_ACCOUNT}",
        *_irsa("alertmanager.serviceAccount.annotations", alertmanager_role_arn),
        # EKS runs these control-plane parts itself: not scrapable, their rules would page
        "--set", "kubeControllerManager.enabled=false", "--set", "kubeScheduler.enabled=false",
        "--set", "kubeEtcd.enabled=false", "--set", "kubeProxy.enabled=false",
        "--set", "grafana.sidecar.dashboards.enabled=true",
        "--set", "grafana.sidecar.dashboards.label=grafana_dashboard",
    ]
    return _install(KPS_RELEASE, KPS_CHART, KPS_VERSION, NAMESPACE, *options, repo=KPS_REPO)


def fluent_bit_command(cfg: PlatformConfig, log_group: str,
                       role_arn: str | None = None) -> list[str]:
    """aws-for-fluent-bit: the job namespace's container logs to ``log_group``."""
    options = [
        "--create-namespace",
        "--set", f"input.path=/var/log/containers/*_{cfg.namespaces.jobs}_*.log",
        "--set", "cloudWatch.enabled=false",
        "--set", "cloudWatchLogs.enabled=true",
        "--set", f"cloudWatchLogs.region={cfg.region}",
        "--set", f"cloudWatchLogs.logGroupName={log_group}",
        "--set", "cloudWatchLogs.logStreamPrefix=flink-",
        "--set", "cloudWatchLogs.autoCreateGroup=false",
        "--set", "firehose.enabled=false", "--set", "kinesis.enabled=false",
        "--set", "elasticsearch.enabled=false",
        "--set", "serviceAccount.create=true",
        "--set", f"serviceAccount.name={FLUENT_BIT_SERVICE_ACCOUNT}",
        *_irsa("serviceAccount.annotations", role_arn),
    ]
    return _install(FLUENT_BIT_RELEASE, FLUENT_BIT_CHART, FLUENT_BIT_VERSION, NAMESPACE,
                    *options, repo=FLUENT_BIT_REPO)


def prometheus_rule(cfg: PlatformConfig) -> dict[str, Any]:
    """include/monitoring/rules/*.yml as one PrometheusRule (groups unchanged)."""
    groups = [group for path in sorted(RULES_DIR.glob("*.yml"))
              for group in yaml.safe_load(path.read_text())["groups"]]
    return {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
        "metadata": {"name": "flink-platform", "namespace": NAMESPACE,
                     "labels": {**PART_OF, "release": KPS_RELEASE,
                                "platform-env": cfg.env_suffix}},
        "spec": {"groups": groups},
    }


def dashboard_config_map(cfg: PlatformConfig) -> dict[str, Any]:
    """The Grafana dashboard, picked up by the sidecar through the grafana_dashboard label."""
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "flink-platform-dashboard", "namespace": NAMESPACE,
                     "labels": {**PART_OF, "grafana_dashboard": "1",
                                "platform-env": cfg.env_suffix}},
        "data": {DASHBOARD_FILE.name: DASHBOARD_FILE.read_text()},
    }


def monitoring_objects(cfg: PlatformConfig) -> list[dict[str, Any]]:
    """Objects applied after the chart installed its CRDs, in apply order."""
    return [prometheus_rule(cfg), dashboard_config_map(cfg)]


def uninstall_commands() -> list[tuple[str, list[str]]]:
    """(release, command) in teardown order: Fluent Bit, then the stack."""
    return [(release, uninstall_command(release, NAMESPACE))
            for release in (FLUENT_BIT_RELEASE, KPS_RELEASE)]


def install_monitoring(kube: KubeClient, cfg: PlatformConfig, topic_arn: str, log_group: str,
                       alertmanager_role_arn: str | None = None,
                       fluent_bit_role_arn: str | None = None,
                       poll_s: float = 3.0) -> dict[str, Any]:
    """The stack (its CRDs first), then the rule and dashboard objects, then Fluent Bit.
    Idempotent: helm upgrade --install, objects created or patched."""
    stack = run_helm(kube, cfg, KPS_RELEASE,
                     kube_prometheus_stack_command(cfg, topic_arn, alertmanager_role_arn),
                     poll_s=poll_s)
    objects = {f"{o['kind']}/{o['metadata']['namespace']}/{o['metadata']['name']}":
               kube.apply(o) for o in monitoring_objects(cfg)}
    logs = run_helm(kube, cfg, FLUENT_BIT_RELEASE,
                    fluent_bit_command(cfg, log_group, fluent_bit_role_arn), poll_s=poll_s)
    return {"target": "aws", "releases": [stack["release"], logs["release"]],
            "objects": objects}


def uninstall_monitoring(kube: KubeClient, cfg: PlatformConfig,
                         poll_s: float = 3.0) -> dict[str, Any]:
    """The objects, then the releases; what is already gone is success. The helm pods run
    in the operator namespace as the ``helm-installer`` account, which provision removed:
    it exists again only while they run (as in the operator's own uninstall)."""
    from flink_platform.kubernetes.provisioning import apply_helm_installer, remove_helm_installer

    deleted = {f"{o['kind']}/{o['metadata']['name']}":
               kube.delete(o["kind"], NAMESPACE, o["metadata"]["name"])
               for o in reversed(monitoring_objects(cfg))}
    if kube.get("Namespace", None, cfg.namespaces.operator) is None:
        return {"target": "aws", "uninstalled": [], "deleted": deleted}
    apply_helm_installer(kube, cfg)
    try:
        releases = [run_helm(kube, cfg, release, command, poll_s=poll_s)["release"]
                    for release, command in uninstall_commands()]
    finally:
        remove_helm_installer(kube, cfg)
    return {"target": "aws", "uninstalled": releases, "deleted": deleted}
