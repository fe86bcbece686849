"""The platform's Airflow plugin: the API server rejects run conf keys that are not Params.

Kept apart from the ``flink_platform`` package (listed in ``.airflowignore``) so Airflow's
plugin loader imports this one file, not every module of the package.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from flink_platform.api_guard import RunConfGuard


class FlinkPlatformPlugin(AirflowPlugin):
    name = "flink_platform"
    fastapi_root_middlewares = [
        {"name": "flink-platform run conf guard", "middleware": RunConfGuard},
    ]
