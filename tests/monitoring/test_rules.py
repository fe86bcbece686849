"""The platform's Prometheus rules load and pass their ``promtool test rules`` unit tests
(include/monitoring/tests), and every alert has a test that sees it fire and one that sees
it silent. promtool ships with Debian's ``prometheus`` package (.ci/run installs it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

MONITORING = Path(__file__).resolve().parents[2] / "include" / "monitoring"
RULES = MONITORING / "rules" / "flink-platform.rules.yml"
RULE_TESTS = sorted((MONITORING / "tests").glob("*.yml"))


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: install Debian's prometheus package "
                    "(`sudo apt-get install -y prometheus`; .ci/run does it)")
    return path


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120,
                          cwd=MONITORING / "tests")


def test_rules_file_is_valid(promtool):
    proc = _run(promtool, "check", "rules", str(RULES))
    assert proc.returncode == 0, f"promtool check rules {RULES}:\n{proc.stdout}{proc.stderr}"


def test_rule_unit_tests_pass(promtool):
    assert RULE_TESTS, f"no rule tests in {MONITORING / 'tests'}"
    proc = _run(promtool, "test", "rules", *map(str, RULE_TESTS))
    assert proc.returncode == 0, f"promtool test rules failed:\n{proc.stdout}{proc.stderr}"


def _alert_names() -> set[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}


def test_every_alert_is_tested_firing_and_silent():
    firing, silent = set(), set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    alerts = _alert_names()
    assert alerts, f"no alerting rules in {RULES}"
    assert not alerts - firing, f"alerts with no test that sees them fire: {alerts - firing}"
    assert not alerts - silent, f"alerts with no test that sees them silent: {alerts - silent}"
