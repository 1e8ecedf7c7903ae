"""yfinance's own price repair (`repair=True`) against none (`repair=False`, the provider's), and
against the warehouse's `repair_bars`, offline.

yfinance's request and parsing code runs against the tests' fake Yahoo (`FakeYahoo`), which here
also answers the finer-grained (hourly) requests yfinance's repair makes, with the true prices.
One ticker, two years of daily bars ending a few days ago (yfinance re-fetches hourly bars only
for the last 730 days, so the dates follow today), in these cases:

1. clean: SHEL.L (quoted in pence) with nothing wrong;
2. block: nine sessions of it quoted in pounds, 1/100 of the prices around them;
3. one bar: a single session of it quoted in pounds;
4. split: 7203.T with a 5-for-1 split whose drop comes a session before its reported date and
   the history before the drop unadjusted (about 20,700 yen where about 4,140 is right).

Each case is fetched as the provider fetches (`Ticker.history(start, end, interval="1d",
auto_adjust=False, actions=True, keepna=False)`), with repair=False (the baseline) and
repair=True, the ticker's timezone already in yfinance's cache (its steady state: the cache is on
disk; here in a temporary directory, learned by an untimed first fetch). Printed per case: the
requests to Yahoo's data endpoints and their ratio to the baseline's, the wall time
(median of --rounds) and its ratio, the bars whose prices or volume differ from the baseline's,
and the bars whose close is more than 0.5 % off the truth: as sent, after yfinance's repair, and
after `repair_bars` on the baseline's bars (which costs no request).

yfinance's repair imports scipy and scikit-learn, which the project does not install: without
them every `repair=True` fetch raises ModuleNotFoundError, and the bench says so. To measure the
repair itself, install them elsewhere and put them on the path:
`pip install --target DIR scipy scikit-learn` then `PYTHONPATH=DIR .venv/bin/python bench/...`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import yfinance as yf
from curl_cffi import requests as curl_requests
from yfinance.data import YfData

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' fake Yahoo

from rm_pipeline.ingest.repair import repair_bars
from rm_pipeline.providers.calendars import ticker_sessions
from rm_pipeline.providers.deprecations import silence_pandas4_warnings
from rm_pipeline.providers.yfinance_provider import actions_from_history, bars_from_history
from rm_pipeline_tests.providers.yahoo_fake import (
    TOKYO,
    Bar,
    FakeYahoo,
    Market,
    chart_payload,
    http_response,
)

LONDON = Market("Europe/London", "LSE", "GBp", clock(8, 0), "GMT")
FIRST_HOUR = {"SHEL.L": clock(8, 0), "7203.T": clock(9, 0)}
DAILY_MOVE = {"SHEL.L": 0.013, "7203.T": 0.016}
"""The standard deviation of a session's log return, about each stock's."""
HOURS = 7
OFF_TRUTH = 0.005
VOLUME = 10_000_000


@dataclass(frozen=True)
class Case:
    name: str
    symbol: str
    market: Market
    truth: np.ndarray
    """The right closes, one per session."""
    sent: np.ndarray
    """The closes Yahoo sends."""
    volumes: np.ndarray
    days: list[date]
    splits: dict[date, tuple[int, int]] = field(default_factory=dict)


@dataclass
class IntradayYahoo(FakeYahoo):
    """The fake Yahoo, also answering hourly requests: the true prices, seven bars a session."""

    cases: dict[str, Case] = field(default_factory=dict)

    def request(self, method: str, url: str, params: dict[str, Any] | None = None, **kw: Any):
        interval = (params or {}).get("interval", "1d")
        symbol = url.rsplit("/", 1)[-1]
        if interval == "1d" or symbol not in self.cases:
            return super().request(method, url, params=params, **kw)
        self.requests.append((url, dict(params or {})))
        return http_response(url, 200, hourly_payload(self.cases[symbol], params or {}))


class FakeYahooSession(curl_requests.Session):
    """A curl_cffi session the fake Yahoo answers, handed to yfinance as a user's session is."""

    def __init__(self, yahoo: FakeYahoo) -> None:
        super().__init__()
        self._yahoo = yahoo

    def request(self, method: Any, url: str, *args: Any, **kwargs: Any) -> Any:
        return self._yahoo.request(method, url, *args, **kwargs)


def hourly_payload(case: Case, params: dict[str, Any]) -> dict[str, Any]:
    """A v8 chart answer of hourly bars at the true prices over [period1, period2)."""
    zone = ZoneInfo(case.market.timezone)
    low, high = int(params.get("period1", 0)), int(params.get("period2", 2**40))
    stamps, closes, volumes = [], [], []
    for day, close in zip(case.days, case.truth, strict=True):
        opened = datetime.combine(day, FIRST_HOUR[case.symbol], zone)
        for hour in range(HOURS):
            stamp = int((opened + timedelta(hours=hour)).timestamp())
            if low <= stamp < high:
                stamps.append(stamp)
                closes.append(round(close * (0.998 + 0.002 * (hour + 1) / HOURS), 2))
                volumes.append(VOLUME // HOURS)
    payload = chart_payload(case.symbol, case.market, [])
    result = payload["chart"]["result"][0]
    result["meta"] |= {"dataGranularity": "1h", "regularMarketPrice": round(case.sent[-1], 2)}
    if stamps:
        quote = {
            "open": closes,
            "high": [round(c * 1.002, 2) for c in closes],
            "low": [round(c * 0.998, 2) for c in closes],
            "close": closes,
            "volume": volumes,
        }
        result["timestamp"] = stamps
        result["indicators"] = {"quote": [quote]}
    return payload


def make_cases(end: date) -> list[Case]:
    start = end - timedelta(days=730)
    london = list(ticker_sessions("SHEL.L", start, end))
    tokyo = list(ticker_sessions("7203.T", start, end))
    rng = np.random.default_rng(20240304)
    pence = 2700 * np.exp(np.cumsum(rng.normal(0, DAILY_MOVE["SHEL.L"], len(london))))
    block = slice(len(london) - 70, len(london) - 61)
    in_pounds = pence.copy()
    in_pounds[block] /= 100
    one_bar = pence.copy()
    one_bar[len(london) - 40] /= 100
    volumes = np.full(len(london), VOLUME)
    some_zero = volumes.copy()
    some_zero[[len(london) - 300, len(london) - 150, len(london) - 20]] = 0
    yen = 4140 * np.exp(np.cumsum(rng.normal(0, DAILY_MOVE["7203.T"], len(tokyo))))
    split = len(tokyo) - 120
    unadjusted = yen.copy()
    unadjusted[: split - 1] *= 5  # the drop a session before the reported split
    shares = np.full(len(tokyo), VOLUME)
    shares[: split - 1] //= 5
    return [
        Case("clean", "SHEL.L", LONDON, pence, pence, volumes, london),
        Case("block of 9 in pounds", "SHEL.L", LONDON, pence, in_pounds, volumes, london),
        Case("one bar in pounds", "SHEL.L", LONDON, pence, one_bar, volumes, london),
        Case("3 bars without volume", "SHEL.L", LONDON, pence, pence, some_zero, london),
        Case(
            "5:1 split, drop a day early",
            "7203.T",
            TOKYO,
            yen,
            unadjusted,
            shares,
            tokyo,
            {tokyo[split]: (5, 1)},
        ),
    ]


def chart(case: Case) -> dict[str, Any]:
    bars = [
        Bar(d, round(c * 0.998, 2), round(c * 1.006, 2), round(c * 0.992, 2), round(c, 2), int(v))
        for d, c, v in zip(case.days, case.sent, case.volumes, strict=True)
    ]
    return chart_payload(case.symbol, case.market, bars, splits=case.splits)


@dataclass(frozen=True)
class Fetch:
    history: pd.DataFrame | None
    error: str | None
    requests: int
    seconds: float


def fetch(yahoo: IntradayYahoo, case: Case, repair: bool, rounds: int) -> Fetch:
    """The case's history as the provider asks for it, `rounds` times; yfinance's own response
    memo is emptied before each, so every round makes its requests."""
    first, last = case.days[0], case.days[-1]
    results, times = [], []
    for _ in range(rounds):
        YfData.cache_get.cache_clear()
        yahoo.requests.clear()
        began = time.perf_counter()
        try:
            history = yf.Ticker(case.symbol, session=FakeYahooSession(yahoo)).history(
                start=first,
                end=last + timedelta(days=1),
                interval="1d",
                auto_adjust=False,
                actions=True,
                repair=repair,
                keepna=False,
                timeout=30,
            )
            results.append(Fetch(history, None, len(yahoo.data_requests()), 0.0))
        except Exception as error:  # the outcome to report, whatever it is
            reason = f"{type(error).__name__}: {error}"
            results.append(Fetch(None, reason, len(yahoo.data_requests()), 0.0))
        times.append(time.perf_counter() - began)
    return Fetch(results[-1].history, results[-1].error, results[-1].requests, median(times))


def bars_of(case: Case, history: pd.DataFrame) -> pd.DataFrame:
    return bars_from_history(case.symbol, history).reset_index(drop=True)


def changed(baseline: pd.DataFrame, other: pd.DataFrame) -> int:
    """Bars whose prices or volume differ (beyond float noise) between two fetches."""
    columns = ["open", "high", "low", "close", "volume"]
    a = baseline[columns].to_numpy(dtype=float)
    b = other[columns].to_numpy(dtype=float)
    if a.shape != b.shape:
        return -1
    return int((~np.isclose(a, b, rtol=1e-6)).any(axis=1).sum())


def off_truth(case: Case, bars: pd.DataFrame) -> int:
    truth = pd.Series(case.truth, index=pd.to_datetime(case.days))
    closes = bars.set_index("date")["close"]
    return int((np.abs(closes / truth.reindex(closes.index) - 1) > OFF_TRUTH).sum())


def ours(case: Case, history: pd.DataFrame, rounds: int) -> tuple[pd.DataFrame, float]:
    """`repair_bars` on the bars and splits of a history fetched without yfinance's repair, and
    the median seconds it took over `rounds`."""
    bars = bars_of(case, history)
    actions = actions_from_history(case.symbol, history)
    splits = actions[actions["action"] == "split"]
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        repaired = repair_bars(bars, {}, splits).frame
        times.append(time.perf_counter() - began)
    return repaired, median(times)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="timed fetches each (default 3)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    silence_pandas4_warnings("yfinance")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    logging.getLogger("yfinance").setLevel(logging.CRITICAL)
    yf.config.debug.hide_exceptions = False  # as the provider sets it
    with tempfile.TemporaryDirectory() as cache:
        yf.set_tz_cache_location(cache)  # yfinance's timezones, not the user's cache directory
        run(args.rounds)


def run(rounds: int) -> None:
    yahoo = IntradayYahoo()
    end = date.today() - timedelta(days=3)
    header = (
        f"{'case':<28} {'repair':<6} {'requests':>8} {'/ base':>7} {'seconds':>8} {'/ base':>7} "
        f"{'changed':>8} {'off truth':>9}"
    )
    print(f"one ticker, daily bars {end - timedelta(days=730)} to {end}; {rounds} rounds")
    print(header)
    for case in make_cases(end):
        yahoo.charts[case.symbol] = chart(case)
        yahoo.cases[case.symbol] = case
        fetch(yahoo, case, False, 1)  # teaches yfinance the timezone
        base = fetch(yahoo, case, False, rounds)
        assert base.history is not None, base.error
        sent = bars_of(case, base.history)
        row = f"{case.name:<28} {'False':<6} {base.requests:>8} {1:>6.1f}x {base.seconds:>8.3f}"
        print(f"{row} {1:>6.1f}x {0:>8} {off_truth(case, sent):>9}")
        repaired = fetch(yahoo, case, True, rounds)
        row = f"{'':<28} {'True':<6} {repaired.requests:>8} "
        row += f"{repaired.requests / base.requests:>6.1f}x {repaired.seconds:>8.3f} "
        row += f"{repaired.seconds / base.seconds:>6.1f}x"
        if repaired.history is None:
            print(f"{row} failed: {repaired.error}")
        else:
            bars = bars_of(case, repaired.history)
            print(f"{row} {changed(sent, bars):>8} {off_truth(case, bars):>9}")
        mended, seconds = ours(case, base.history, rounds)
        row = f"{'':<28} {'ours':<6} {base.requests:>8} {1:>6.1f}x {base.seconds + seconds:>8.3f} "
        row += f"{(base.seconds + seconds) / base.seconds:>6.1f}x"
        print(f"{row} {changed(sent, mended):>8} {off_truth(case, mended):>9}")


if __name__ == "__main__":
    main()
