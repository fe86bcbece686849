"""API-server middleware: a trigger whose conf names a key that is not a Param is a 400.

Airflow validates the values of a DAG's Params at trigger time, but a conf key that is
no Param at all is merged in and silently ignored: a misspelt ``streams.trading_event.shards``
would start a run on the default. ``RunConfGuard`` (registered by the plugin in
``plugins/flink_platform_plugin.py``) reads ``POST /api/v2/dags/{dag_id}/dagRuns``, looks
up the DAG's declared Params in the serialized DAG, and answers 400 naming the key
(:func:`flink_platform.params.check_run_conf`) before a run exists. Only DAGs tagged
``flink-platform`` are guarded; every other request passes through untouched, body intact.
"""

from __future__ import annotations

import json
import re
from typing import Any

TRIGGER_PATH = re.compile(r"^/api/v2/dags/(?P<dag_id>[^/]+)/dagRuns/?$")
GUARDED_TAG = "flink-platform"


def declared_params(dag_id: str) -> list[str] | None:
    """The Params of a guarded DAG's latest serialized version (None: not guarded/unknown)."""
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        serialized = SerializedDagModel.get(dag_id, session=session)
        if serialized is None:
            return None
        dag = serialized.dag
        if GUARDED_TAG not in (dag.tags or ()):
            return None
        return list(dag.params.keys())


def conf_error(dag_id: str, body: bytes) -> str | None:
    """The 400 message for this trigger body, or None when it may go on."""
    from flink_platform.params import UnknownParamError, check_run_conf

    try:
        conf = (json.loads(body or b"{}") or {}).get("conf")
    except (ValueError, AttributeError):
        return None  # malformed JSON: the API's own validation answers it
    if not isinstance(conf, dict) or not conf:
        return None
    declared = declared_params(dag_id)
    if declared is None:
        return None
    try:
        check_run_conf(dag_id, conf, declared)
    except UnknownParamError as err:
        return str(err)
    return None


class RunConfGuard:
    """Pure ASGI middleware (the body is read once and replayed to the app)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        match = (TRIGGER_PATH.match(scope.get("path", ""))
                 if scope.get("type") == "http" and scope.get("method") == "POST" else None)
        if match is None:
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)

        from anyio import to_thread  # the DB lookup is blocking

        error = await to_thread.run_sync(conf_error, match.group("dag_id"), body)
        if error is not None:
            payload = json.dumps({"detail": error}).encode()
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(payload)).encode())]})
            await send({"type": "http.response.body", "body": payload})
            return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
