"""Prometheus and Alertmanager of the ``local`` target: their generated config files.

Both are Debian's packages (``prometheus``, ``prometheus-alertmanager``), started by the
local stack on 127.0.0.1 with files under ``<state_dir>/monitoring``. Prometheus scrapes
the JobManager's and TaskManagers' loopback reporters (``local.prometheus_ports``),
evaluates ``include/monitoring/rules`` and sends alerts to the local Alertmanager, whose
receiver is the platform's SNS topic on the AWS emulator (Alertmanager's own
``sns_configs``). The credentials are moto's dummy ``testing`` pair, not secrets.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from flink_platform.config import PROJECT_ROOT, PlatformConfig
from flink_platform.local.flink_dist import StackError

MONITORING_DIR = PROJECT_ROOT / "include" / "monitoring"
RULES_DIR = MONITORING_DIR / "rules"
TEMPLATES_DIR = MONITORING_DIR / "alertmanager"
EMULATOR_ACCOUNT = "123456789012"  # moto's account id: the ARNs it hands out
SCRAPE_INTERVAL = "5s"
INSTALL_HINT = ("install Debian's packages: `sudo apt-get install -y prometheus "
                "prometheus-alertmanager` (.ci/run does it)")


@dataclass(frozen=True)
class MonitoringLayout:
    """Files of the local Prometheus and Alertmanager under ``<state_dir>/monitoring``."""

    root: Path

    @classmethod
    def of(cls, cfg: PlatformConfig) -> MonitoringLayout:
        return cls(cfg.state_path / "monitoring")

    prometheus_yml = property(lambda self: self.root / "prometheus.yml")
    alertmanager_yml = property(lambda self: self.root / "alertmanager.yml")
    tsdb = property(lambda self: self.root / "prometheus-data")
    alertmanager_data = property(lambda self: self.root / "alertmanager-data")
    extra_rules = property(lambda self: self.root / "rules.d")  # local-only rules (tests)


def prometheus_url(cfg: PlatformConfig) -> str:
    return f"http://127.0.0.1:{cfg.local.prometheus_port}"


def alertmanager_url(cfg: PlatformConfig) -> str:
    return f"http://127.0.0.1:{cfg.local.alertmanager_port}"


def reporter_targets(cfg: PlatformConfig) -> list[str]:
    """Every port of the Flink reporters' range: the JobManager and TaskManagers take the
    first free ones in start order."""
    low, high = (int(p) for p in cfg.local.prometheus_ports.split("-"))
    return [f"127.0.0.1:{port}" for port in range(low, high + 1)]


def topic_arn(cfg: PlatformConfig) -> str:
    """The provisioned SNS topic (aws/specs.PlatformSpec names it) on the emulator."""
    name = cfg.resource_name(cfg.alerts.topic_name)
    return f"arn:aws:sns:{cfg.region}:{EMULATOR_ACCOUNT}:{name}"


def prometheus_config(cfg: PlatformConfig) -> dict:
    layout = MonitoringLayout.of(cfg)
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": "15s",
                   "external_labels": {"platform_env": cfg.env_suffix}},
        "rule_files": [str(RULES_DIR / "*.yml"), str(layout.extra_rules / "*.yml")],
        "alerting": {"alertmanagers": [{"static_configs": [
            {"targets": [f"127.0.0.1:{cfg.local.alertmanager_port}"]}]}]},
        "scrape_configs": [
            {"job_name": "flink", "static_configs": [{"targets": reporter_targets(cfg)}]},
            # its own scrape and rule-evaluation figures (the benchmark, docs)
            {"job_name": "prometheus", "static_configs": [
                {"targets": [f"127.0.0.1:{cfg.local.prometheus_port}"]}]},
        ],
    }


def sns_receiver(topic: str, region: str, api_url: str | None = None,
                 static_credentials: bool = False) -> dict:
    """Alertmanager receiver publishing to ``topic`` with the platform's message template
    (include/monitoring/alertmanager/sns.tmpl); shared by both targets. On ``aws`` the
    credentials come from IRSA, locally from the emulator's dummy pair."""
    sigv4: dict = {"region": region}
    if static_credentials:
        sigv4 |= {"access_key": "testing", "secret_key": "testing"}
    sns = {
        "topic_arn": topic, "sigv4": sigv4, "send_resolved": True,
        "subject": '{{ template "flink_platform.sns.subject" . }}',
        "message": '{{ template "flink_platform.sns.message" . }}',
    }
    if api_url:
        sns["api_url"] = api_url
    return {"name": "platform-sns", "sns_configs": [sns]}


def alertmanager_routing(receiver: dict, group_wait: str, templates: list[str]) -> dict:
    """Every alert to the SNS receiver, grouped per rule and job."""
    return {
        "route": {"receiver": receiver["name"], "group_by": ["alertname", "job_name"],
                  "group_wait": group_wait, "group_interval": "1m", "repeat_interval": "4h"},
        "receivers": [receiver],
        "templates": templates,
    }


def alertmanager_config(cfg: PlatformConfig) -> dict:
    receiver = sns_receiver(topic_arn(cfg), cfg.region, api_url=cfg.local.moto_endpoint,
                            static_credentials=True)
    return alertmanager_routing(receiver, "2s", [str(TEMPLATES_DIR / "*.tmpl")])


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise StackError(f"{name} not found: {INSTALL_HINT}")
    return path


def write_monitoring_files(cfg: PlatformConfig) -> MonitoringLayout:
    """Generate prometheus.yml and alertmanager.yml; idempotent."""
    layout = MonitoringLayout.of(cfg)
    for path in (layout.root, layout.tsdb, layout.alertmanager_data, layout.extra_rules):
        path.mkdir(parents=True, exist_ok=True)
    header = "# Generated by flink_platform.local.monitoring; edits are overwritten.\n"
    layout.prometheus_yml.write_text(header + yaml.safe_dump(prometheus_config(cfg)))
    layout.alertmanager_yml.write_text(header + yaml.safe_dump(alertmanager_config(cfg)))
    return layout


def prometheus_command(cfg: PlatformConfig) -> list[str]:
    layout = MonitoringLayout.of(cfg)
    return [_binary("prometheus"), f"--config.file={layout.prometheus_yml}",
            f"--storage.tsdb.path={layout.tsdb}", "--storage.tsdb.retention.time=2d",
            f"--web.listen-address=127.0.0.1:{cfg.local.prometheus_port}",
            # an alert that fired while the Alertmanager was not yet discovered (just after
            # start or reload) is dropped and resent only after this delay (default 1m)
            "--rules.alert.resend-delay=10s"]


def alertmanager_command(cfg: PlatformConfig) -> list[str]:
    layout = MonitoringLayout.of(cfg)
    return [_binary("prometheus-alertmanager"), f"--config.file={layout.alertmanager_yml}",
            f"--storage.path={layout.alertmanager_data}",
            f"--web.listen-address=127.0.0.1:{cfg.local.alertmanager_port}",
            "--cluster.listen-address="]  # no gossip port: a single local instance
