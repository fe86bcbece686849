"""Target adapters: the target (local or aws) picks the implementation once, here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flink_platform.adapters.base import FlinkDeploymentAdapter, FlinkJobStatus
from flink_platform.config import PlatformConfig

if TYPE_CHECKING:
    from flink_platform.data_plane import DataPlane

__all__ = ["FlinkDeploymentAdapter", "FlinkJobStatus", "get_flink_adapter", "get_platform_adapter"]


def get_flink_adapter(cfg: PlatformConfig,
                      data_plane: DataPlane | None = None) -> FlinkDeploymentAdapter:
    """The Flink lifecycle adapter of ``cfg.target`` (imports stay lazy: DAG parse is light).

    ``data_plane``: the provisioned streams and bucket the jobs it deploys run on (tasks
    that only read status, take savepoints or delete do not need it)."""
    if cfg.target == "local":
        from flink_platform.adapters.local_flink import LocalFlinkAdapter

        return LocalFlinkAdapter(cfg, data_plane=data_plane)
    from flink_platform.adapters.kubernetes_flink import KubernetesFlinkAdapter

    return KubernetesFlinkAdapter(cfg, data_plane=data_plane)


def get_platform_adapter(cfg: PlatformConfig):
    """The Kubernetes-step adapter of ``cfg.target`` (provision/teardown DAGs)."""
    if cfg.target == "local":
        from flink_platform.adapters.platform_local import LocalPlatformAdapter

        return LocalPlatformAdapter(cfg)
    from flink_platform.adapters.platform_kubernetes import KubernetesPlatformAdapter

    return KubernetesPlatformAdapter(cfg)
