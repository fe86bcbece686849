"""The jars the jobs need beyond PyFlink's distribution: fetched by Maven, pinned by checksum.

``include/flink_jobs/jars/pom.xml`` names them (the AWS SDK's Kinesis client for the jobs'
Kinesis connector, the S3 filesystem plugin); ``include/flink_jobs/jars/jars.lock`` pins
each file's SHA-256. ``install`` runs Maven's own client (``mvn dependency:copy-dependencies``
and ``dependency:copy``: Maven Central only) into ``.jars/`` and then verifies the folder
against the lock: a missing jar, a jar the lock does not know, or another checksum fails,
naming the jar and the expected checksum. The local cluster refuses to start on a folder
that does not verify (:func:`verified_jars_dir`), and the job image installs the same files
from the same lock (include/flink_jobs/Dockerfile).

``python -m flink_platform.local.jars install|verify|lock``
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from flink_platform.config import PROJECT_ROOT

JARS_SOURCE = PROJECT_ROOT / "include" / "flink_jobs" / "jars"
POM = JARS_SOURCE / "pom.xml"
LOCK = JARS_SOURCE / "jars.lock"
MVN_GOALS = ("dependency:copy-dependencies@lib", "dependency:copy@plugins")
MVN_TIMEOUT_S = 900
VERIFIED_STAMP = ".verified"


class JarLockError(RuntimeError):
    """The jar folder does not match jars.lock (or Maven could not fetch it)."""


@dataclass(frozen=True)
class LockedJar:
    sha256: str
    path: str        # relative to the jars folder: lib/x.jar, plugins/<name>/y.jar
    coordinate: str  # group:artifact:version (what Maven fetched it as)


def jars_dir() -> Path:
    """Where the installed jars live (``FLINK_PLATFORM_JARS_DIR`` moves it)."""
    return Path(os.environ.get("FLINK_PLATFORM_JARS_DIR", PROJECT_ROOT / ".jars"))


def read_lock(lock: Path = LOCK) -> list[LockedJar]:
    """``<sha256>  <path>  <coordinate>`` lines; ``#`` comments."""
    jars = []
    for number, line in enumerate(lock.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 3 or len(parts[0]) != 64:
            raise JarLockError(f"{lock}:{number}: expected '<sha256>  <path>  <group:artifact:"
                               f"version>', got {line!r}")
        jars.append(LockedJar(*parts))
    return jars


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _present(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*.jar")} if root.is_dir() else set()


def verify(root: Path | None = None, lock: Path = LOCK) -> list[LockedJar]:
    """Check ``root`` against the lock; raise :class:`JarLockError` listing every problem."""
    root = root or jars_dir()
    locked = read_lock(lock)
    problems = []
    for jar in locked:
        path = root / jar.path
        if not path.is_file():
            problems.append(f"missing {jar.path} ({jar.coordinate}), expected sha256 {jar.sha256}")
        elif (actual := sha256(path)) != jar.sha256:
            problems.append(f"checksum mismatch for {jar.path} ({jar.coordinate}): expected "
                            f"sha256 {jar.sha256}, got {actual}")
    for extra in sorted(_present(root) - {j.path for j in locked}):
        problems.append(f"{extra} is not in {lock.name}: Maven resolved a jar the lock does not "
                        "pin (after changing pom.xml, run "
                        "`python -m flink_platform.local.jars lock`)")
    if problems:
        raise JarLockError(f"jars under {root} do not match {lock}:\n  - "
                           + "\n  - ".join(problems))
    return locked


def _mvn(root: Path, *goals: str, extra: tuple[str, ...] = ()) -> None:
    mvn = shutil.which("mvn")
    if not mvn:
        raise JarLockError("Maven (`mvn`) is not on PATH: install it (`apt-get install -y maven`) "
                           "to fetch the jobs' jars from Maven Central")
    cmd = [mvn, "-B", "-q", "-f", str(POM), *goals, f"-Djars.dir={root}", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=MVN_TIMEOUT_S)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise JarLockError(f"`{' '.join(cmd[1:])}` failed (exit {proc.returncode}):\n{tail}")


def install(root: Path | None = None) -> Path:
    """Fetch the pinned jars into ``root`` (a fresh folder each time) and verify them."""
    root = root or jars_dir()
    stamp = root / VERIFIED_STAMP
    if stamp.exists() and stamp.stat().st_mtime >= max(POM.stat().st_mtime, LOCK.stat().st_mtime):
        verify(root)
        return root
    staging = root.with_name(root.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    _mvn(staging, *MVN_GOALS)
    verify(staging)  # a bad fetch never replaces a good folder
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    stamp.touch()
    return root


def verified_jars_dir() -> Path:
    """The installed jars folder, verified against the lock (what the cluster starts with)."""
    root = jars_dir()
    if not (root / VERIFIED_STAMP).exists():
        raise JarLockError(f"the jobs' jars are not installed under {root}: run `make venvs` "
                           "(python -m flink_platform.local.jars install)")
    verify(root)
    return root


def write_lock(lock: Path = LOCK) -> Path:
    """Resolve the pom afresh and pin what Maven fetched (maintainers, after a pom change)."""
    staging = jars_dir().with_name(jars_dir().name + ".lock-staging")
    shutil.rmtree(staging, ignore_errors=True)
    listing = staging / "dependency-list.txt"
    _mvn(staging, *MVN_GOALS, "dependency:list",
         extra=(f"-DoutputFile={listing}", "-DoutputAbsoluteArtifactFilename=true"))
    by_file = {}
    for line in listing.read_text().splitlines():
        # "   group:artifact:jar:version:scope:/abs/path.jar -- module ..."
        fields = line.strip().split(" ", 1)[0].split(":")
        if len(fields) >= 6 and fields[5].endswith(".jar"):
            by_file[Path(fields[5]).name] = ":".join((fields[0], fields[1], fields[3]))
    lines = ["# SHA-256 of every jar include/flink_jobs/jars/pom.xml resolves, by its path under",
             "# .jars/ (the job image: /opt/flink/). Written by "
             "`python -m flink_platform.local.jars",
             "# lock`; checked by `install` and by the Dockerfile. <sha256>  <path>  <coordinate>"]
    for path in sorted(_present(staging)):
        name = Path(path).name
        coordinate = by_file.get(name) or _plugin_coordinate(name)
        lines.append(f"{sha256(staging / path)}  {path}  {coordinate}")
    lock.write_text("\n".join(lines) + "\n")
    shutil.rmtree(staging, ignore_errors=True)
    return lock


def _plugin_coordinate(name: str) -> str:
    """``flink-s3-fs-native-2.3.0.jar`` -> ``org.apache.flink:flink-s3-fs-native:2.3.0``."""
    stem = name.removesuffix(".jar")
    artifact, _, version = stem.rpartition("-")
    return f"org.apache.flink:{artifact}:{version}"


def main(argv: list[str] | None = None) -> int:
    command = (argv if argv is not None else sys.argv[1:] or ["install"])[0]
    try:
        if command == "install":
            root = install()
            print(f"jobs' jars installed and verified against {LOCK.name}: {root}")
        elif command == "verify":
            jars = verify()
            print(f"{len(jars)} jars match {LOCK.name}")
        elif command == "lock":
            print(f"wrote {write_lock()}")
        else:
            print("usage: python -m flink_platform.local.jars install|verify|lock")
            return 2
    except JarLockError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
