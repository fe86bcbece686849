"""Wait until the platform can run Flink jobs.

``aws``: the Flink Kubernetes Operator Deployment is Available and its webhook Service
has a ready endpoint. ``local``: the local Flink cluster's REST API is healthy, at least
one TaskManager is registered and the free slots cover the jobs' parallelism. The target
adapter (:func:`flink_platform.adapters.get_platform_adapter`) does the checking.
A failed rollout (ProgressDeadlineExceeded, ReplicaFailure) fails at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flink_platform.triggers.polling import CheckSensor


def platform_ready(config: dict[str, Any]) -> tuple[str, str]:
    """``(state, message)`` of the target's readiness for the config (a plain dict)."""
    from flink_platform.adapters import get_platform_adapter
    from flink_platform.config import validate_config

    return get_platform_adapter(validate_config(config)).readiness()


class FlinkOperatorReadySensor(CheckSensor):
    """Succeeds when the Flink operator (aws) or the local Flink cluster (local) is ready."""

    template_fields: Sequence[str] = ("config",)
    check_path = f"{__name__}.platform_ready"
    what = "Flink operator / cluster ready"

    def __init__(self, *, config: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config

    def check_kwargs(self, context: Any = None) -> dict[str, Any]:
        return {"config": dict(self.config)}
