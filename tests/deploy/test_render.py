"""`python -m flink_platform.manifests render`: the whole rendered platform, and its golden
copy for the shipped aws.yaml (tests/golden/aws.yaml) that a reviewer reads."""

from __future__ import annotations

import os
import subprocess
import sys

import yaml

from flink_platform.config import PROJECT_ROOT, load_config
from flink_platform.manifests import validate_flink_deployment
from flink_platform.manifests_render import REGENERATE, render_stream

GOLDEN = PROJECT_ROOT / "tests" / "golden" / "aws.yaml"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "plugins")}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          cwd=PROJECT_ROOT, timeout=120)


def test_golden_matches_the_shipped_aws_config():
    rendered = render_stream(load_config("aws"))
    assert rendered == GOLDEN.read_text(), (
        f"tests/golden/aws.yaml is stale: regenerate with {REGENERATE}")


def test_stream_has_every_object_and_helm_command(crd_source):
    text = render_stream(load_config("aws"))
    docs = [d for d in yaml.safe_load_all(text) if d]
    kinds = [d["kind"] for d in docs]
    assert kinds[:3] == ["Namespace"] * 3
    assert kinds.count("FlinkDeployment") == 2 and kinds[-2:] == ["NetworkPolicy", "PodMonitor"]
    assert kinds.count("Pod") == 2 and "ClusterRoleBinding" in kinds
    helm = [line for line in text.splitlines() if line.startswith("# helm: ")]
    assert [h.split()[5] for h in helm] == ["cert-manager", "flink-kubernetes-operator"]
    for doc in docs:
        if doc["kind"] == "FlinkDeployment":
            assert validate_flink_deployment(doc, source=crd_source) == [], \
                doc["metadata"]["name"]
    assert render_stream(load_config("aws")) == text  # deterministic


def test_cli_renders_local_and_import_stays_light():
    done = _run("-m", "flink_platform.manifests", "render", "--target", "local")
    assert done.returncode == 0, done.stderr
    assert "kind: FlinkDeployment" in done.stdout and "# helm: helm upgrade" in done.stdout
    light = _run("-c", "import sys, flink_platform.manifests; "
                       "print('flink_platform.manifests_render' in sys.modules, "
                       "'jinja2' in sys.modules, 'jsonschema' in sys.modules)")
    assert light.stdout.split() == ["False", "False", "False"], light.stderr
