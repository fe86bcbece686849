"""The jobs' jars: the installed folder matches jars.lock, and anything else is refused,
naming the jar and the checksum the lock expects (before any cluster starts)."""

from __future__ import annotations

import shutil

import pytest

from flink_platform.local import jars
from flink_platform.local.jars import JarLockError, read_lock, verified_jars_dir, verify


@pytest.fixture()
def copy_of_jars(tmp_path):
    """A copy of the installed, verified jars folder (`make venvs` installed it)."""
    root = tmp_path / "jars"
    shutil.copytree(verified_jars_dir(), root)
    return root


def test_the_lock_pins_the_kinesis_client_and_the_s3_plugin():
    coordinates = {j.coordinate.rsplit(":", 1)[0] for j in read_lock()}
    assert {"software.amazon.awssdk:kinesis", "software.amazon.awssdk:sts",
            "org.apache.flink:flink-s3-fs-native"} <= coordinates
    assert all(len(j.sha256) == 64 for j in read_lock())


def test_the_installed_folder_verifies(copy_of_jars):
    assert len(verify(copy_of_jars)) == len(read_lock())


def test_a_changed_jar_is_refused_naming_it_and_the_expected_checksum(copy_of_jars):
    locked = next(j for j in read_lock() if j.path.startswith("plugins/"))
    (copy_of_jars / locked.path).write_bytes(b"not the jar Maven fetched")
    with pytest.raises(JarLockError) as err:
        verify(copy_of_jars)
    assert locked.path in str(err.value) and locked.sha256 in str(err.value)
    assert "checksum mismatch" in str(err.value)


def test_a_missing_or_unpinned_jar_is_refused(copy_of_jars):
    locked = next(j for j in read_lock() if j.path.startswith("lib/kinesis-"))
    (copy_of_jars / locked.path).unlink()
    (copy_of_jars / "lib" / "extra-1.0.jar").write_bytes(b"x")
    with pytest.raises(JarLockError) as err:
        verify(copy_of_jars)
    assert f"missing {locked.path}" in str(err.value) and locked.sha256 in str(err.value)
    assert "lib/extra-1.0.jar is not in jars.lock" in str(err.value)


def test_the_cluster_does_not_start_on_jars_that_were_never_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("FLINK_PLATFORM_JARS_DIR", str(tmp_path / "nothing-here"))
    with pytest.raises(JarLockError, match="make venvs"):
        jars.verified_jars_dir()
