"""Class-data sharing for the ``flink run`` client JVM (JDK 13+ dynamic CDS archives).

Every submission starts a client JVM that loads and verifies the same thousands of Flink
classes before it plans the job. The first client dumps the classes the JVM's built-in
loaders loaded into an archive when it exits (``-XX:ArchiveClassesAtExit``); every later
one maps it (``-XX:SharedArchiveFile``): 13.1 / 11.1 s of client CPU per fraud / risk
submission became 10.2 / 9.5 s (2026-11-30, 2 runs each); deploy runs two at once on 2
cores. The archive's name holds a key of the JDK and the jars on the client's classpath,
so a new JDK or jar set dumps a new one; the JVM also ignores an archive that does not
match its classpath (``-Xshare:auto``, the default), so a stale one only costs the gain.
Two first clients at once dump to their own files; each is renamed into place only after
its client succeeded (an atomic rename: a client mapping the old file keeps it).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

from flink_platform.config import PlatformConfig
from flink_platform.local.flink_dist import FlinkLayout, flink_home, java_home

QUIET = "-Xlog:cds*=off"  # the dump warns of every class it skips, on stdout


def archive_path(cfg: PlatformConfig) -> Path:
    """``<state>/flink/tmp/client-<key>.jsa``: key of the JDK and the client's jars."""
    digest = hashlib.sha256(str(java_home().resolve()).encode())
    release = java_home() / "release"
    if release.exists():
        digest.update(release.read_bytes())
    layout = FlinkLayout.of(cfg)
    for folder in (flink_home() / "lib", flink_home() / "opt", layout.lib):
        for jar in sorted(folder.glob("*.jar")) if folder.is_dir() else ():
            stat = jar.stat()
            digest.update(f"{jar}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return layout.tmp / f"client-{digest.hexdigest()[:16]}.jsa"


class ClientSharing:
    """The JVM options one client runs with, and the archive it may leave behind.

    :param cfg: the platform config (the Flink state folder)
    """

    def __init__(self, cfg: PlatformConfig) -> None:
        self.archive = archive_path(cfg)
        self.dump: Path | None = None
        if self.archive.exists():
            self.jvm_args = f"-XX:SharedArchiveFile={self.archive} {QUIET}"
        else:
            self.dump = self.archive.with_name(f"{self.archive.stem}.{uuid.uuid4().hex}.part")
            self.jvm_args = f"-XX:ArchiveClassesAtExit={self.dump} {QUIET}"

    def env(self, env: dict[str, str]) -> dict[str, str]:
        """``env`` with these options added to the client's ``JVM_ARGS`` (bin/flink)."""
        return {**env, "JVM_ARGS": f"{env.get('JVM_ARGS', '')} {self.jvm_args}".strip()}

    def finish(self, succeeded: bool) -> None:
        """Put a dumped archive in place when its client succeeded; drop it otherwise."""
        if self.dump is None:
            return
        if succeeded and self.dump.exists() and self.dump.stat().st_size > 0:
            os.replace(self.dump, self.archive)
        else:
            self.dump.unlink(missing_ok=True)
