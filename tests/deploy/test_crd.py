"""The operator's real CRDs: pinned by checksum, and strict enough to catch a bad manifest,
with operator 1.13.0's files (`pinned`) and with Maven's 1.10.0 ones (`fallback`, what CI
has: tests/deploy/conftest.py).
"""

from __future__ import annotations

import logging
import shutil

import pytest

from flink_platform import crd
from flink_platform.config import load_config
from flink_platform.manifests import render_flink_deployment, validate_flink_deployment
from tests.deploy.conftest import require

FD = "flinkdeployments"
# Property paths under FlinkDeployment's spec that operator 1.13.0's CRD has and 1.10.0's
# lacks (PodSpec fields of newer Kubernetes; "*" = podTemplate of spec, jobManager and
# taskManager). include/crds/README.md lists them; the manifests render none.
ONLY_IN_PINNED = {
    "job.autoscalerResetNonce",
    "*.spec.resources", "*.spec.securityContext.seLinuxChangePolicy",
    "*.spec.securityContext.supplementalGroupsPolicy", "*.spec.volumes[].image",
    "*.spec.resourceClaims[].resourceClaimName",
    "*.spec.resourceClaims[].resourceClaimTemplateName",
    *(f"*.spec.{c}[].{f}" for c in ("containers", "initContainers", "ephemeralContainers")
      for f in ("lifecycle.stopSignal", "resources.claims[].request")),
}


def test_installed_files_match_the_lock(crd_source):
    for kind in crd.KINDS:
        path = crd.crd_path(kind, crd_source)
        assert crd.sha256(path.read_bytes()) == crd.pin(crd_source)["files"][path.name]
    own = crd.crd_flink_versions(crd.load_crd(FD, crd_source))
    assert own == list(crd.pin(crd_source)["flink_versions"])
    assert load_config("aws").operator.version == crd.operator_version()


def test_fallback_schema_takes_only_the_pinned_flink_version_enum():
    require(crd.FALLBACK)
    raw = crd.load_crd(FD, crd.FALLBACK)
    assert crd.crd_flink_versions(raw)[-1] == "v1_20"  # 1.10.0 has no Flink 2
    schema = crd.schema(FD, crd.FALLBACK)
    spec = schema["properties"]["spec"]["properties"]
    assert spec["flinkVersion"]["enum"] == list(crd.flink_versions())
    assert spec["flinkVersion"]["enum"][-1] == "v2_2"
    spec["flinkVersion"]["enum"] = crd.crd_flink_versions(raw)
    try:  # everything else is the Maven file's, untouched
        assert schema == next(v for v in raw["spec"]["versions"]
                              if v["name"] == "v1beta1")["schema"]["openAPIV3Schema"]
    finally:
        spec["flinkVersion"]["enum"] = list(crd.flink_versions())


def test_active_source_prefers_pinned_and_says_which(tmp_path, monkeypatch, caplog):
    require(crd.FALLBACK)
    has_pinned = crd.installed(crd.PINNED)
    sources = {s: crd.crd_dir(s) for s in crd.SOURCES}
    monkeypatch.setenv("FLINK_PLATFORM_CRD_DIR", str(tmp_path))
    with pytest.raises(crd.CrdError, match=r"no operator CRD installed .*make venvs"):
        crd.active_source()
    shutil.copytree(sources[crd.FALLBACK], crd.crd_dir(crd.FALLBACK))
    with caplog.at_level(logging.INFO, logger="flink_platform.crd"):
        assert crd.active_source() == crd.FALLBACK
    assert "operator 1.10.0's CRD from Maven" in caplog.text and "v1_13..v2_2" in caplog.text
    if has_pinned:  # the preference needs the real 1.13.0 files (checksums)
        shutil.copytree(sources[crd.PINNED], crd.crd_dir(crd.PINNED))
        assert crd.active_source() == crd.PINNED
        assert "operator 1.13.0's CRD (pinned" in crd.describe(crd.active_source())


def test_other_bytes_are_refused(tmp_path, monkeypatch):
    require(crd.FALLBACK)
    source = tmp_path / "src"
    source.mkdir()
    for kind in crd.KINDS:
        text = crd.crd_path(kind, crd.FALLBACK).read_text()
        (source / crd.file_name(kind)).write_text(text.replace("v1_20", "v1_29"))
    monkeypatch.setenv("FLINK_PLATFORM_CRD_DIR", str(tmp_path / "cache"))
    for which in crd.SOURCES:
        with pytest.raises(crd.CrdError, match="SHA-256 .* differs"):
            crd.install(source, which)
        with pytest.raises(crd.CrdError, match="not installed"):
            crd.crd_path(FD, which)


def test_real_schema_rejects_pod_template_typos_and_bad_enums(crd_source):
    """The hand-reduced schema kept podTemplate as free-form: a PodSpec typo passed."""
    body = render_flink_deployment(load_config("aws"), "fraud-detection")
    assert body["spec"]["flinkVersion"] == "v2_2"  # accepted only thanks to the 1.13 enum
    assert validate_flink_deployment(body, source=crd_source) == []
    container = body["spec"]["podTemplate"]["spec"]["containers"][0]
    container["envv"] = container.pop("env")
    body["spec"]["podTemplate"]["spec"]["securityContext"]["runAsUser"] = "flink"
    body["spec"]["mode"] = "sesion"
    body["spec"]["flinkVersion"] = "v2_3"
    errors = validate_flink_deployment(body, source=crd_source)
    assert any("containers.0" in e and "'envv'" in e for e in errors), errors
    assert any("runAsUser" in e and "integer" in e for e in errors), errors
    assert any(e.startswith("spec.mode") and "sesion" in e for e in errors), errors
    assert any(e.startswith("spec.flinkVersion") and "v2_3" in e for e in errors), errors


def test_flink_configuration_stays_free_form(crd_source):
    """Any option key is the CRD's business, not ours (config validation allow-lists them:
    flink_platform.job_options). 1.13.0: x-kubernetes-preserve-unknown-fields; 1.10.0: a
    string map, so only string values (all we render)."""
    body = render_flink_deployment(load_config("aws"), "fraud-detection")
    body["spec"]["flinkConfiguration"]["any.option"] = "1"
    assert validate_flink_deployment(body, source=crd_source) == []


def _paths(schema: dict, prefix: str = "") -> set[str]:
    out = set()
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        out.add(path)
        out |= _paths(sub, path + ".")
        if "items" in sub:
            out |= _paths(sub["items"], path + "[].")
    return out


def test_fallback_lacks_only_the_documented_fields():
    """Every FlinkDeployment spec field 1.13.0 added is in ONLY_IN_PINNED (and the README):
    the fallback rejects them as unknown, it never accepts them silently."""
    require(crd.PINNED)
    pinned, fallback = (crd.schema(FD, s)["properties"]["spec"] for s in crd.SOURCES)
    added = set()
    for path in _paths(pinned) - _paths(fallback):
        for pod in ("podTemplate.", "jobManager.podTemplate.", "taskManager.podTemplate."):
            path = "*." + path[len(pod):] if path.startswith(pod) else path
        if not path.startswith("*.status"):  # a pod's status: never rendered
            added.add(path)
    parents = {p for p in added if any(q.startswith(p + ".") for q in added)}
    assert {p for p in added if not any(p.startswith(q + ".") for q in parents)} \
        == ONLY_IN_PINNED
    assert _paths(fallback) - _paths(pinned) == {  # removed in 1.13 (DRA API change)
        f"{pod}spec.resourceClaims[].source{sub}"
        for pod in ("podTemplate.", "jobManager.podTemplate.", "taskManager.podTemplate.")
        for sub in ("", ".resourceClaimName", ".resourceClaimTemplateName")}
