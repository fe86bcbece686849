"""Platform (Kubernetes step) adapter of the ``aws`` target: namespaces, service accounts
and RBAC, then cert-manager and the Flink Kubernetes Operator via Helm pods."""

from __future__ import annotations

from typing import Any

from flink_platform.config import PlatformConfig


class KubernetesPlatformAdapter:
    """Drives the EKS cluster with the task's credentials (``KubeClient.for_config``: a fresh
    EKS token, or the ``kubernetes_conn_id`` connection when configured)."""

    def __init__(self, cfg: PlatformConfig, kube: Any = None, helm_poll_s: float = 3.0) -> None:
        self.cfg = cfg
        self._kube = kube
        self.helm_poll_s = helm_poll_s

    @property
    def kube(self):
        if self._kube is None:
            from flink_platform.kubernetes.client import KubeClient

            self._kube = KubeClient.for_config(self.cfg)
        return self._kube

    def apply_base_objects(self, job_role_arn: str) -> dict[str, Any]:
        from flink_platform.kubernetes.provisioning import apply_base_objects

        return {"target": "aws", "objects": apply_base_objects(self.kube, self.cfg, job_role_arn)}

    def install_cert_manager(self) -> dict[str, Any]:
        from flink_platform.kubernetes.manifests import cert_manager_command
        from flink_platform.kubernetes.provisioning import run_helm

        return run_helm(self.kube, self.cfg, "cert-manager", cert_manager_command(self.cfg),
                        poll_s=self.helm_poll_s)

    def install_operator(self, job_role_arn: str) -> dict[str, Any]:
        from flink_platform.kubernetes.manifests import operator_command
        from flink_platform.kubernetes.provisioning import run_helm

        return run_helm(self.kube, self.cfg, self.cfg.operator.release_name,
                        operator_command(self.cfg, job_role_arn), poll_s=self.helm_poll_s)

    def remove_helm_installer(self) -> dict[str, Any]:
        """Delete the cluster-admin ``helm-installer`` account and binding (installs done)."""
        from flink_platform.kubernetes.provisioning import remove_helm_installer

        return {"target": "aws", "removed": remove_helm_installer(self.kube, self.cfg)}

    def install_monitoring(self, topic_arn: str, log_group: str,
                           alertmanager_role_arn: str | None = None,
                           fluent_bit_role_arn: str | None = None) -> dict[str, Any]:
        """kube-prometheus-stack, the rules and dashboard, Fluent Bit (helm pods); the
        role ARNs become the IRSA annotations of Alertmanager's and Fluent Bit's accounts."""
        from flink_platform.kubernetes.monitoring import install_monitoring

        return install_monitoring(self.kube, self.cfg, topic_arn, log_group,
                                  alertmanager_role_arn=alertmanager_role_arn,
                                  fluent_bit_role_arn=fluent_bit_role_arn,
                                  poll_s=self.helm_poll_s)

    def uninstall_monitoring(self) -> dict[str, Any]:
        from flink_platform.kubernetes.monitoring import uninstall_monitoring

        return uninstall_monitoring(self.kube, self.cfg, poll_s=self.helm_poll_s)

    def readiness(self) -> tuple[str, str]:
        from flink_platform.kubernetes.provisioning import operator_readiness

        return operator_readiness(self.kube, self.cfg)

    def uninstall(self) -> dict[str, Any]:
        """Operator release, cert-manager release, then the platform's namespaces and RBAC."""
        from flink_platform.kubernetes.manifests import base_objects, uninstall_command
        from flink_platform.kubernetes.provisioning import (
            apply_helm_installer,
            remove_helm_installer,
            run_helm,
        )

        ns, op = self.cfg.namespaces, self.cfg.operator
        done: dict[str, Any] = {}
        if self.kube.get("Namespace", None, ns.operator) is not None:
            # the installer pods live in the operator namespace; provision removed their
            # cluster-admin account, so it exists again only while they run
            apply_helm_installer(self.kube, self.cfg)
            try:
                for release, namespace in ((op.release_name, ns.operator),
                                           ("cert-manager", ns.cert_manager)):
                    done[release] = run_helm(self.kube, self.cfg, f"{release}-uninstall"[:50],
                                             uninstall_command(release, namespace),
                                             poll_s=self.helm_poll_s)["phase"]
            finally:
                done["helm-installer"] = remove_helm_installer(self.kube, self.cfg)
        for obj in reversed(base_objects(self.cfg, "")):
            meta = obj["metadata"]
            if obj["kind"] in ("Namespace", "ClusterRoleBinding"):
                gone = self.kube.delete(obj["kind"], meta.get("namespace"), meta["name"])
                done[f"{obj['kind']}/{meta['name']}"] = "deleted" if gone else "already gone"
        return done
