# Astro project image (`astro dev start`): Airflow 3.3 on the Astro Runtime, plus our
# providers from requirements.txt. Airflow never imports PyFlink: the Flink side runs in
# the Flink containers of docker-compose.override.yml (image: include/flink_jobs/Dockerfile).
FROM astrocrpublic.azurecr.io/runtime:3.3-2

ENV FLINK_PLATFORM_TARGET=local
