"""The version matrix, checked when the config is validated: operator, flinkVersion, image,
connectors.

* (a) ``operator.version`` is the one include/crds/crds.lock pins, and its real CRD's
  ``spec.flinkVersion`` enum contains ``flink.flink_version``;
* (b) ``flink.flink_version`` is the job image's Flink (flink_platform.job_image) as the
  operator names it: same major, never newer than the image, and the newest value of that
  major the enum has up to the image's minor (v2_2 for the 2.3 image on operator 1.13,
  whose enum stops at v2_2: docs/DATA_PLANE.md, "Version matrix");
* (c) the jars built or fetched for the jobs are of the image's Flink: ``flink.version`` in
  include/flink_jobs/jars/pom.xml, every ``org.apache.flink`` jar in jars.lock, and the
  Flink the Dockerfile compiles our Kinesis connector and formats against.

Each problem names the field or file, what it says and what it must say.
"""

from __future__ import annotations

import re
from functools import lru_cache

from flink_platform.config import PROJECT_ROOT

JARS = PROJECT_ROOT / "include" / "flink_jobs" / "jars"


def operator_name(flink_version: str) -> str:
    """``2.3.0`` -> ``v2_3`` (the operator's FlinkVersion enum spelling)."""
    major, minor = flink_version.split(".")[:2]
    return f"v{major}_{minor}"


def _parse(name: str) -> tuple[int, int]:
    major, minor = name.removeprefix("v").split("_")
    return int(major), int(minor)


def expected_flink_version(image_version: str, enum: tuple[str, ...]) -> str | None:
    """The enum value for an image of ``image_version``: its own minor when the operator
    knows it, else the newest older minor of the same major (None: no such value)."""
    major, minor = _parse(operator_name(image_version))
    fits = [v for v in enum if _parse(v)[0] == major and _parse(v)[1] <= minor]
    return max(fits, key=_parse) if fits else None


@lru_cache(maxsize=1)
def connector_problems() -> tuple[str, ...]:
    """(c): what the jobs' jars and the connector's compile stage say vs the image."""
    from flink_platform import job_image

    image, problems = job_image.FLINK_VERSION, []
    pom = re.search(r"<flink\.version>([^<]+)</flink\.version>", (JARS / "pom.xml").read_text())
    if not pom or pom.group(1) != image:
        problems.append(f"include/flink_jobs/jars/pom.xml flink.version = "
                        f"{pom.group(1) if pom else 'missing'}, the image is Flink {image}")
    for line in (JARS / "jars.lock").read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2].startswith("org.apache.flink:") \
                and parts[2].rsplit(":", 1)[1] != image:
            problems.append(f"jars.lock pins {parts[2]}, the image is Flink {image}")
    dockerfile = job_image.DOCKERFILE.read_text()
    for base in sorted(set(re.findall(r"(?:--from=|FLINK_IMAGE=)(flink:[^\s/]+)", dockerfile))):
        if base != job_image.BASE_IMAGE:
            problems.append(f"include/flink_jobs/Dockerfile uses {base} (the Kinesis connector "
                            f"and formats compile against it), the image is "
                            f"{job_image.BASE_IMAGE}")
    return tuple(problems)


def version_problems(operator_version: str, flink_version: str,
                     distribution: str = "upstream") -> list[str]:
    """Every mismatch of the matrix; empty when the config, image and jars agree. The EMR
    operator build brings its own CRD (not pinned here): only (c) applies to it."""
    from flink_platform import crd, job_image

    if distribution != "upstream":
        return list(connector_problems())
    if operator_version != crd.operator_version():
        return [f"operator.version = {operator_version}: no CRD pinned for it "
                f"(include/crds/crds.lock pins {crd.operator_version()}); pin its CRD first"]
    enum = crd.flink_versions()
    problems = []
    if flink_version not in enum:
        problems.append(f"flink.flink_version = {flink_version}: operator {operator_version}'s "
                        f"CRD accepts only {', '.join(enum)}")
    expected = expected_flink_version(job_image.FLINK_VERSION, enum)
    if expected is None:
        problems.append(f"operator {operator_version} knows no Flink "
                        f"{job_image.FLINK_VERSION.split('.')[0]}.x (the job image's "
                        f"{job_image.FLINK_VERSION}): pin a newer operator")
    elif flink_version in enum and flink_version != expected:
        problems.append(f"flink.flink_version = {flink_version} does not match the job image's "
                        f"Flink {job_image.FLINK_VERSION} (flink_platform.job_image): operator "
                        f"{operator_version} names it {expected}; set {expected}")
    return problems + list(connector_problems())
