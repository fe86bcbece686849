"""Every path a rendered FlinkDeployment names exists in the job image, as the Dockerfile
builds it (flink_platform.job_image): the PythonDriver jar of the base image, the job
script and the jobs folder copied from include/flink_jobs/. Also: one Flink version."""

from __future__ import annotations

import re

import pytest

from flink_platform import job_image
from flink_platform.config import PROJECT_ROOT, load_config
from flink_platform.manifests import render_flink_deployment


def named_paths(body: dict) -> list[str]:
    """The image paths a FlinkDeployment names: jarURI and the PythonDriver's -py / -pyfs."""
    job = body["spec"]["job"]
    args = job["args"]
    paths = [job["jarURI"]]
    for flag in ("-py", "-pyfs"):
        paths += [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == flag]
    return paths


@pytest.mark.parametrize("overrides", [{}, {"operator.distribution": "emr"}])
def test_every_path_a_flinkdeployment_names_is_in_the_image(overrides):
    cfg = load_config("aws", overrides=overrides)
    for job in cfg.jobs:
        paths = named_paths(render_flink_deployment(cfg, job))
        assert len(paths) == 3, paths
        assert job_image.paths_missing(paths) == [], (job, paths)


def test_a_path_the_image_does_not_have_is_named():
    """The check can fail: the jar name the manifest used before, a job file that does not
    exist, and a Dockerfile that copies the jobs elsewhere."""
    assert job_image.paths_missing(["local:///opt/flink/opt/flink-python.jar"]) == [
        "local:///opt/flink/opt/flink-python.jar"]
    assert job_image.paths_missing([f"{job_image.JOBS_DIR}/no_such_job.py"]) == [
        f"{job_image.JOBS_DIR}/no_such_job.py"]
    moved = job_image.DOCKERFILE.read_text().replace("/opt/flink/usrlib/jobs/", "/opt/jobs/")
    assert job_image.paths_missing([f"{job_image.JOBS_DIR}/fraud_detection.py"], moved) != []
    rebased = job_image.DOCKERFILE.read_text().replace(job_image.BASE_IMAGE, "flink:2.0.0-java17")
    assert job_image.paths_missing([job_image.PYTHON_JAR], rebased) == [job_image.PYTHON_JAR]


def test_one_flink_version_for_the_image_and_pyflink():
    pinned = re.search(r"^apache-flink==(\S+)$",
                       (PROJECT_ROOT / "include/flink_jobs/requirements.txt").read_text(), re.M)
    assert pinned and pinned.group(1) == job_image.FLINK_VERSION
    assert job_image.base_image(job_image.DOCKERFILE.read_text()) == job_image.BASE_IMAGE
