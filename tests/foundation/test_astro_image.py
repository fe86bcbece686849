"""The Astro image (root Dockerfile, packages.txt) carries what the `local` target's
`bin/flink` submissions look for, at the paths the code looks for them: `.venv-flink`
(flink_dist.flink_venv), `.jars` (jars.jars_dir) under the project root, and JAVA_HOME
(flink_dist.java_home), built by the Makefile's own `venvs` targets. The image is not
built here (no Docker engine); the Dockerfile is read, as tests/deploy/test_job_image.py
reads the job image's."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from flink_platform import config
from flink_platform.config import PROJECT_ROOT
from flink_platform.local import flink_dist, jars

DOCKERFILE = PROJECT_ROOT / "Dockerfile"
IMAGE_ROOT = Path("/usr/local/airflow")  # where the Astro Runtime's ONBUILD copies the project


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) of each instruction, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [(m.group(1).upper(), m.group(2).strip())
            for m in re.finditer(r"^\s*(\w+)\s+(.*)$", joined, re.M)]


def image_env() -> dict[str, str]:
    env = {}
    for keyword, args in instructions(DOCKERFILE.read_text()):
        if keyword == "ENV":
            env.update(dict(re.findall(r"(\w+)=(\S+)", args)))
    return env


def make_command() -> list[str]:
    """The Dockerfile's `make ...` invocation (the RUN that builds the Flink side)."""
    runs = [args for keyword, args in instructions(DOCKERFILE.read_text()) if keyword == "RUN"]
    found = [re.search(r"\bmake\s+([^&;]*)", run) for run in runs]
    found = [m for m in found if m]
    assert len(found) == 1, f"expected one RUN with `make` in {DOCKERFILE}, got {runs}"
    return shlex.split(found[0].group(1))


def makefile_var(name: str) -> str:
    match = re.search(rf"^{name}\s*:=\s*(\S+)$", (PROJECT_ROOT / "Makefile").read_text(), re.M)
    assert match, name
    return match.group(1)


def test_project_root_in_the_image_is_the_workdir_the_project_is_copied_to():
    workdirs = [args for keyword, args in instructions(DOCKERFILE.read_text())
                if keyword == "WORKDIR"]
    assert workdirs == [str(IMAGE_ROOT)]
    # PROJECT_ROOT is two folders above plugins/flink_platform/config.py: the copied root.
    assert Path(config.__file__).resolve().relative_to(PROJECT_ROOT) == Path(
        "plugins/flink_platform/config.py")


def test_the_image_builds_the_flink_side_with_the_makefile_targets():
    """`make venvs` with the runtime's Python for Airflow (-o: no .venv-airflow), a Python
    PyFlink supports for .venv-flink, java-check and the verified jars."""
    cmd = make_command()
    assert "venvs" in cmd
    assert cmd[cmd.index("-o") + 1] == f"{makefile_var('AIRFLOW_VENV')}/.installed"
    assignments = dict(arg.split("=", 1) for arg in cmd if "=" in arg)
    py_boot = assignments["PY_BOOT"]
    assert re.fullmatch(r"python3\.(9|10|11|12)", py_boot), py_boot  # apache-flink 2.3.0
    packages = (PROJECT_ROOT / "packages.txt").read_text().split()
    assert {"make", py_boot, f"{py_boot}-venv", "openjdk-17-jdk-headless", "maven"} <= set(
        packages)
    dry = subprocess.run(["make", "-n", "-B", "-C", str(PROJECT_ROOT), *cmd],
                         capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    flink_venv = makefile_var("FLINK_VENV")
    assert f"{py_boot} -m venv {flink_venv}" in dry.stdout
    assert (f"{flink_venv}/bin/python -m pip install -q -r include/flink_jobs/requirements.txt"
            in dry.stdout)
    assert f"{assignments['PY']} -m flink_platform.local.jars install" in dry.stdout
    assert "java_home()" in dry.stdout
    assert ".venv-airflow" not in dry.stdout


def test_the_paths_the_image_creates_are_the_ones_the_code_looks_for(monkeypatch):
    env = image_env()
    for name in ("FLINK_PLATFORM_FLINK_VENV", "FLINK_PLATFORM_JARS_DIR", "JAVA_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    flink_venv = makefile_var("FLINK_VENV")
    # The Makefile creates .venv-flink and .jars/ relative to the project root (WORKDIR).
    assert flink_dist.flink_venv() == PROJECT_ROOT / flink_venv
    assert jars.jars_dir() == PROJECT_ROOT / ".jars"
    # The host's copies never shadow the image's: the build context leaves them out.
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().split()
    assert {flink_venv, ".jars", ".venv-airflow"} <= set(ignored)
    # JAVA_HOME: the link the Dockerfile makes to Debian's openjdk-17 folder.
    java_home = env["JAVA_HOME"]
    link = re.search(r'ln -sfn "/usr/lib/jvm/java-17-openjdk-\$\(dpkg --print-architecture\)" '
                     r"(\S+)", DOCKERFILE.read_text())
    assert link and link.group(1) == java_home


def test_java_home_is_the_first_place_the_code_looks(monkeypatch):
    """flink_dist.java_home() takes JAVA_HOME (the image's ENV) before `java` on PATH."""
    javac = shutil.which("javac")
    if javac is None:
        pytest.fail("no JDK on PATH: `make venvs` needs one (openjdk-17-jdk-headless)")
    jdk = Path(os.path.realpath(javac)).parents[1]
    monkeypatch.setenv("JAVA_HOME", str(jdk))
    monkeypatch.setenv("PATH", "/nonexistent")  # no `java` to fall back on
    flink_dist.java_home.cache_clear()
    try:
        assert flink_dist.java_home() == jdk
    finally:
        flink_dist.java_home.cache_clear()


def test_submission_targets_the_configured_jobmanager_host(platform_config):
    """In the Astro container the JobManager is the compose service, not 127.0.0.1:
    ``flink run -m`` follows ``local.flink_host``, like the REST client does."""
    from flink_platform.adapters.job_spec import resolve_job_spec
    from flink_platform.adapters.local_flink import LocalFlinkAdapter
    from flink_platform.config import load_config
    from flink_platform.manifests import example_data_plane

    cfg = load_config(overrides={"local.flink_host": "flink-jobmanager"})
    spec = resolve_job_spec(cfg, "fraud-detection", None, example_data_plane(cfg))
    command = LocalFlinkAdapter(cfg).command(spec)
    assert command[command.index("-m") + 1] == f"flink-jobmanager:{cfg.local.flink_rest_port}"
