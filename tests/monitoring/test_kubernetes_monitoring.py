"""What the aws target sends for monitoring: the exact helm commands (pinned charts,
values) and objects (PrometheusRule from the rules file, the dashboard ConfigMap), built
from the same include/monitoring files as the local stack."""

from __future__ import annotations

import asyncio
import json

import yaml
from kmock import resource

from flink_platform.kubernetes import monitoring as mon
from flink_platform.local.monitoring import MONITORING_DIR
from tests.provision.kube_helpers import wait_for

TOPIC = "arn:aws:sns:eu-west-1:111122223333:fraud-alerts-prod-x7k2"
AM_ROLE = "arn:aws:iam::111122223333:role/alertmanager-sns"
FB_ROLE = "arn:aws:iam::111122223333:role/fluent-bit-logs"


def _options(command: list[str]) -> dict[str, str]:
    """``--set``/``--set-json`` key=value pairs of a helm command."""
    pairs = {}
    for flag, value in zip(command, command[1:], strict=False):
        if flag in ("--set", "--set-json"):
            key, _, raw = value.partition("=")
            pairs[key] = json.loads(raw) if flag == "--set-json" else raw
    return pairs


def test_kube_prometheus_stack_is_pinned_and_routes_alerts_to_the_topic(platform_config):
    command = mon.kube_prometheus_stack_command(platform_config, TOPIC, AM_ROLE)
    assert command[:10] == ["helm", "upgrade", "--install", "kube-prometheus-stack",
                            "kube-prometheus-stack", "--version", "66.2.2", "--namespace",
                            "monitoring", "--repo"]
    assert command[10] == "https://prometheus-community.github.io/helm-charts"
    assert command[-3:] == ["--wait", "--timeout", "10m"]
    values = _options(command)
    spec = "prometheus.prometheusSpec."
    for key in ("podMonitorSelectorNilUsesHelmValues", "ruleSelectorNilUsesHelmValues"):
        assert values[spec + key] == "false"
    assert values["alertmanager.serviceAccount.annotations"] == {
        "eks.amazonaws.com/role-arn": AM_ROLE}
    # the account the IRSA role trusts (aws/specs.py), not the chart's fullname helper
    assert values["alertmanager.serviceAccount.create"] == "true"
    assert values["alertmanager.serviceAccount.name"] == "kube-prometheus-stack-alertmanager"
    config = values["alertmanager.config"]
    assert config["route"]["receiver"] == "platform-sns"
    assert config["route"]["group_by"] == ["alertname", "job_name"]
    assert config["route"]["routes"] == [{"matchers": ['alertname="Watchdog"'],
                                          "receiver": "null"}]
    [sns] = config["receivers"][0]["sns_configs"]
    assert sns == {  # AWS's own endpoint and IRSA credentials: no api_url, no keys
        "topic_arn": TOPIC, "sigv4": {"region": platform_config.region},
        "send_resolved": True,
        "subject": '{{ template "flink_platform.sns.subject" . }}',
        "message": '{{ template "flink_platform.sns.message" . }}'}
    assert config["templates"] == ["/etc/alertmanager/config/*.tmpl"]
    assert values["alertmanager.templateFiles"] == {
        "flink-platform-sns.tmpl": (MONITORING_DIR / "alertmanager" / "sns.tmpl").read_text()}
    assert values["grafana.sidecar.dashboards.label"] == "grafana_dashboard"


def test_fluent_bit_ships_the_job_namespace_logs_to_the_log_group(platform_config):
    command = mon.fluent_bit_command(platform_config, "/flink-platform/jobs-prod-x7k2",
                                     FB_ROLE)
    assert command[:9] == ["helm", "upgrade", "--install", "aws-for-fluent-bit",
                           "aws-for-fluent-bit", "--version", "0.1.34", "--namespace",
                           "monitoring"]
    values = _options(command)
    jobs = platform_config.namespaces.jobs
    assert values["input.path"] == f"/var/log/containers/*_{jobs}_*.log"
    assert values["cloudWatchLogs.enabled"] == "true"
    assert values["cloudWatchLogs.logGroupName"] == "/flink-platform/jobs-prod-x7k2"
    assert values["cloudWatchLogs.region"] == platform_config.region
    assert values["cloudWatchLogs.autoCreateGroup"] == "false"
    assert values["serviceAccount.annotations"] == {"eks.amazonaws.com/role-arn": FB_ROLE}
    assert values["serviceAccount.create"] == "true"
    assert values["serviceAccount.name"] == "aws-for-fluent-bit"


def test_prometheus_rule_is_the_rules_file(platform_config):
    rule = mon.prometheus_rule(platform_config)
    source = yaml.safe_load((MONITORING_DIR / "rules" / "flink-platform.rules.yml").read_text())
    assert rule == {
        "apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
        "metadata": {"name": "flink-platform", "namespace": "monitoring", "labels": {
            "app.kubernetes.io/part-of": "flink-platform", "release": "kube-prometheus-stack",
            "platform-env": platform_config.env_suffix}},
        "spec": {"groups": source["groups"]},
    }


def test_dashboard_config_map_carries_the_sidecar_label(platform_config):
    config_map = mon.dashboard_config_map(platform_config)
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["namespace"] == "monitoring"
    [(name, text)] = config_map["data"].items()
    assert name == "flink-platform.json"
    assert json.loads(text)["uid"] == "flink-platform"
    assert [o["kind"] for o in mon.monitoring_objects(platform_config)] == [
        "PrometheusRule", "ConfigMap"]


def test_teardown_uninstalls_fluent_bit_then_the_stack():
    releases = [release for release, _ in mon.uninstall_commands()]
    assert releases == ["aws-for-fluent-bit", "kube-prometheus-stack"]
    _, command = mon.uninstall_commands()[1]
    assert command[-1].endswith("helm uninstall kube-prometheus-stack -n monitoring "
                                "--wait --timeout 10m")


# -- sent to the Kubernetes API (kmock over HTTP), as the other provisioning steps ------

async def _succeed_pod(kmock, name: str, namespace: str) -> dict:
    key = (resource("v1/pods"), namespace, name)
    await wait_for(lambda: key in kmock.objects and not kmock.objects[key].deleted,
                   what=f"pod {name}")
    pod = kmock.objects[key].raw
    kmock.objects[key].patch({"status": {"phase": "Succeeded"}})
    return pod


async def test_install_sends_the_stack_then_the_objects_then_fluent_bit(kmock, kube):
    from flink_platform.config import load_config

    cfg = load_config("aws")
    task = asyncio.create_task(asyncio.to_thread(
        mon.install_monitoring, kube, cfg, TOPIC, "/flink-platform/jobs-prod-x7k2",
        AM_ROLE, FB_ROLE, 0.02))
    ns = cfg.namespaces.operator
    stack_pod = await _succeed_pod(kmock, "helm-kube-prometheus-stack", ns)
    logs_pod = await _succeed_pod(kmock, "helm-aws-for-fluent-bit", ns)
    result = await task
    assert stack_pod["spec"]["containers"][0]["command"] == mon.kube_prometheus_stack_command(
        cfg, TOPIC, AM_ROLE)
    assert logs_pod["spec"]["containers"][0]["command"] == mon.fluent_bit_command(
        cfg, "/flink-platform/jobs-prod-x7k2", FB_ROLE)
    sent = [r.data for r in kmock if getattr(r.method, "value", r.method) == "POST"]
    assert [(o["kind"], o["metadata"]["name"]) for o in sent] == [
        ("Pod", "helm-kube-prometheus-stack"), ("PrometheusRule", "flink-platform"),
        ("ConfigMap", "flink-platform-dashboard"), ("Pod", "helm-aws-for-fluent-bit")]
    assert sent[1] == mon.prometheus_rule(cfg) and sent[2] == mon.dashboard_config_map(cfg)
    assert kmock.objects["monitoring.coreos.com/v1/prometheusrules", "monitoring",
                         "flink-platform"]["spec"] == mon.prometheus_rule(cfg)["spec"]
    assert result["releases"] == ["kube-prometheus-stack", "aws-for-fluent-bit"]


def _present(kmock, key) -> bool:
    return key in kmock.objects and not kmock.objects[key].deleted


HELM_SA = (resource("v1/serviceaccounts"), "flink-operator", "helm-installer")
HELM_CRB = (resource("rbac.authorization.k8s.io/v1/clusterrolebindings"), None,
            "helm-installer-prod-x7k2")


async def test_uninstall_runs_helm_uninstall_through_the_installer_pod(kmock, kube):
    """The objects go, then Fluent Bit's and the stack's releases, each by a helm pod that
    runs as the re-created helm-installer account, removed again afterwards."""
    from flink_platform.config import load_config

    cfg = load_config("aws")
    ns = cfg.namespaces.operator
    installed = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
                 *mon.monitoring_objects(cfg)]
    for obj in installed:  # kmock serves on this event loop: the client runs in a thread
        await asyncio.to_thread(kube.apply, obj)
    task = asyncio.create_task(asyncio.to_thread(mon.uninstall_monitoring, kube, cfg, 0.02))
    pods = []
    for release in ("aws-for-fluent-bit", "kube-prometheus-stack"):
        key = (resource("v1/pods"), ns, f"helm-{release}")
        await wait_for(lambda key=key: _present(kmock, key), what=f"pod helm-{release}")
        assert _present(kmock, HELM_SA) and _present(kmock, HELM_CRB)  # its account
        pods.append(await _succeed_pod(kmock, f"helm-{release}", ns))
    result = await task
    assert [p["spec"]["containers"][0]["command"] for p in pods] == [
        command for _, command in mon.uninstall_commands()]
    assert pods[0]["spec"]["containers"][0]["command"] == [
        "/bin/sh", "-c", "helm status aws-for-fluent-bit -n monitoring >/dev/null 2>&1 || "
        "exit 0; helm uninstall aws-for-fluent-bit -n monitoring --wait --timeout 10m"]
    assert {p["spec"]["serviceAccountName"] for p in pods} == {"helm-installer"}
    assert result == {"target": "aws",
                      "uninstalled": ["aws-for-fluent-bit", "kube-prometheus-stack"],
                      "deleted": {"ConfigMap/flink-platform-dashboard": True,
                                  "PrometheusRule/flink-platform": True}}
    assert not _present(kmock, HELM_SA) and not _present(kmock, HELM_CRB)
    for obj in mon.monitoring_objects(cfg):
        kind = {"PrometheusRule": "monitoring.coreos.com/v1/prometheusrules",
                "ConfigMap": "v1/configmaps"}[obj["kind"]]
        assert not _present(kmock, (resource(kind), "monitoring", obj["metadata"]["name"]))


async def test_uninstall_of_nothing_installed_succeeds(kmock, kube):
    """No operator namespace (teardown ran before, or provision never got there): the
    objects are already gone and no helm pod is started."""
    from flink_platform.config import load_config

    cfg = load_config("aws")
    for _ in range(2):
        result = await asyncio.to_thread(mon.uninstall_monitoring, kube, cfg, 0.02)
        assert result == {"target": "aws", "uninstalled": [],
                          "deleted": {"ConfigMap/flink-platform-dashboard": False,
                                      "PrometheusRule/flink-platform": False}}
    assert [r for r in kmock if getattr(r.method, "value", r.method) == "POST"] == []
    assert not _present(kmock, HELM_SA) and not _present(kmock, HELM_CRB)
