"""The Flink Kubernetes Operator's real CRDs, pinned by checksum (include/crds/crds.lock).

The lock names the operator version, where its CRD files come from (the
``flink-kubernetes-operator-api`` jar on Maven, ``META-INF/fabric8/<file>``, byte-identical
to the operator repository's ``helm/flink-kubernetes-operator/crds/<file>`` at the release
tag), each file's SHA-256, and the FlinkDeployment's ``spec.flinkVersion`` enum (what
config validation checks ``flink.flink_version`` against, without reading 0.5 MB of YAML).

The files themselves are not in the repository: ``install`` puts them in a cache folder
(``FLINK_PLATFORM_CRD_DIR``, default ``~/.cache/flink-platform/crds/<version>``), from
Maven or from a file/folder/jar given with ``--from`` (the operator's helm chart ``crds/``
folder, its api jar), and refuses any file whose checksum differs from the lock::

    python -m flink_platform.crd install [--from PATH]
    python -m flink_platform.crd verify
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from flink_platform.config import PROJECT_ROOT

LOCK = PROJECT_ROOT / "include" / "crds" / "crds.lock"
FABRIC8 = "META-INF/fabric8/"


class CrdError(RuntimeError):
    """A CRD file missing or not matching include/crds/crds.lock; the message says the fix."""


@lru_cache(maxsize=1)
def lock() -> dict[str, Any]:
    """include/crds/crds.lock: operator_version, maven, files {name: sha256}, flink_versions."""
    return yaml.safe_load(LOCK.read_text())


def operator_version() -> str:
    return str(lock()["operator_version"])


def flink_versions() -> tuple[str, ...]:
    """The pinned operator's FlinkDeployment ``spec.flinkVersion`` enum, oldest first."""
    return tuple(lock()["flink_versions"])


def crd_dir() -> Path:
    default = Path.home() / ".cache" / "flink-platform" / "crds" / operator_version()
    return Path(os.environ.get("FLINK_PLATFORM_CRD_DIR", default))


def file_name(kind: str) -> str:
    return f"{kind}.flink.apache.org-v1.yml"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check(name: str, data: bytes, origin: str) -> None:
    expected = lock()["files"].get(name)
    if expected is None:
        raise CrdError(f"{name} is not in {LOCK.name}; pinned: {', '.join(lock()['files'])}")
    got = sha256(data)
    if got != expected:
        raise CrdError(f"{origin}: SHA-256 {got} differs from {LOCK.name}'s {expected} for "
                       f"{name} (operator {operator_version()}): wrong version or edited file")


def crd_path(kind: str = "flinkdeployments") -> Path:
    """The installed, checksum-verified CRD file of ``kind``."""
    name = file_name(kind)
    path = crd_dir() / name
    if not path.is_file():
        raise CrdError(
            f"CRD {name} of operator {operator_version()} not installed in {crd_dir()}: run "
            "`python -m flink_platform.crd install` (Maven) or `... install --from <the "
            "operator chart's crds/ folder or api jar>` (include/crds/README.md)")
    _check(name, path.read_bytes(), str(path))
    return path


@lru_cache(maxsize=4)
def load_crd(kind: str = "flinkdeployments") -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(crd_path(kind).read_text(), Loader=loader)


def crd_flink_versions(crd: dict[str, Any]) -> list[str]:
    """``spec.flinkVersion`` enum of a FlinkDeployment CRD (its v1beta1 version)."""
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1beta1")
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    return list(spec["flinkVersion"]["enum"])


# -- install -----------------------------------------------------------------------------

def _from_jar(jar: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(jar) as zf:
        return {n: zf.read(FABRIC8 + n) for n in lock()["files"] if FABRIC8 + n in zf.namelist()}


def _from_path(source: Path) -> dict[str, bytes]:
    if source.suffix == ".jar":
        return _from_jar(source)
    if source.is_dir():
        return {n: (source / n).read_bytes() for n in lock()["files"] if (source / n).is_file()}
    return {source.name: source.read_bytes()}


def _from_maven() -> dict[str, bytes]:
    coordinate = lock()["maven"]
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["mvn", "-B", "-q", "dependency:copy", f"-Dartifact={coordinate}",
               f"-DoutputDirectory={tmp}"]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        except FileNotFoundError:
            raise CrdError("mvn not found: install Maven or use --from") from None
        jars = list(Path(tmp).glob("*.jar"))
        if done.returncode != 0 or not jars:
            raise CrdError(f"Maven could not fetch {coordinate} (exit {done.returncode}); "
                           "use --from <the operator chart's crds/ folder or api jar>")
        return _from_jar(jars[0])


def install(source: Path | None = None) -> list[Path]:
    """Copy the pinned CRD files into :func:`crd_dir` after checking each checksum."""
    files = _from_path(source) if source else _from_maven()
    missing = sorted(set(lock()["files"]) - set(files))
    if missing:
        raise CrdError(f"{source or lock()['maven']} lacks {', '.join(missing)}")
    target = crd_dir()
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in sorted(files.items()):
        _check(name, data, f"{source or lock()['maven']}:{name}")
        with tempfile.NamedTemporaryFile(dir=target, delete=False) as tmp:
            tmp.write(data)
        shutil.move(tmp.name, target / name)
        written.append(target / name)
    load_crd.cache_clear()
    return written


def main(argv: list[str]) -> int:
    if argv[:1] == ["install"]:
        source = Path(argv[2]) if argv[1:2] == ["--from"] and len(argv) > 2 else None
        for path in install(source):
            print(f"installed {path}")
        return 0
    if argv[:1] == ["verify"]:
        for kind in ("flinkdeployments", "flinkstatesnapshots"):
            print(f"ok {crd_path(kind)}")
        return 0
    print("usage: python -m flink_platform.crd install [--from PATH] | verify", file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except CrdError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
