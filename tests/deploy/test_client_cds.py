"""The `flink run` client's class-data sharing archive (flink_platform.local.client_cds):
the first client dumps it, later ones map it, a failed client leaves none, and a new jar
set gets a new archive. The JVM side is exercised by every local deploy test."""

from __future__ import annotations

from flink_platform.config import apply_overrides, read_raw_config, validate_config
from flink_platform.local.client_cds import ClientSharing, archive_path
from flink_platform.local.flink_dist import FlinkLayout


def _cfg(tmp_path):
    cfg = validate_config(apply_overrides(read_raw_config("local"), {
        "local.state_dir": str(tmp_path / "state")}))
    FlinkLayout.of(cfg).make()
    return cfg


def test_first_client_dumps_and_later_ones_map_the_archive(tmp_path):
    cfg = _cfg(tmp_path)
    first = ClientSharing(cfg)
    assert "-XX:ArchiveClassesAtExit=" in first.env({})["JVM_ARGS"]
    assert first.env({"JVM_ARGS": "-Xmx1g"})["JVM_ARGS"].startswith("-Xmx1g ")
    first.dump.write_bytes(b"archive")  # what the JVM writes at exit
    first.finish(succeeded=True)
    assert first.archive.read_bytes() == b"archive" and not first.dump.exists()
    later = ClientSharing(cfg)
    assert later.env({})["JVM_ARGS"] == f"-XX:SharedArchiveFile={first.archive} -Xlog:cds*=off"
    later.finish(succeeded=True)  # nothing dumped: the archive stays
    assert first.archive.exists()


def test_a_failed_client_leaves_no_archive(tmp_path):
    cfg = _cfg(tmp_path)
    client = ClientSharing(cfg)
    client.dump.write_bytes(b"half")
    client.finish(succeeded=False)
    assert not client.dump.exists() and not client.archive.exists()
    assert "-XX:ArchiveClassesAtExit=" in ClientSharing(cfg).jvm_args


def test_another_jar_set_gets_another_archive(tmp_path):
    cfg = _cfg(tmp_path)
    before = archive_path(cfg)
    (FlinkLayout.of(cfg).lib / "extra-connector.jar").write_bytes(b"jar")
    assert archive_path(cfg) != before
