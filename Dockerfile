# Astro project image (`astro dev start`): Airflow 3.3 on the Astro Runtime, plus our
# providers from requirements.txt. The runtime's ONBUILD steps install packages.txt (as
# root), then requirements.txt, then copy this project to /usr/local/airflow: the
# project root the plugins resolve (flink_platform.config.PROJECT_ROOT).
#
# The `local` target submits jobs with PyFlink's `bin/flink` (flink_platform.adapters.
# local_flink), so the image also carries what `make venvs` builds on a workstation,
# built by the same Makefile targets: `.venv-flink` (PyFlink from
# include/flink_jobs/requirements.txt, a second venv: Airflow never imports PyFlink), the
# pinned jars in `.jars/` (Maven's own client, checked against jars.lock) and a JDK 17
# (JAVA_HOME; javac for the jobs' JVM code). The runtime's own Python stands in for
# .venv-airflow (`-o` keeps make from building that venv). Those paths are tested against
# the code that looks for them: tests/foundation/test_astro_image.py.
FROM astrocrpublic.azurecr.io/runtime:3.3-2

ENV FLINK_PLATFORM_TARGET=local
WORKDIR /usr/local/airflow

# A version-independent JAVA_HOME over Debian's openjdk-17 (amd64 or arm64), from packages.txt.
USER root
RUN ln -sfn "/usr/lib/jvm/java-17-openjdk-$(dpkg --print-architecture)" /usr/lib/jvm/java-17
ENV JAVA_HOME=/usr/lib/jvm/java-17
USER astro

# PyFlink 2.3 supports Python 3.9-3.12: the Flink venv uses Debian's python3.11 (as the job
# image does), whatever Python the runtime runs Airflow on. Maven's local repository is
# dropped once the jars are verified.
RUN PIP_NO_CACHE_DIR=1 make -o .venv-airflow/.installed venvs PY=python PY_BOOT=python3.11 \
 && rm -rf "$HOME/.m2"
