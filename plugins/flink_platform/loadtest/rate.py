"""A thread-safe token-bucket rate limiter that holds a target rate over time.

Tokens refill continuously at ``rate`` per second up to ``burst_s`` seconds' worth.
``acquire(n)`` takes ``n`` tokens, going into debt when short, and sleeps until the debt
is repaid; so the long-run rate is exact, short bursts stay within the bucket, and a
caller that falls behind (a slow sink) does not get an unbounded catch-up burst.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Hold ``rate`` events per second; ``set_rate`` changes it (ramp steps)."""

    def __init__(self, rate: float, burst_s: float = 0.2,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._burst_s = burst_s
        self._rate = float(rate)
        self._tokens = self.capacity  # start full: the first chunk goes out at once
        self._last = clock()
        self.waited_s = 0.0

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def capacity(self) -> float:
        return max(1.0, self._rate * self._burst_s)

    def set_rate(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        with self._lock:
            self._refill()
            self._rate = float(rate)
            self._tokens = min(self._tokens, self.capacity)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self._rate)
        self._last = now

    def acquire(self, n: int = 1) -> float:
        """Take ``n`` tokens, sleeping as long as needed; return the seconds waited."""
        with self._lock:
            self._refill()
            self._tokens -= n
            wait = -self._tokens / self._rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
            self.waited_s += wait
        return wait
