"""DAG-run Params derived from the config schema, so the trigger form validates like the file.

``config_params("streams.trading_events.shards", ...)`` returns Airflow ``Param`` objects
whose JSON schema (type, bounds, enum, pattern) comes from :mod:`flink_platform.config`
and whose defaults are the current config values. ``config_from_params(params)`` applies
them back as overrides (dotted keys, and top-level scalar fields such as ``region``) and
validates the whole config again (cross-field rules included), raising
:class:`ConfigError` that names the field.

``check_run_conf(dag_id, conf, declared)`` rejects a run conf key that is not one of the
DAG's Params (a misspelt key would otherwise be silently ignored): the API server's
trigger endpoint answers 400 (flink_platform.api_guard) and ``resolve_config`` fails the
run for triggers that bypass it (``airflow dags test``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from flink_platform.config import ConfigError, PlatformConfig, load_config

_SCHEMA_KEYS = ("type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                "enum", "pattern", "minLength", "maxLength", "items", "minItems")


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    return PlatformConfig.model_json_schema()


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    defs = _schema().get("$defs", {})
    while "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    if "allOf" in node and len(node["allOf"]) == 1:
        node = _resolve(node["allOf"][0])
    return node


def field_schema(dotted: str) -> dict[str, Any]:
    """The JSON schema of one config field, addressed by dotted path."""
    node: dict[str, Any] = _schema()
    for part in dotted.split("."):
        node = _resolve(node)
        if part in node.get("properties", {}):
            node = node["properties"][part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            raise ConfigError(f"Param {dotted!r}: {part!r} is not a config field")
    node = _resolve(node)
    if node.get("const") is not None:
        node = {**node, "enum": [node["const"]]}
    return {k: v for k, v in node.items() if k in _SCHEMA_KEYS}


def _current_value(cfg: PlatformConfig, dotted: str) -> Any:
    node: Any = cfg.model_dump(mode="json")
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def config_params(*fields: str, descriptions: dict[str, str] | None = None) -> dict[str, Any]:
    """Airflow Params for the given dotted config fields, defaulting to current values."""
    from airflow.sdk import Param

    cfg = load_config()
    params: dict[str, Any] = {}
    for dotted in fields:
        schema = field_schema(dotted)
        params[dotted] = Param(
            _current_value(cfg, dotted),
            title=dotted,
            description=(descriptions or {}).get(dotted, f"Overrides config field {dotted}."),
            **schema,
        )
    return params


def _is_scalar_field(key: str) -> bool:
    """A top-level config field holding one value (``region``), not a section (``jobs``)."""
    node = _schema().get("properties", {}).get(key)
    return node is not None and _resolve(node).get("type") in ("string", "integer",
                                                               "number", "boolean")


def config_from_params(params: dict[str, Any] | None) -> PlatformConfig:
    """Validate the platform config with the run's config Params applied: dotted keys
    (``streams.trading_events.shards``) and top-level scalar fields (``region``)."""
    overrides = {k: v for k, v in (params or {}).items() if "." in k or _is_scalar_field(k)}
    return load_config(overrides=overrides)


class UnknownParamError(ConfigError):
    """A run conf key that is not a Param of the DAG."""


def check_run_conf(dag_id: str, conf: dict[str, Any] | None, declared: Iterable[str]) -> None:
    """Raise :class:`UnknownParamError` naming every conf key the DAG does not declare."""
    known = sorted(declared)
    unknown = sorted(set(conf or {}) - set(known))
    if not unknown:
        return
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise UnknownParamError(
        f"run conf of {dag_id}: {', '.join(hints)} "
        f"{'is not a Param' if len(unknown) == 1 else 'are not Params'} of this DAG and would "
        f"be ignored; remove or correct it. Params: {', '.join(known)}")
