"""The job image's layout: where include/flink_jobs/Dockerfile puts what a FlinkDeployment
names, defined once.

The FlinkDeployment (flink_platform.manifests) takes its ``jarURI`` and the PythonDriver's
``-py`` / ``-pyfs`` paths from here; :func:`paths_missing` checks paths against the
Dockerfile itself (its base image and its ``COPY`` lines), so a rendered manifest that
names a file the image does not have fails a test (tests/deploy/test_job_image.py) instead
of the first real deploy.
"""

from __future__ import annotations

import re
from pathlib import Path

from flink_platform.config import PROJECT_ROOT

# The base image's Flink = apache-flink in include/flink_jobs/requirements.txt (tested).
FLINK_VERSION = "2.3.0"
FLINK_HOME = "/opt/flink"
BASE_IMAGE = f"flink:{FLINK_VERSION}-scala_2.12-java17"
# The PythonDriver jar ships in the base image's opt/ under its versioned name.
PYTHON_JAR = f"{FLINK_HOME}/opt/flink-python-{FLINK_VERSION}.jar"
JOBS_DIR = f"{FLINK_HOME}/usrlib/jobs"  # the Dockerfile copies include/flink_jobs/ here
DOCKERFILE = PROJECT_ROOT / "include" / "flink_jobs" / "Dockerfile"


def base_image(dockerfile: str) -> str:
    """The final stage's base image (``ARG FLINK_IMAGE=...`` resolved)."""
    args = dict(re.findall(r"^ARG\s+(\w+)=(\S+)", dockerfile, re.M))
    image = re.findall(r"^FROM\s+(\S+)", dockerfile, re.M)[-1]
    return re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), image)


def copied_dirs(dockerfile: str) -> dict[str, Path]:
    """Image folder -> repository folder, for the final stage's ``COPY <repo dir>/ <dir>/``."""
    final = dockerfile[dockerfile.rindex("\nFROM "):]
    return {dst.rstrip("/"): PROJECT_ROOT / src.rstrip("/")
            for src, dst in re.findall(r"^COPY\s+(?!--)(\S+/)\s+(\S+/)\s*$", final, re.M)}


def paths_missing(paths: list[str], dockerfile: str | None = None) -> list[str]:
    """The ``paths`` (``local://`` URIs or absolute) the image would not have: each must be
    the base image's PythonDriver jar or a file/folder under a folder the Dockerfile copies
    from this repository."""
    text = dockerfile if dockerfile is not None else DOCKERFILE.read_text()
    image, copies = base_image(text), copied_dirs(text)
    missing = []
    for raw in paths:
        path = raw.removeprefix("local://")
        if path == PYTHON_JAR and image == BASE_IMAGE:
            continue
        source = next((src / path[len(dst):].lstrip("/") for dst, src in copies.items()
                       if path == dst or path.startswith(dst + "/")), None)
        if source is None or not source.exists():
            missing.append(raw)
    return missing
