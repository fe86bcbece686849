"""Poll a readiness check until it says ready, failed or the deadline passes.

A *check* is an importable function ``check(**kwargs) -> (state, message[, value])``
with ``state`` one of ``ready`` / ``waiting`` / ``failed`` and an optional JSON ``value``
(the sensor's XCom when ready). :class:`CheckTrigger` runs it in a thread from the
triggerer (deferrable mode, the default); :class:`CheckSensor` runs it in ``poke``
(``deferrable=False``: poke/reschedule mode). Both fail with the check's last message, so
a timeout says what was still missing. The deadline is a wall-clock instant fixed when
the sensor starts and carried in the trigger's kwargs: a trigger moved to another
triggerer (or restarted) keeps it, it does not start a new timeout.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout
from airflow.triggers.base import BaseTrigger, TriggerEvent

READY, WAITING, FAILED = "ready", "waiting", "failed"
TIMEOUT = "timeout"
TERMINAL_STATES = frozenset({READY, FAILED})


def load_check(path: str) -> Callable[..., tuple[Any, ...]]:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def run_check(path: str, kwargs: dict[str, Any]) -> tuple[str, str, Any]:
    """``(state, message, value)`` of one check call (``value`` None when it gives none)."""
    result = load_check(path)(**kwargs)
    return (result[0], result[1], result[2] if len(result) > 2 else None)


class CheckTrigger(BaseTrigger):
    """Run ``check_path(**check_kwargs)`` every ``poke_interval`` s until done or until
    the wall-clock ``deadline`` (epoch seconds; ``timeout_s`` only words the message)."""

    def __init__(self, check_path: str, check_kwargs: dict[str, Any], poke_interval: float,
                 timeout_s: float, what: str, deadline: float | None = None) -> None:
        super().__init__()
        self.check_path, self.check_kwargs = check_path, check_kwargs
        self.poke_interval, self.timeout_s, self.what = poke_interval, timeout_s, what
        self.deadline = deadline if deadline is not None else time.time() + timeout_s

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}", {
            "check_path": self.check_path, "check_kwargs": self.check_kwargs,
            "poke_interval": self.poke_interval, "timeout_s": self.timeout_s, "what": self.what,
            "deadline": self.deadline})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while True:
            state, message, value = await asyncio.to_thread(
                run_check, self.check_path, self.check_kwargs)
            if state in TERMINAL_STATES:
                yield TriggerEvent({"status": state, "message": message, "value": value})
                return
            left = self.deadline - time.time()
            if left <= 0:
                yield TriggerEvent({"status": TIMEOUT, "message": timeout_message(
                    self.what, self.timeout_s, message), "value": value})
                return
            await asyncio.sleep(min(self.poke_interval, left))


def timeout_message(what: str, timeout_s: float, last: str) -> str:
    return f"timed out after {timeout_s:.0f}s waiting for {what}; last seen: {last}"


class CheckSensor(BaseSensorOperator):
    """Base for sensors defined by one check function (see module docstring).

    :param deferrable: wait in the triggerer (default) instead of holding a worker slot;
        ``False`` pokes (``mode="poke"`` or ``"reschedule"``) with the same messages.
    :param defer_after_s: deferrable only: keep checking in the worker, every
        ``poke_interval``, this many seconds before deferring. A wait that ends sooner costs
        no round trip through the triggerer (a new worker process, and Airflow 3.3's resume
        race, apache/airflow#72716, which fails and retries a resumed sensor). 0 (default):
        defer after the first check.
    """

    check_path: str = ""
    what: str = "the resource"

    def __init__(self, *, deferrable: bool = True, defer_after_s: float = 0.0,
                 **kwargs: Any) -> None:
        kwargs.setdefault("timeout", 600)
        super().__init__(**kwargs)
        self.deferrable = deferrable
        self.defer_after_s = defer_after_s
        self._last_message = "nothing checked yet"

    def check_kwargs(self, context: Any = None) -> dict[str, Any]:
        raise NotImplementedError

    def on_value(self, context: Any, state: str, message: str, value: Any) -> None:
        """Hook for subclasses: every check result (XCom side channels such as a reason)."""

    def _check(self, context: Any) -> tuple[str, Any]:
        state, self._last_message, value = run_check(self.check_path, self.check_kwargs(context))
        self.log.info("%s: %s", self.what, self._last_message)
        self.on_value(context, state, self._last_message, value)
        if state == FAILED:
            raise AirflowFailException(f"{self.what} failed: {self._last_message}")
        return state, value

    def poke(self, context: Any) -> bool | PokeReturnValue:
        state, value = self._check(context)
        if value is None:
            return state == READY
        return PokeReturnValue(is_done=state == READY, xcom_value=value)

    def execute(self, context: Any) -> Any:
        if self.deferrable:
            started, poke_s = time.time(), _seconds(self.poke_interval)
            state, value = self._check(context)
            in_worker_until = time.monotonic() + min(self.defer_after_s, _seconds(self.timeout))
            while state != READY and time.monotonic() + poke_s <= in_worker_until:
                time.sleep(poke_s)  # the poke interval, within defer_after_s
                state, value = self._check(context)
            if state == READY:
                return value
            timeout_s = _seconds(self.timeout)
            self.defer(
                trigger=CheckTrigger(self.check_path, self.check_kwargs(context),
                                     poke_s, timeout_s, self.what,
                                     deadline=started + timeout_s),
                method_name="execute_complete",
                timeout=timedelta(seconds=timeout_s + 60),
            )
        try:
            return super().execute(context)
        except AirflowSensorTimeout:
            raise AirflowSensorTimeout(timeout_message(
                self.what, _seconds(self.timeout), self._last_message)) from None

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        event = event or {"status": FAILED, "message": "trigger sent no event"}
        self.log.info("%s: %s", self.what, event["message"])
        self.on_value(context, event["status"], event["message"], event.get("value"))
        if event["status"] == TIMEOUT:
            raise AirflowSensorTimeout(event["message"])
        if event["status"] != READY:
            raise AirflowFailException(f"{self.what} failed: {event['message']}")
        return event.get("value")


def _seconds(value: timedelta | float) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
