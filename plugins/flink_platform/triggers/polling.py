"""Poll a readiness check until it says ready, failed or the deadline passes.

A *check* is an importable function ``check(**kwargs) -> (state, message)`` with
``state`` one of ``ready`` / ``waiting`` / ``failed``. :class:`CheckTrigger` runs it in a
thread from the triggerer (deferrable mode); :class:`CheckSensor` runs it in ``poke``
(poke/reschedule mode) and defers to the trigger when ``deferrable=True``. Both fail with
the check's last message, so a timeout says what was still missing.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout
from airflow.triggers.base import BaseTrigger, TriggerEvent

READY, WAITING, FAILED = "ready", "waiting", "failed"


def load_check(path: str) -> Callable[..., tuple[str, str]]:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


class CheckTrigger(BaseTrigger):
    """Run ``check_path(**check_kwargs)`` every ``poke_interval`` s until done or timeout."""

    def __init__(self, check_path: str, check_kwargs: dict[str, Any], poke_interval: float,
                 timeout_s: float, what: str) -> None:
        super().__init__()
        self.check_path, self.check_kwargs = check_path, check_kwargs
        self.poke_interval, self.timeout_s, self.what = poke_interval, timeout_s, what

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}", {
            "check_path": self.check_path, "check_kwargs": self.check_kwargs,
            "poke_interval": self.poke_interval, "timeout_s": self.timeout_s, "what": self.what})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        check = load_check(self.check_path)
        deadline = time.monotonic() + self.timeout_s
        while True:
            state, message = await asyncio.to_thread(check, **self.check_kwargs)
            if state in (READY, FAILED):
                yield TriggerEvent({"status": state, "message": message})
                return
            if time.monotonic() >= deadline:
                yield TriggerEvent({"status": "timeout", "message": timeout_message(
                    self.what, self.timeout_s, message)})
                return
            await asyncio.sleep(min(self.poke_interval, max(deadline - time.monotonic(), 0)))


def timeout_message(what: str, timeout_s: float, last: str) -> str:
    return f"timed out after {timeout_s:.0f}s waiting for {what}; last seen: {last}"


class CheckSensor(BaseSensorOperator):
    """Base for sensors defined by one check function (see module docstring)."""

    check_path: str = ""
    what: str = "the resource"

    def __init__(self, *, deferrable: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("timeout", 600)
        super().__init__(**kwargs)
        self.deferrable = deferrable
        self._last_message = "nothing checked yet"

    def check_kwargs(self) -> dict[str, Any]:
        raise NotImplementedError

    def poke(self, context: Any) -> bool:
        state, self._last_message = load_check(self.check_path)(**self.check_kwargs())
        self.log.info("%s: %s", self.what, self._last_message)
        if state == FAILED:
            raise AirflowFailException(f"{self.what} failed: {self._last_message}")
        return state == READY

    def execute(self, context: Any) -> Any:
        if self.deferrable and not self.poke(context):
            timeout_s = _seconds(self.timeout)
            self.defer(
                trigger=CheckTrigger(self.check_path, self.check_kwargs(),
                                     _seconds(self.poke_interval), timeout_s, self.what),
                method_name="execute_complete",
                timeout=timedelta(seconds=timeout_s + 60),
            )
        try:
            return super().execute(context)
        except AirflowSensorTimeout:
            raise AirflowSensorTimeout(timeout_message(
                self.what, _seconds(self.timeout), self._last_message)) from None

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> None:
        event = event or {"status": FAILED, "message": "trigger sent no event"}
        self.log.info("%s: %s", self.what, event["message"])
        if event["status"] == "timeout":
            raise AirflowSensorTimeout(event["message"])
        if event["status"] != READY:
            raise AirflowFailException(f"{self.what} failed: {event['message']}")


def _seconds(value: timedelta | float) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
