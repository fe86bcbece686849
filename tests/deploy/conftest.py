"""The operator CRD sources FlinkDeployments are validated against (flink_platform.crd).

``crd_source`` runs a test once per source: ``fallback`` (Maven's 1.10.0 api jar with
1.13.0's flinkVersion enum; `make venvs` installs it, so a missing install is fetched here
or fails) and ``pinned`` (operator 1.13.0's CRD, installed from the chart by hand; skipped,
saying so, where it is absent: CI cannot fetch it). The header says which one the
default validation uses.
"""

from __future__ import annotations

import pytest

from flink_platform import crd


def pytest_report_header(config):
    try:
        return f"operator CRD for validation: {crd.describe(crd.active_source())}"
    except crd.CrdError as err:
        return f"operator CRD for validation: none installed ({err})"


def require(source: str) -> str:
    if source == crd.PINNED and not crd.installed(crd.PINNED):
        pytest.skip(f"operator {crd.operator_version()}'s CRD not installed in "
                    f"{crd.crd_dir()} (CI cannot fetch it: include/crds/README.md); the "
                    "fallback run covers validation")
    if source == crd.FALLBACK and not crd.installed(crd.FALLBACK):
        try:
            crd.install(source=crd.FALLBACK)
        except crd.CrdError as err:
            pytest.fail(f"Maven-served CRD not installed (`make venvs`) and not fetchable: {err}")
    return source


@pytest.fixture(params=crd.SOURCES)
def crd_source(request) -> str:
    return require(request.param)
