"""DAG-run Params derived from the config schema, so the trigger form validates like the file.

``config_params("streams.trading_events.shards", ...)`` returns Airflow ``Param`` objects
whose JSON schema (type, bounds, enum, pattern) comes from :mod:`flink_platform.config`
and whose defaults are the current config values. ``config_from_params(params)`` applies
the dotted keys back as overrides and validates the whole config again (cross-field
rules included), raising :class:`ConfigError` that names the field.
"""

from __future__ import annotations

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


def config_from_params(params: dict[str, Any] | None) -> PlatformConfig:
    """Validate the platform config with the run's dotted-key Params applied."""
    overrides = {k: v for k, v in (params or {}).items() if "." in k}
    return load_config(overrides=overrides)
