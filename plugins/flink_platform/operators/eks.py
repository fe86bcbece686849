"""The provider's EKS operators, imported when the task runs instead of at DAG parse.

``airflow.providers.amazon.aws.operators.eks`` imports the Kubernetes clients (about
1.4 s), which alone breaks the < 1 s DAG-parse budget. :class:`EksProviderOperator` holds
the provider operator's keyword arguments (templated, XComArgs allowed) and runs that
provider operator's own ``execute`` in the worker. Teardown variants treat "already gone"
(ResourceNotFoundException) as success. Deferral is not supported through the wrapper:
the provider's create operators are used without waiting, and our DAGs wait with the
provider's EKS state sensors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

PROVIDER_MODULE = "airflow.providers.amazon.aws.operators.eks"


class EksProviderOperator(BaseOperator):
    """Run ``PROVIDER_MODULE.<provider_class>(**operator_kwargs).execute(context)``."""

    template_fields: Sequence[str] = ("operator_kwargs",)
    template_fields_renderers = {"operator_kwargs": "json"}
    provider_class = ""
    ignore_not_found = False

    def __init__(self, *, operator_kwargs: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.operator_kwargs = operator_kwargs

    def execute(self, context: Any) -> Any:
        import importlib

        from flink_platform.aws.clients import error_code

        if self.ignore_not_found and not self._exists():
            self.log.info("%s: already gone", self.task_id)
            return None
        cls = getattr(importlib.import_module(PROVIDER_MODULE), self.provider_class)
        provider_op = cls(task_id=self.task_id, **self.operator_kwargs)
        try:
            return provider_op.execute(context)
        except Exception as err:
            if self.ignore_not_found and error_code(err) == "ResourceNotFoundException":
                self.log.info("%s: already gone", self.task_id)
                return None
            raise

    def _exists(self) -> bool:
        """Teardown variants look first: moto answers ListNodegroups of a missing cluster
        with HTTP 500 instead of ResourceNotFoundException."""
        from airflow.providers.amazon.aws.hooks.eks import EksHook

        from flink_platform.aws.clients import error_code

        kw = self.operator_kwargs
        eks = EksHook(aws_conn_id=kw.get("aws_conn_id", "aws_default"),
                      region_name=kw.get("region_name")).conn
        try:
            if "nodegroup_name" in kw:
                eks.describe_nodegroup(clusterName=kw["cluster_name"],
                                       nodegroupName=kw["nodegroup_name"])
            else:
                eks.describe_cluster(name=kw["cluster_name"])
        except Exception as err:
            if error_code(err) == "ResourceNotFoundException":
                return False
            raise
        return True


class EksCreateCluster(EksProviderOperator):
    """``EksCreateClusterOperator`` (use ``compute=None``; wait with EksClusterStateSensor)."""

    provider_class = "EksCreateClusterOperator"


class EksCreateNodegroup(EksProviderOperator):
    """``EksCreateNodegroupOperator`` (wait with EksNodegroupStateSensor)."""

    provider_class = "EksCreateNodegroupOperator"


class EksDeleteNodegroupIfExists(EksProviderOperator):
    """``EksDeleteNodegroupOperator``; a nodegroup or cluster that is gone is success."""

    provider_class = "EksDeleteNodegroupOperator"
    ignore_not_found = True


class EksDeleteClusterIfExists(EksProviderOperator):
    """``EksDeleteClusterOperator``; a cluster that is gone is success."""

    provider_class = "EksDeleteClusterOperator"
    ignore_not_found = True
