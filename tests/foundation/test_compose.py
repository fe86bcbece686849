"""The compose files load as `docker compose config` loads them (compose-go, through
tools/composecheck built by `make compose-check`), and every image they build finds its
Dockerfile and COPY sources in its build context. No Docker engine is involved: the
images themselves are not built here."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from flink_platform.config import PROJECT_ROOT

COMPOSE_FILES = ("docker-compose.yaml", "docker-compose.override.yml")
BUILD_TIMEOUT_S = 600  # a cold Go build cache compiles the standard library (~1 min)


@pytest.fixture(scope="module")
def composecheck() -> str:
    """The checker, built (or found up to date) by the Makefile target's own rule."""
    if shutil.which("go") is None:
        pytest.fail("`go` is not on PATH: the compose check needs Go >= 1.19 "
                    "(`apt-get install -y golang-go`; .ci/run installs it)")
    proc = subprocess.run(["make", "-s", "-C", str(PROJECT_ROOT), ".tools/composecheck"],
                          capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return str(PROJECT_ROOT / ".tools" / "composecheck")


def run(checker: str, project_dir) -> subprocess.CompletedProcess:
    return subprocess.run([checker, "-C", str(project_dir), *COMPOSE_FILES],
                          capture_output=True, text=True, timeout=60)


def test_compose_files_load_and_every_build_finds_its_sources(composecheck):
    proc = run(composecheck, PROJECT_ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for service in ("flink-jobmanager", "flink-taskmanager"):
        assert (f"ok   {service}: build context ., dockerfile include/flink_jobs/Dockerfile"
                in proc.stdout), proc.stdout


def copy_project(tmp_path):
    for name in (*COMPOSE_FILES, ".dockerignore"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    shutil.copytree(PROJECT_ROOT / "include" / "flink_jobs", tmp_path / "include" / "flink_jobs",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_a_context_the_dockerfile_does_not_expect_is_named(composecheck, tmp_path):
    """The job image's old build context (include/flink_jobs, while its COPY lines name
    paths from the repository root) fails, naming the COPY line and the source."""
    project = copy_project(tmp_path)
    compose = project / "docker-compose.yaml"
    text = compose.read_text()
    old = text.replace("  context: .\n  dockerfile: include/flink_jobs/Dockerfile\n",
                       "  context: include/flink_jobs\n")
    assert old != text
    compose.write_text(old)
    proc = run(composecheck, project)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert ("`COPY include/flink_jobs/requirements.txt /tmp/requirements.txt`: source "
            "include/flink_jobs/requirements.txt does not exist under build.context "
            "include/flink_jobs") in proc.stderr


def test_an_excluded_source_and_a_compose_error_are_named(composecheck, tmp_path):
    project = copy_project(tmp_path)
    ignore = project / ".dockerignore"
    ignore.write_text(ignore.read_text() + "include/flink_jobs/java\n")
    proc = run(composecheck, project)
    assert proc.returncode == 1
    assert "source include/flink_jobs/java is excluded by .dockerignore" in proc.stderr
    override = project / "docker-compose.override.yml"
    override.write_text(override.read_text().replace("service: moto}", "service: mot}"))
    proc = run(composecheck, project)
    assert proc.returncode == 1
    assert 'cannot extend service "mot"' in proc.stderr
