"""Kubernetes provisioning steps on the ``aws`` target: base objects (namespaces, service
accounts, RBAC), Helm run inside the cluster as a pod, and Flink operator readiness."""

from __future__ import annotations

import time
from typing import Any

from flink_platform.config import PlatformConfig
from flink_platform.kubernetes.client import KubeClient
from flink_platform.kubernetes.manifests import base_objects, helm_installer_objects, helm_pod

WEBHOOK_SERVICE = "flink-operator-webhook-service"  # upstream chart's webhook Service


class HelmPodError(RuntimeError):
    """The Helm installer pod failed or did not finish in time."""


def apply_base_objects(kube: KubeClient, cfg: PlatformConfig, job_role_arn: str) -> dict[str, str]:
    """Create or patch every base object; ``{"Kind/ns/name": "created"|"patched"}``."""
    return {f"{o['kind']}/{o['metadata'].get('namespace', '-')}/{o['metadata']['name']}":
            kube.apply(o) for o in base_objects(cfg, job_role_arn)}


def apply_helm_installer(kube: KubeClient, cfg: PlatformConfig) -> dict[str, str]:
    """(Re)create the Helm pods' service account and its cluster-admin binding."""
    return {f"{o['kind']}/{o['metadata']['name']}": kube.apply(o)
            for o in helm_installer_objects(cfg)}


def remove_helm_installer(kube: KubeClient, cfg: PlatformConfig) -> dict[str, str]:
    """Delete the binding, then the account (least privilege once Helm is done);
    idempotent: ``already gone`` when there is nothing to delete."""
    return {f"{o['kind']}/{o['metadata']['name']}":
            "deleted" if kube.delete(o["kind"], o["metadata"].get("namespace"),
                                     o["metadata"]["name"]) else "already gone"
            for o in reversed(helm_installer_objects(cfg))}


def _wait_gone(kube: KubeClient, namespace: str, name: str, deadline: float, poll_s: float) -> None:
    while kube.get("Pod", namespace, name) is not None:
        if time.monotonic() > deadline:
            raise HelmPodError(f"old helm pod {namespace}/{name} still terminating")
        time.sleep(poll_s)


def _failure_reason(pod: dict[str, Any]) -> str:
    for status in pod.get("status", {}).get("containerStatuses", []) or []:
        term = status.get("state", {}).get("terminated") or {}
        if term:
            return (f"exit code {term.get('exitCode')}, reason {term.get('reason')}: "
                    f"{(term.get('message') or '').strip()[-500:]}")
    return pod.get("status", {}).get("reason") or pod.get("status", {}).get("message") or "unknown"


def run_helm(kube: KubeClient, cfg: PlatformConfig, release: str, command: list[str],
             timeout_s: float = 900, poll_s: float = 3.0) -> dict[str, Any]:
    """Run one Helm command in a pod and wait for it; delete the pod when it succeeded."""
    pod = helm_pod(cfg, release, command)
    ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    deadline = time.monotonic() + timeout_s
    if kube.delete("Pod", ns, name):  # a pod of an earlier run: start clean
        _wait_gone(kube, ns, name, deadline, poll_s)
    kube.create(pod)
    phase = "Pending"
    while time.monotonic() < deadline:
        current = kube.get("Pod", ns, name)
        if current is None:
            raise HelmPodError(f"helm pod {ns}/{name} disappeared before it finished")
        phase = current.get("status", {}).get("phase", "Pending")
        if phase == "Succeeded":
            kube.delete("Pod", ns, name)
            return {"release": release, "pod": f"{ns}/{name}", "phase": phase}
        if phase == "Failed":
            raise HelmPodError(f"helm pod {ns}/{name} ({release}) failed: "
                               f"{_failure_reason(current)}; the pod is kept for its logs")
        time.sleep(poll_s)
    raise HelmPodError(f"helm pod {ns}/{name} ({release}) not finished after {timeout_s:.0f}s "
                       f"(phase {phase})")


def _condition(deployment: dict[str, Any], kind: str) -> dict[str, Any]:
    for cond in deployment.get("status", {}).get("conditions", []) or []:
        if cond.get("type") == kind:
            return cond
    return {}


def operator_readiness(kube: KubeClient, cfg: PlatformConfig) -> tuple[str, str]:
    """``ready`` when the operator Deployment is Available and its webhook has endpoints."""
    ns, name = cfg.namespaces.operator, cfg.operator.release_name
    deployment = kube.get("Deployment", ns, name)
    if deployment is None:
        return "waiting", f"deployment {ns}/{name} not created yet"
    progressing = _condition(deployment, "Progressing")
    if (progressing.get("status") == "False"
            and progressing.get("reason") == "ProgressDeadlineExceeded"):
        message = progressing.get("message", "progress deadline exceeded")
        return "failed", f"deployment {ns}/{name}: {message}"
    replica_failure = _condition(deployment, "ReplicaFailure")
    if replica_failure.get("status") == "True":
        message = replica_failure.get("message", "replica failure")
        return "failed", f"deployment {ns}/{name}: {message}"
    available = _condition(deployment, "Available")
    if available.get("status") != "True":
        reason = available.get("reason", "no status")
        return "waiting", f"deployment {ns}/{name} not Available ({reason})"
    endpoints = kube.get("Endpoints", ns, WEBHOOK_SERVICE) or {}
    ready = [a for s in endpoints.get("subsets", []) or [] for a in s.get("addresses", []) or []]
    if not ready:
        return "waiting", (f"deployment {ns}/{name} Available, webhook {WEBHOOK_SERVICE} "
                           "has no ready endpoint")
    return "ready", f"deployment {ns}/{name} Available, webhook serving on {len(ready)} endpoint(s)"
