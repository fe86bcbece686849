"""The Flink Kubernetes Operator's real CRDs, pinned by checksum (include/crds/crds.lock).

Two sources, both checksum-pinned by the lock:

* ``pinned``: the CRD of the operator we deploy (``operator_version``, 1.13.0). Its files
  come from the operator's helm chart ``crds/`` folder or api jar (``install --from``);
  Maven Central's mirror here does not serve its api jar (404), so CI cannot fetch it.
* ``fallback``: the newest api jar Maven does serve (``fallback.maven``, 1.10.0), fetched by
  Maven's own client at ``make venvs`` (``install --fallback``), the jar and each extracted
  ``META-INF/fabric8/<file>`` checked against the lock. Its schema is the structural check
  (unknown fields, types, nested PodSpec, enums) with ONE edit: ``spec.flinkVersion``'s enum
  is replaced by the pinned operator's enum recorded in the lock (``flink_versions``), after
  checking the file's own enum is the one the lock records for 1.10.0. The fields 1.13.0
  added are listed in include/crds/README.md; the manifests render none of them.

:func:`active_source` picks ``pinned`` when its files are installed and verify, else
``fallback``, and logs which; :func:`describe` says it in words. Files live in
``FLINK_PLATFORM_CRD_DIR`` (default ``~/.cache/flink-platform/crds``)/``<version>/``::

    python -m flink_platform.crd install [--from PATH]   # pinned (Maven, or chart/jar)
    python -m flink_platform.crd install --fallback      # Maven's 1.10.0 api jar (CI)
    python -m flink_platform.crd verify                  # says which source validation uses
"""

from __future__ import annotations

import copy
import hashlib
import logging
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
POM = PROJECT_ROOT / "include" / "flink_jobs" / "jars" / "pom.xml"  # pins the Maven plugin
FABRIC8 = "META-INF/fabric8/"
PINNED, FALLBACK = "pinned", "fallback"
SOURCES = (PINNED, FALLBACK)
KINDS = ("flinkdeployments", "flinkstatesnapshots")
CRD_VERSION = "v1beta1"  # the FlinkDeployment API version we render
MVN_TIMEOUT_S = 600
log = logging.getLogger(__name__)


class CrdError(RuntimeError):
    """A CRD file missing or not matching include/crds/crds.lock; the message says the fix."""


@lru_cache(maxsize=1)
def lock() -> dict[str, Any]:
    """include/crds/crds.lock: operator_version, maven, files {name: sha256},
    flink_versions, and ``fallback`` (operator_version, maven, jar_sha256, files,
    flink_versions) for the Maven-served api jar."""
    return yaml.safe_load(LOCK.read_text())


def pin(source: str = PINNED) -> dict[str, Any]:
    if source not in SOURCES:
        raise ValueError(f"CRD source {source!r}: one of {', '.join(SOURCES)}")
    return lock() if source == PINNED else lock()["fallback"]


def operator_version(source: str = PINNED) -> str:
    return str(pin(source)["operator_version"])


def flink_versions() -> tuple[str, ...]:
    """The pinned operator's FlinkDeployment ``spec.flinkVersion`` enum, oldest first."""
    return tuple(lock()["flink_versions"])


def crd_root() -> Path:
    default = Path.home() / ".cache" / "flink-platform" / "crds"
    return Path(os.environ.get("FLINK_PLATFORM_CRD_DIR", default))


def crd_dir(source: str = PINNED) -> Path:
    return crd_root() / operator_version(source)


def file_name(kind: str) -> str:
    return f"{kind}.flink.apache.org-v1.yml"  # apiextensions.k8s.io/v1 (not the -v1beta1 one)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check(name: str, data: bytes, origin: str, source: str) -> None:
    files = pin(source)["files"]
    if name not in files:
        raise CrdError(f"{name} is not in {LOCK.name}; pinned: {', '.join(files)}")
    got = sha256(data)
    if got != files[name]:
        raise CrdError(f"{origin}: SHA-256 {got} differs from {LOCK.name}'s {files[name]} for "
                       f"{name} (operator {operator_version(source)}): wrong version or "
                       "edited file")


def _install_hint(source: str) -> str:
    if source == FALLBACK:
        return "`make venvs` (python -m flink_platform.crd install --fallback: Maven)"
    return ("`python -m flink_platform.crd install --from <the operator chart's crds/ folder "
            "or api jar>` (include/crds/README.md)")


def crd_path(kind: str = "flinkdeployments", source: str = PINNED) -> Path:
    """The installed, checksum-verified CRD file of ``kind`` from ``source``."""
    name = file_name(kind)
    path = crd_dir(source) / name
    if not path.is_file():
        raise CrdError(f"CRD {name} of operator {operator_version(source)} ({source}) not "
                       f"installed in {crd_dir(source)}: run {_install_hint(source)}")
    _check(name, path.read_bytes(), str(path), source)
    return path


def installed(source: str) -> bool:
    try:
        for kind in KINDS:
            crd_path(kind, source)
    except CrdError:
        return False
    return True


def active_source() -> str:
    """``pinned`` if operator 1.13.0's CRD is installed and verifies, else ``fallback`` if
    Maven's 1.10.0 one is; neither: :class:`CrdError` naming both installs."""
    for source in SOURCES:
        if installed(source):
            log.info("FlinkDeployment validation uses %s", describe(source))
            return source
    raise CrdError(f"no operator CRD installed under {crd_root()}: run {_install_hint(FALLBACK)}"
                   f" or {_install_hint(PINNED)}")


def describe(source: str) -> str:
    if source == PINNED:
        return f"operator {operator_version()}'s CRD (pinned, {crd_dir()})"
    enum = flink_versions()
    return (f"operator {operator_version(FALLBACK)}'s CRD from Maven ({crd_dir(FALLBACK)}) with "
            f"spec.flinkVersion enum of operator {operator_version()} ({enum[0]}..{enum[-1]})")


@lru_cache(maxsize=8)
def load_crd(kind: str = "flinkdeployments", source: str = PINNED) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(crd_path(kind, source).read_text(), Loader=loader)


def _version(crd: dict[str, Any]) -> dict[str, Any]:
    return next(v for v in crd["spec"]["versions"] if v["name"] == CRD_VERSION)


def crd_flink_versions(crd: dict[str, Any]) -> list[str]:
    """``spec.flinkVersion`` enum of a FlinkDeployment CRD (its v1beta1 version)."""
    spec = _version(crd)["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    return list(spec["flinkVersion"]["enum"])


@lru_cache(maxsize=8)
def schema(kind: str = "flinkdeployments", source: str | None = None) -> dict[str, Any]:
    """openAPIV3Schema of ``kind`` (v1beta1) from ``source`` (default :func:`active_source`);
    on the fallback, FlinkDeployment's ``spec.flinkVersion`` enum is the pinned operator's."""
    source = source or active_source()
    crd = load_crd(kind, source)
    if source == FALLBACK and kind == "flinkdeployments":
        own, expected = crd_flink_versions(crd), list(pin(FALLBACK)["flink_versions"])
        if own != expected:  # the checksum pins the bytes; this pins what we replace
            raise CrdError(f"fallback CRD's flinkVersion enum {own} is not {expected} "
                           f"({LOCK.name} fallback.flink_versions)")
        crd = copy.deepcopy(crd)
        spec = _version(crd)["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        spec["flinkVersion"]["enum"] = list(flink_versions())
    return _version(crd)["schema"]["openAPIV3Schema"]


# -- install -----------------------------------------------------------------------------

def _from_jar(jar: Path, source: str) -> dict[str, bytes]:
    with zipfile.ZipFile(jar) as zf:
        names = zf.namelist()
        return {n: zf.read(FABRIC8 + n) for n in pin(source)["files"] if FABRIC8 + n in names}


def _from_path(path: Path, source: str) -> dict[str, bytes]:
    if path.suffix == ".jar":
        return _from_jar(path, source)
    if path.is_dir():
        return {n: (path / n).read_bytes() for n in pin(source)["files"] if (path / n).is_file()}
    return {path.name: path.read_bytes()}


def _from_maven(source: str) -> dict[str, bytes]:
    """Maven's own client (the dependency plugin version include/flink_jobs/jars/pom.xml
    pins, as `make jars` uses) copies the api jar; the fallback's jar is checksum-pinned."""
    coordinate = pin(source)["maven"]
    mvn = shutil.which("mvn")
    if not mvn:
        raise CrdError("Maven (`mvn`) is not on PATH: install it (`apt-get install -y maven`)")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [mvn, "-B", "-q", "-f", str(POM), "dependency:copy", f"-Dartifact={coordinate}",
               f"-DoutputDirectory={tmp}", "-Dmdep.overWriteReleases=true"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=MVN_TIMEOUT_S)
        jars = list(Path(tmp).glob("*.jar"))
        if done.returncode != 0 or not jars:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-10:])
            raise CrdError(f"Maven could not fetch {coordinate} (exit {done.returncode}); "
                           f"use --from <the operator chart's crds/ folder or api jar>\n{tail}")
        expected = pin(source).get("jar_sha256")
        if expected and (got := sha256(jars[0].read_bytes())) != expected:
            raise CrdError(f"{coordinate}: jar SHA-256 {got} differs from {LOCK.name}'s "
                           f"{expected}")
        return _from_jar(jars[0], source)


def install(path: Path | None = None, source: str = PINNED) -> list[Path]:
    """Put ``source``'s CRD files into :func:`crd_dir` (from ``path``, else from Maven) after
    checking each checksum; already installed and verified: nothing is fetched."""
    if path is None and installed(source):
        return [crd_path(kind, source) for kind in KINDS]
    files = _from_path(path, source) if path else _from_maven(source)
    origin = str(path or pin(source)["maven"])
    missing = sorted(set(pin(source)["files"]) - set(files))
    if missing:
        raise CrdError(f"{origin} lacks {', '.join(missing)}")
    for name, data in files.items():  # every file checked before any is written
        _check(name, data, f"{origin}:{name}", source)
    target = crd_dir(source)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in sorted(files.items()):
        with tempfile.NamedTemporaryFile(dir=target, delete=False) as tmp:
            tmp.write(data)
        shutil.move(tmp.name, target / name)
        written.append(target / name)
    load_crd.cache_clear()
    schema.cache_clear()
    return written


def main(argv: list[str]) -> int:
    if argv[:1] == ["install"]:
        source = FALLBACK if "--fallback" in argv else PINNED
        path = Path(argv[argv.index("--from") + 1]) if "--from" in argv[:-1] else None
        for written in install(path, source):
            print(f"installed {written}")
        return 0
    if argv[:1] == ["verify"]:
        for source in SOURCES:
            print(f"{source}: {'ok' if installed(source) else 'not installed'} "
                  f"({crd_dir(source)})")
        print(f"validation uses {describe(active_source())}")
        return 0
    print("usage: python -m flink_platform.crd install [--from PATH | --fallback] | verify",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except CrdError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
