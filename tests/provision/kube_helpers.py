"""kmock (Kubernetes API emulator over HTTP) helpers for the ``aws``-target tests."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from kmock._internal import parsing


def kubeconfig(url: Any) -> dict[str, Any]:
    server = str(url).rstrip("/")
    return {"apiVersion": "v1", "kind": "Config", "current-context": "kmock",
            "clusters": [{"name": "kmock", "cluster": {"server": server}}],
            "users": [{"name": "kmock", "user": {"token": "not-a-secret"}}],
            "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "kmock"}}]}


@pytest.fixture()
def kmock_namespaces(monkeypatch):
    """kmock 0.8 fails to parse the cluster-scoped ``/api/v1/namespaces[/name]`` paths
    (ValueError in parse_path -> HTTP 500); teach its parser those two paths only."""
    original = parsing.parse_path

    def parse_path(path: str) -> parsing.ParsedPath:
        parts = path.strip("/").split("/")
        if parts[:3] == ["api", "v1", "namespaces"] and len(parts) <= 4:
            name = parts[3] if len(parts) == 4 else None
            return parsing.ParsedPath("", "v1", "namespaces", None, name, None)
        return original(path)

    monkeypatch.setattr(parsing, "parse_path", parse_path)


async def wait_for(predicate, timeout_s: float = 10.0, what: str = "condition") -> None:
    """Poll ``predicate()`` on the event loop until true, or fail after the deadline."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
