"""The operator's real CRDs: pinned by checksum, and strict enough to catch a bad manifest.

The files come from `python -m flink_platform.crd install` (include/crds/README.md); a
missing install fails here with the command to run, it is not skipped.
"""

from __future__ import annotations

import pytest

from flink_platform import crd
from flink_platform.config import load_config
from flink_platform.manifests import render_flink_deployment, validate_flink_deployment


@pytest.fixture(scope="module")
def installed() -> None:
    try:
        crd.crd_path("flinkdeployments")
    except crd.CrdError:
        try:
            crd.install()  # Maven: the api jar of the pinned operator version
        except crd.CrdError as err:
            pytest.fail(f"real CRD not installed and not fetchable: {err}")


def test_installed_files_match_the_lock(installed):
    for kind in ("flinkdeployments", "flinkstatesnapshots"):
        path = crd.crd_path(kind)
        assert crd.sha256(path.read_bytes()) == crd.lock()["files"][path.name]
    assert crd.crd_flink_versions(crd.load_crd()) == list(crd.flink_versions())
    assert load_config("aws").operator.version == crd.operator_version()


def test_other_bytes_are_refused(tmp_path, monkeypatch):
    source = tmp_path / "src"
    source.mkdir()
    for kind in ("flinkdeployments", "flinkstatesnapshots"):
        text = crd.crd_path(kind).read_text()
        (source / crd.file_name(kind)).write_text(text.replace("v2_2", "v2_9"))
    monkeypatch.setenv("FLINK_PLATFORM_CRD_DIR", str(tmp_path / "cache"))
    with pytest.raises(crd.CrdError, match="SHA-256 .* differs"):
        crd.install(source)
    with pytest.raises(crd.CrdError, match="not installed"):
        crd.crd_path("flinkdeployments")


def test_real_schema_rejects_pod_template_typos_and_bad_enums(installed):
    """The hand-reduced schema kept podTemplate as free-form: a PodSpec typo passed."""
    body = render_flink_deployment(load_config("aws"), "fraud-detection")
    assert validate_flink_deployment(body) == []
    container = body["spec"]["podTemplate"]["spec"]["containers"][0]
    container["envv"] = container.pop("env")
    body["spec"]["podTemplate"]["spec"]["securityContext"]["runAsUser"] = "flink"
    body["spec"]["mode"] = "sesion"
    errors = validate_flink_deployment(body)
    assert any("containers.0" in e and "'envv'" in e for e in errors), errors
    assert any("runAsUser" in e and "integer" in e for e in errors), errors
    assert any(e.startswith("spec.mode") and "sesion" in e for e in errors), errors


def test_flink_configuration_stays_free_form(installed):
    """x-kubernetes-preserve-unknown-fields: any option key is the CRD's business, not ours
    (config validation allow-lists them: flink_platform.job_options)."""
    body = render_flink_deployment(load_config("aws"), "fraud-detection")
    body["spec"]["flinkConfiguration"]["any.option"] = "1"
    assert validate_flink_deployment(body) == []
