"""Render ``include/manifests/platform/*.yaml`` (``${var}`` placeholders) into objects."""

from __future__ import annotations

import json
from string import Template
from typing import Any

import yaml

from flink_platform.aws.specs import EMR_CONTAINERS_USER, JOB_SERVICE_ACCOUNT
from flink_platform.config import PROJECT_ROOT, PlatformConfig

MANIFEST_DIR = PROJECT_ROOT / "include" / "manifests" / "platform"
HELM_SA = "helm-installer"


def render(name: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    """Objects of ``<name>.yaml`` with ``values`` substituted (every placeholder required)."""
    text = Template((MANIFEST_DIR / f"{name}.yaml").read_text()).substitute(values)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def base_values(cfg: PlatformConfig) -> dict[str, Any]:
    ns = cfg.namespaces
    return {"env": cfg.env_suffix, "operator_namespace": ns.operator, "jobs_namespace": ns.jobs,
            "cert_manager_namespace": ns.cert_manager, "job_service_account": JOB_SERVICE_ACCOUNT}


def base_objects(cfg: PlatformConfig, job_role_arn: str) -> list[dict[str, Any]]:
    """Namespaces, then service accounts, then RBAC (the EMR on EKS service's last), in
    apply order: all of it exists before the EMR virtual cluster is created."""
    values = {**base_values(cfg), "job_role_arn": json.dumps(job_role_arn),
              "emr_user": EMR_CONTAINERS_USER}
    return [obj for name in ("namespaces", "service-accounts", "rbac", "emr-rbac")
            for obj in render(name, values)]


def helm_installer_objects(cfg: PlatformConfig) -> list[dict[str, Any]]:
    """The cluster-admin ``helm-installer`` ServiceAccount and its ClusterRoleBinding: they
    exist only while Helm pods run (provision removes them after the operator install;
    teardown creates them for its uninstall and removes them after)."""
    return [obj for obj in base_objects(cfg, "")
            if obj["kind"] == "ServiceAccount" and obj["metadata"]["name"] == HELM_SA
            or obj["kind"] == "ClusterRoleBinding"
            and any(s["name"] == HELM_SA for s in obj.get("subjects", []))]


def helm_pod(cfg: PlatformConfig, release: str, command: list[str]) -> dict[str, Any]:
    values = {**base_values(cfg), "pod_name": f"helm-{release}"[:63], "release": release,
              "helm_image": json.dumps(cfg.operator.helm_image), "command": json.dumps(command)}
    return render("helm-installer-pod", values)[0]


def _install(release: str, chart: str, version: str, namespace: str,
             *options: str, repo: str | None = None) -> list[str]:
    command = ["helm", "upgrade", "--install", release, chart, "--version", version,
               "--namespace", namespace]
    if repo:
        command += ["--repo", repo]
    return [*command, *options, "--wait", "--timeout", "10m"]


def cert_manager_command(cfg: PlatformConfig) -> list[str]:
    return _install("cert-manager", "cert-manager", cfg.operator.cert_manager_version,
                    cfg.namespaces.cert_manager, "--set", "crds.enabled=true",
                    repo="https://charts.jetstack.io")


def operator_command(cfg: PlatformConfig, job_role_arn: str) -> list[str]:
    """The Flink Kubernetes Operator: upstream chart, or EMR's build of it."""
    op, ns = cfg.operator, cfg.namespaces
    watch = ("--set", f"watchNamespaces={{{ns.jobs}}}")
    if op.distribution == "emr":
        emr_version = op.emr_release_label.removeprefix("emr-").split("-")[0]
        return _install(op.release_name, "oci://public.ecr.aws/emr-on-eks/flink-kubernetes-operator",
                        emr_version, ns.operator, *watch, "--set",
                        f"emrContainers.operatorExecutionRoleArn={job_role_arn}")
    # Provision creates the job service account ("flink", with its IRSA role annotation)
    # before the operator; the chart would create one of the same name in each watched
    # namespace (jobServiceAccount.create defaults to true) and helm stops on an object it
    # does not own. Its job RoleBinding names ours (jobServiceAccount.name).
    return _install(op.release_name, op.chart_name, op.version, ns.operator, *watch,
                    "--set", "webhook.create=true", "--set", "jobServiceAccount.create=false",
                    "--set", f"jobServiceAccount.name={JOB_SERVICE_ACCOUNT}",
                    repo=op.chart_repo)


def uninstall_command(release: str, namespace: str) -> list[str]:
    """Uninstall ``release``; a release that is not there is success."""
    script = (f"helm status {release} -n {namespace} >/dev/null 2>&1 || exit 0; "
              f"helm uninstall {release} -n {namespace} --wait --timeout 10m")
    return ["/bin/sh", "-c", script]
