"""The local Prometheus and Alertmanager: started by the stack on 127.0.0.1, Prometheus
scrapes the Flink reporters' ports, loads the platform rules and knows its Alertmanager,
and an alert reaches the platform's SNS topic (read back from a subscribed SQS queue)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import psutil
import requests

from flink_platform.local.monitoring import MonitoringLayout, reporter_targets
from flink_platform.local.ports import port_in_use

from .conftest import prometheus_api


def _listening(pgid: int) -> set[tuple[str, int]]:
    found = set()
    for proc in psutil.process_iter(["pid"]):
        try:
            if Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[2] != str(
                    pgid):
                continue
            for conn in proc.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN:
                    found.add((conn.laddr.ip, conn.laddr.port))
        except (OSError, psutil.Error):
            continue
    return found


def test_servers_listen_on_loopback_only(monitoring, local_stack):
    local = local_stack.cfg.local
    for name, port in (("prometheus", local.prometheus_port),
                       ("alertmanager", local.alertmanager_port)):
        listening = _listening(local_stack.record(name)["pgid"])
        assert (("127.0.0.1", port) in listening), f"{name}: {listening}"
        assert {ip for ip, _ in listening} == {"127.0.0.1"}, f"{name} listens on {listening}"


def _eventually(read, expected, timeout_s: float = 30.0):
    """Poll ``read()`` until it equals ``expected`` (service discovery runs in the
    background after /-/ready); returns the last value read."""
    deadline = time.monotonic() + timeout_s
    value = read()
    while value != expected and time.monotonic() < deadline:
        time.sleep(0.5)
        value = read()
    return value


def test_prometheus_scrapes_the_reporters_and_loads_the_rules(monitoring, local_stack):
    prometheus, alertmanager = monitoring
    expected = sorted([*reporter_targets(local_stack.cfg),
                       f"127.0.0.1:{local_stack.cfg.local.prometheus_port}"])
    targets = _eventually(lambda: sorted(t["labels"]["instance"] for t in prometheus_api(
        prometheus, "targets")["activeTargets"]), expected)
    assert targets == expected
    groups = {g["name"]: g for g in prometheus_api(prometheus, "rules")["groups"]}
    assert {"flink-platform.recording", "flink-platform.alerts"} <= set(groups)
    alerts = {r["name"] for r in groups["flink-platform.alerts"]["rules"]}
    assert {"FlinkJobRestarting", "FlinkCheckpointsFailing", "FlinkSourceLagHigh"} <= alerts
    expected = [f"{alertmanager}/api/v2/alerts"]
    active = _eventually(lambda: [a["url"] for a in prometheus_api(
        prometheus, "alertmanagers")["activeAlertmanagers"]], expected)
    assert active == expected


def test_an_alert_pushed_to_alertmanager_reaches_the_sns_topic(monitoring, alert_queue):
    """Alertmanager -> SNS (sns_configs, sigv4) -> SQS: the alert is pushed to
    Alertmanager's API directly."""
    _, alertmanager = monitoring
    requests.post(f"{alertmanager}/api/v2/alerts", timeout=10, json=[{
        "labels": {"alertname": "FlinkJobRestarting", "job_name": "pushed-job",
                   "severity": "critical"},
        "annotations": {"summary": "Flink job pushed-job restarted"},
    }]).raise_for_status()
    body = alert_queue(lambda b: any(a["job_name"] == "pushed-job" for a in b["alerts"]))
    assert body["event"] == "prometheus_alert" and body["status"] == "firing"
    [alert] = body["alerts"]
    assert alert == {"alertname": "FlinkJobRestarting", "status": "firing",
                     "severity": "critical", "job_name": "pushed-job",
                     "summary": "Flink job pushed-job restarted",
                     "starts_at": alert["starts_at"]}
    assert body["summary"] == "[FIRING] FlinkJobRestarting pushed-job"


def test_a_rule_firing_in_prometheus_reaches_the_sns_topic(monitoring, local_stack,
                                                          alert_queue):
    """The whole path: a test-only rule (always true) in the local rules.d, Prometheus
    reloaded with SIGHUP, evaluates it, sends it to Alertmanager, which publishes to SNS."""
    prometheus, _ = monitoring
    rule_file = MonitoringLayout.of(local_stack.cfg).extra_rules / "test-always.yml"
    rule_file.write_text(
        "groups:\n- name: test-always\n  interval: 1s\n  rules:\n"
        "  - alert: TestAlwaysFiring\n    expr: vector(1)\n"
        "    labels: {severity: info, job_name: rule-path}\n"
        "    annotations: {summary: fires at once}\n")
    try:
        psutil.Process(local_stack.record("prometheus")["pid"]).send_signal(signal.SIGHUP)
        body = alert_queue(lambda b: any(a["alertname"] == "TestAlwaysFiring"
                                         for a in b["alerts"]))
        assert body["alerts"][0]["job_name"] == "rule-path"
    finally:
        rule_file.unlink()
        psutil.Process(local_stack.record("prometheus")["pid"]).send_signal(signal.SIGHUP)


def test_stack_down_stops_both(monitoring, local_stack):
    """Stop both, nothing left on the ports; then start them again, since later tests
    (the runtime's load test reads its series there) share the session's Prometheus."""
    local = local_stack.cfg.local
    pgids = [local_stack.record(n)["pgid"] for n in ("prometheus", "alertmanager")]
    try:
        assert set(local_stack.down(("prometheus", "alertmanager"))) == {"prometheus",
                                                                          "alertmanager"}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_listening(p) for p in pgids):
            time.sleep(0.2)
        assert not any(_listening(p) for p in pgids)
        assert local_stack.status(("prometheus", "alertmanager")) == {
            "prometheus": "stopped", "alertmanager": "stopped"}
        assert not any(port_in_use(p)
                       for p in (local.prometheus_port, local.alertmanager_port))
    finally:
        local_stack.start("alertmanager")
        local_stack.start("prometheus")
    assert all(s.startswith("healthy")
               for s in local_stack.status(("prometheus", "alertmanager")).values())
