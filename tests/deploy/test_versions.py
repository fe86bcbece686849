"""The version matrix: operator CRD enum, flinkVersion, the job image's Flink, the jars."""

from __future__ import annotations

import pytest

from flink_platform import crd, job_image, versions
from flink_platform.config import ConfigError, load_config


def test_shipped_configs_agree_with_the_image_and_the_crd():
    for target in ("aws", "local"):
        cfg = load_config(target)
        assert cfg.flink.flink_version == "v2_2" == versions.expected_flink_version(
            job_image.FLINK_VERSION, crd.flink_versions())
    assert versions.connector_problems() == ()


def test_expected_version_rule():
    enum = ("v1_20", "v2_0", "v2_1", "v2_2")
    assert versions.expected_flink_version("2.3.0", enum) == "v2_2"  # newest of the major
    assert versions.expected_flink_version("2.1.1", enum) == "v2_1"  # the exact minor
    assert versions.expected_flink_version("3.0.0", enum) is None


@pytest.mark.parametrize("version, message", [
    ("v2_0", "v2_0 does not match the job image's Flink 2.3.0.*set v2_2"),
    ("v1_20", "v1_20 does not match"),
    ("v2_3", "v2_3: operator 1.13.0's CRD accepts only .*v2_2"),
])
def test_flink_version_mismatch_fails_naming_it(version, message):
    with pytest.raises(ConfigError, match=message):
        load_config("aws", overrides={"flink.flink_version": version})


def test_operator_without_a_pinned_crd_fails():
    with pytest.raises(ConfigError, match="operator.version = 1.12.0: no CRD pinned"):
        load_config("aws", overrides={"operator.version": "1.12.0"})


def test_connector_lock_must_match_the_image(monkeypatch, tmp_path):
    jars = tmp_path / "jars"
    jars.mkdir()
    pom = (versions.JARS / "pom.xml").read_text()
    (jars / "pom.xml").write_text(pom.replace("<flink.version>2.3.0<", "<flink.version>2.0.0<"))
    lock = (versions.JARS / "jars.lock").read_text()
    (jars / "jars.lock").write_text(lock.replace("fs-native:2.3.0", "fs-native:2.0.0"))
    docker = tmp_path / "Dockerfile"
    docker.write_text(job_image.DOCKERFILE.read_text().replace(
        "COPY --from=flink:2.3.0-", "COPY --from=flink:2.0.0-"))
    monkeypatch.setattr(versions, "JARS", jars)
    monkeypatch.setattr(job_image, "DOCKERFILE", docker)
    versions.connector_problems.cache_clear()
    try:
        problems = versions.connector_problems()
        with pytest.raises(ConfigError, match="pom.xml flink.version = 2.0.0"):
            load_config("aws")
    finally:
        versions.connector_problems.cache_clear()
    assert any("flink-s3-fs-native:2.0.0" in p for p in problems)
    assert any("Dockerfile uses flink:2.0.0-scala_2.12-java17 (the Kinesis connector" in p
               for p in problems)


def test_emr_build_is_not_held_to_the_upstream_crd():
    cfg = load_config("aws", overrides={"operator.distribution": "emr",
                                        "operator.version": "1.8.0"})
    assert cfg.operator.version == "1.8.0"
