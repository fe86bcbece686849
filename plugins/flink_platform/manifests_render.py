"""``python -m flink_platform.manifests render --target aws|local``: every Kubernetes object
and Helm command provision and deploy would apply, like ``helm template``.

One YAML multi-document stream, in apply order: the base objects (namespaces, service
accounts, RBAC), then per Helm release a ``# helm: <command>`` comment and the installer
pod that runs it, then the job namespace's FlinkDeployments (on the example data plane of
``flink_platform.manifests.example_data_plane``: account 123456789012), NetworkPolicy and
PodMonitor. The order is fixed and nothing depends on time or the environment, so the
output of the shipped aws.yaml is committed as tests/golden/aws.yaml and compared.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

import yaml

from flink_platform.config import PlatformConfig, load_config

EXAMPLE_ACCOUNT = "123456789012"
REGENERATE = "python -m flink_platform.manifests render --target aws > tests/golden/aws.yaml"


def _doc(obj: dict[str, Any], comment: str | None = None) -> str:
    head = f"# {comment}\n" if comment else ""
    return "---\n" + head + yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)


def render_stream(cfg: PlatformConfig) -> str:
    from flink_platform.aws.specs import PlatformSpec
    from flink_platform.kubernetes.manifests import (
        base_objects,
        cert_manager_command,
        helm_installer_objects,
        helm_pod,
        operator_command,
    )
    from flink_platform.manifests import render_all

    role = f"arn:aws:iam::{EXAMPLE_ACCOUNT}:role/{PlatformSpec(cfg).names['job_role']}"
    docs = [_doc(obj) for obj in base_objects(cfg, role)]
    for release, command in (("cert-manager", cert_manager_command(cfg)),
                             (cfg.operator.release_name, operator_command(cfg, role))):
        docs.append(_doc(helm_pod(cfg, release, command), f"helm: {shlex.join(command)}"))
    installer = ", ".join(f"{o['kind']} {o['metadata']['name']}"
                          for o in helm_installer_objects(cfg))
    jobs = render_all(cfg)
    docs.append(_doc(jobs[0], f"after the installs provision deletes {installer}"))
    docs.extend(_doc(obj) for obj in jobs[1:])
    header = (f"# flink_platform.manifests render --target {cfg.target} "
              f"(environment {cfg.env_suffix}, operator {cfg.operator.version}); "
              f"regenerate the golden with:\n#   {REGENERATE}\n")
    return header + "".join(docs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flink_platform.manifests")
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render", help="print every object and helm command as YAML")
    render.add_argument("--target", choices=("aws", "local"), default="aws")
    args = parser.parse_args(argv)
    sys.stdout.write(render_stream(load_config(args.target)))
    return 0
