"""Target adapters: the target (local or aws) picks the implementation once, here."""

from __future__ import annotations

from flink_platform.adapters.base import FlinkDeploymentAdapter, FlinkJobStatus
from flink_platform.config import PlatformConfig

__all__ = ["FlinkDeploymentAdapter", "FlinkJobStatus", "get_flink_adapter", "get_platform_adapter"]


def get_flink_adapter(cfg: PlatformConfig) -> FlinkDeploymentAdapter:
    """The Flink lifecycle adapter of ``cfg.target`` (imports stay lazy: DAG parse is light)."""
    if cfg.target == "local":
        from flink_platform.adapters.local_flink import LocalFlinkAdapter

        return LocalFlinkAdapter(cfg)
    from flink_platform.adapters.kubernetes_flink import KubernetesFlinkAdapter

    return KubernetesFlinkAdapter(cfg)


def get_platform_adapter(cfg: PlatformConfig):
    """The Kubernetes-step adapter of ``cfg.target`` (provision/teardown DAGs)."""
    if cfg.target == "local":
        from flink_platform.adapters.platform_local import LocalPlatformAdapter

        return LocalPlatformAdapter(cfg)
    from flink_platform.adapters.platform_kubernetes import KubernetesPlatformAdapter

    return KubernetesPlatformAdapter(cfg)
