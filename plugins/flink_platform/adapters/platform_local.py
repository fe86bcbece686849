"""Platform (Kubernetes step) adapter of the ``local`` target: there is no cluster to
install into; readiness means the local Flink session cluster can run the jobs."""

from __future__ import annotations

from typing import Any

from flink_platform.config import PlatformConfig


class LocalPlatformAdapter:
    """Kubernetes installs are no-ops; ``readiness`` checks the local Flink cluster."""

    def __init__(self, cfg: PlatformConfig) -> None:
        self.cfg = cfg

    def _skipped(self, step: str) -> dict[str, Any]:
        return {"target": "local", step: "not applicable: jobs run on the local Flink cluster"}

    def apply_base_objects(self, job_role_arn: str) -> dict[str, Any]:
        return self._skipped("kubernetes_objects")

    def install_cert_manager(self) -> dict[str, Any]:
        return self._skipped("cert_manager")

    def install_operator(self, job_role_arn: str) -> dict[str, Any]:
        return self._skipped("flink_operator")

    def remove_helm_installer(self) -> dict[str, Any]:
        return self._skipped("helm_installer")

    def install_monitoring(self, topic_arn: str, log_group: str,
                           alertmanager_role_arn: str | None = None,
                           fluent_bit_role_arn: str | None = None) -> dict[str, Any]:
        """The local stack runs Prometheus and Alertmanager itself (make stack-up); its
        Alertmanager uses the emulator's keys, not the IRSA roles."""
        return {"target": "local", "skipped": "monitoring runs in the local stack"}

    def uninstall_monitoring(self) -> dict[str, Any]:
        return {"target": "local", "skipped": "monitoring runs in the local stack"}

    def uninstall(self) -> dict[str, Any]:
        return self._skipped("uninstall")

    def required_slots(self) -> int:
        """Total parallelism of the configured jobs not already running (slot sharing)."""
        running: set[str] = set()
        try:
            from flink_platform.adapters import get_flink_adapter

            adapter = get_flink_adapter(self.cfg)
            running = {job for job in self.cfg.jobs if adapter.status(job).job_state == "RUNNING"}
        except ImportError:  # the Flink-job adapter is not there: count every job
            pass
        return sum(job.parallelism for name, job in self.cfg.jobs.items() if name not in running)

    def readiness(self) -> tuple[str, str]:
        """REST healthy, >= 1 TaskManager, free slots >= the jobs' total parallelism."""
        import requests

        from flink_platform.local.stack import flink_rest_url

        url = f"{flink_rest_url(self.cfg)}/overview"
        try:
            resp = requests.get(url, timeout=5)
            resp.raise_for_status()
            overview = resp.json()
        except (requests.RequestException, ValueError) as err:
            return "waiting", f"Flink REST {url} not healthy: {type(err).__name__}"
        tms, free, need = (overview.get("taskmanagers", 0), overview.get("slots-available", 0),
                           self.required_slots())
        facts = f"{tms} TaskManager(s), {free} free slot(s), jobs need {need}"
        if tms < 1 or free < need:
            return "waiting", f"Flink cluster not ready: {facts}"
        return "ready", f"Flink cluster ready: {facts}"
