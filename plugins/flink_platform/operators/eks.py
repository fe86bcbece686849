"""Provider EKS delete operators for teardown, with "already gone" as success.

The provider's EksDeleteNodegroupOperator / EksDeleteClusterOperator fail with
ResourceNotFoundException when there is nothing to delete; teardown must not.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.operators.eks import (
    EksDeleteClusterOperator,
    EksDeleteNodegroupOperator,
)


def _gone(err: Exception) -> bool:
    from flink_platform.aws.clients import error_code

    return error_code(err) == "ResourceNotFoundException"


class EksDeleteNodegroupIfExistsOperator(EksDeleteNodegroupOperator):
    """Delete the nodegroup and wait; a nodegroup (or cluster) that is gone is success."""

    def execute(self, context: Any) -> None:
        try:
            super().execute(context)
        except Exception as err:  # noqa: BLE001
            if not _gone(err):
                raise
            self.log.info("nodegroup %s already gone", self.nodegroup_name)


class EksDeleteClusterIfExistsOperator(EksDeleteClusterOperator):
    """Delete the cluster (and any compute left) and wait; a missing cluster is success."""

    def execute(self, context: Any) -> None:
        try:
            super().execute(context)
        except Exception as err:  # noqa: BLE001
            if not _gone(err):
                raise
            self.log.info("cluster %s already gone", self.cluster_name)
