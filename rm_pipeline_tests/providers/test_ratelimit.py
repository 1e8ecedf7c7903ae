"""The request-rate cap and the retry policy."""

from __future__ import annotations

import random
import threading

import pytest

from rm_pipeline.providers.ratelimit import (
    LimiterRegistry,
    RateLimiter,
    RetryPolicy,
    with_retries,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.sleeps.append(seconds)


def test_calls_are_spaced_evenly() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_second=4, clock=clock, sleep=clock.sleep)

    for _ in range(3):
        limiter.acquire()
    clock.now += 10  # a quiet spell: the next call goes straight through
    limiter.acquire()

    assert clock.sleeps == [0.25, 0.5]


def test_threads_get_distinct_slots() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_second=10, clock=clock, sleep=clock.sleep)
    threads = [threading.Thread(target=limiter.acquire) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(round(s, 6) for s in clock.sleeps) == [round(0.1 * i, 6) for i in range(1, 20)]


def test_a_zero_rate_means_no_limit() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_second=0, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        limiter.acquire()
    assert clock.sleeps == []


def test_the_registry_has_one_limiter_per_rate_across_threads() -> None:
    clock = FakeClock()
    registry = LimiterRegistry(clock, clock.sleep)
    found: list[RateLimiter] = []
    threads = [threading.Thread(target=lambda: found.append(registry.limiter(2))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({id(limiter) for limiter in found}) == 1
    assert registry.limiter(2.0) is found[0]
    assert registry.limiter(3) is not found[0]
    assert registry.limiter(0) is registry.limiter(-1)
    found[0].acquire()
    registry.limiter(2).acquire()
    assert clock.sleeps == [0.5]  # the registry's clock and sleep


def test_delays_double_with_jitter_up_to_the_cap() -> None:
    policy = RetryPolicy(attempts=8, base_delay=1.0, max_delay=10.0)
    rng = random.Random(1)

    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (7, 10.0)]:
        delays = {policy.delay(attempt, rng) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered


class Flaky(Exception):
    pass


def test_retries_until_success() -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def call() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Flaky
        return "done"

    assert (
        with_retries(call, Flaky, RetryPolicy(attempts=5, base_delay=1.0), sleeps.append) == "done"
    )
    assert len(calls) == 3 and len(sleeps) == 2


def test_gives_up_after_the_last_attempt() -> None:
    calls: list[int] = []

    def call() -> None:
        calls.append(1)
        raise Flaky

    with pytest.raises(Flaky):
        with_retries(call, Flaky, RetryPolicy(attempts=4, base_delay=0.0), lambda s: None)
    assert len(calls) == 4


def test_other_errors_are_not_retried() -> None:
    calls: list[int] = []

    def call() -> None:
        calls.append(1)
        raise KeyError("no")

    with pytest.raises(KeyError):
        with_retries(call, Flaky, RetryPolicy(attempts=4, base_delay=0.0), lambda s: None)
    assert len(calls) == 1
