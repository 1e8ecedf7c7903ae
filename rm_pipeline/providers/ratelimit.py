"""A process-wide cap on request rate, and retries with exponential backoff and jitter.

`process_limiters` holds the process's limiters, one per rate: every provider instance
configured with the same rate waits on the same `RateLimiter`, whichever thread or instance
makes the request. (Each process has its own: a multiprocess executor's steps do not share one.)
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class RateLimiter:
    """Spaces calls evenly so that at most `per_second` start in any second, across threads.

    A rate of zero or less means no limit.
    """

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = 1.0 / per_second if per_second > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = float("-inf")

    def acquire(self) -> None:
        """Block until this caller's slot; slots are handed out in arrival order."""
        if self._interval == 0:
            return
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            self._sleep(slot - now)


class LimiterRegistry:
    """One `RateLimiter` per rate, created on first use; safe to call from any thread."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._limiters: dict[float, RateLimiter] = {}

    def limiter(self, per_second: float) -> RateLimiter:
        """The one limiter of this rate (every rate of zero or less is the same: no limit)."""
        rate = max(per_second, 0.0)
        with self._lock:
            if rate not in self._limiters:
                self._limiters[rate] = RateLimiter(rate, self._clock, self._sleep)
            return self._limiters[rate]


process_limiters = LimiterRegistry()
"""The process's limiters. Callers reach it through the module (`ratelimit.process_limiters`)
when they need a limiter, so that replacing it (with a test clock) reaches them all."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry: delays double from `base_delay` up to `max_delay`."""

    attempts: int = 5
    base_delay: float = 2.0
    max_delay: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The pause after failed attempt number `attempt` (1-based): half fixed, half random,
        so that threads that failed together do not retry together."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def with_retries(
    call: Callable[[], T],
    retry_on: type[BaseException] | tuple[type[BaseException], ...],
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Run `call`, retrying on `retry_on` per `policy`; the last failure propagates."""
    rng = rng or random.Random()
    for attempt in range(1, policy.attempts):
        try:
            return call()
        except retry_on:
            sleep(policy.delay(attempt, rng))
    return call()
