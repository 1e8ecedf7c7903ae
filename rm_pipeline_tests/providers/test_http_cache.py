"""The on-disk response cache: what it keeps, for how long, how much, and from how many writers."""

from __future__ import annotations

import json
import logging
import multiprocessing
from datetime import timedelta
from pathlib import Path

import pytest

from rm_pipeline.providers.http_cache import ResponseCache, request_key
from rm_pipeline_tests.providers.yahoo_fake import http_response

CHART = "https://query2.finance.yahoo.com/v8/finance/chart/AAPL"
RANGE = {"period1": 1709269200, "period2": 1709960400, "interval": "1d"}


class Clock:
    """Wall-clock seconds that move only when the test moves them."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def cache_in(directory: Path, clock: Clock | None = None, max_bytes: int = 10**6) -> ResponseCache:
    return ResponseCache(directory, timedelta(minutes=10), max_bytes, clock or Clock())


def chart(n: int) -> dict[str, object]:
    return {"chart": {"result": [{"n": n}], "error": None}}


def test_a_stored_answer_is_served_to_the_same_question(tmp_path: Path) -> None:
    cache_in(tmp_path).store("GET", CHART, RANGE, http_response(CHART, 200, chart(1)))

    answer = cache_in(tmp_path).lookup("GET", CHART, dict(reversed(RANGE.items())))

    assert answer is not None
    assert (answer.status_code, answer.url, answer.json()) == (200, CHART, chart(1))
    assert cache_in(tmp_path).lookup("GET", CHART, RANGE | {"period1": 0}) is None
    assert cache_in(tmp_path).lookup("GET", CHART.replace("AAPL", "MSFT"), RANGE) is None


def test_the_crumb_is_not_part_of_the_question() -> None:
    with_crumb = request_key("GET", CHART, RANGE | {"crumb": "abc"})
    in_url = request_key("GET", f"{CHART}?crumb=xyz", RANGE)

    assert with_crumb == in_url == request_key("GET", CHART, RANGE)
    assert "crumb" not in with_crumb
    assert request_key("POST", CHART, RANGE) != request_key("GET", CHART, RANGE)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (429, {"finance": {"error": {"code": "Too Many Requests"}}}),
        (404, {"chart": {"result": None, "error": {"code": "Not Found"}}}),
        (500, {"error": "boom"}),
        (200, "<html>Will be right back</html>"),
    ],
)
def test_failures_are_not_kept(tmp_path: Path, status: int, body: object) -> None:
    cache = cache_in(tmp_path)

    cache.store("GET", CHART, RANGE, http_response(CHART, status, body))

    assert cache.lookup("GET", CHART, RANGE) is None


def test_an_answer_expires_after_the_ttl(tmp_path: Path) -> None:
    clock = Clock()
    cache = cache_in(tmp_path, clock)
    cache.store("GET", CHART, RANGE, http_response(CHART, 200, chart(1)))

    clock.now += 10 * 60 - 1
    assert cache.lookup("GET", CHART, RANGE) is not None
    clock.now += 2
    assert cache.lookup("GET", CHART, RANGE) is None


def test_the_oldest_answers_go_when_the_bound_is_reached(tmp_path: Path) -> None:
    clock = Clock()
    size = len(json.dumps(chart(1)))
    cache = cache_in(tmp_path, clock, max_bytes=int(2.5 * size))
    for n in range(3):
        clock.now += 1
        cache.store("GET", CHART, {"n": n}, http_response(CHART, 200, chart(n)))

    kept = [cache.lookup("GET", CHART, {"n": n}) is not None for n in range(3)]

    assert kept == [False, True, True]


def test_an_unusable_cache_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    occupied = tmp_path / "not-a-directory"
    occupied.write_text("")
    cache = cache_in(occupied)

    with caplog.at_level(logging.WARNING):
        cache.store("GET", CHART, RANGE, http_response(CHART, 200, chart(1)))
        assert cache.lookup("GET", CHART, RANGE) is None

    assert "response cache" in caplog.text and str(occupied) in caplog.text


def store_many(directory: Path, first: int, count: int) -> int:
    """Store `count` answers and read each back; how many were found."""
    cache = ResponseCache(directory, timedelta(hours=1), 10**8)
    found = 0
    for n in range(first, first + count):
        cache.store("GET", CHART, {"n": n}, http_response(CHART, 200, chart(n)))
        found += cache.lookup("GET", CHART, {"n": n}) is not None
    return found


def test_several_processes_write_at_once(tmp_path: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        found = pool.starmap(store_many, [(tmp_path, first, 40) for first in (0, 40, 80)])

    assert found == [40, 40, 40]
    cache = ResponseCache(tmp_path, timedelta(hours=1), 10**8)
    assert all(cache.lookup("GET", CHART, {"n": n}) for n in range(120))
