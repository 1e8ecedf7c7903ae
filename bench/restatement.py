"""What keeping superseded rows costs: a restatement of 15 years of one security, and a reload
that changes nothing.

In one run, against one scratch database, each round stores 15 years of one NYSE security's bars
on the old scale, then loads its last week from a source that has restated the whole history 4:1
without reporting the split (the loader re-fetches the history, infers the split and replaces
every earlier close), twice:

1. with the superseded-row triggers disabled, the baseline: the same replacement, nothing kept;
2. with them, as the warehouse runs: every replaced close kept in `price_history_superseded`.

Then it loads the whole 15 years again from the same source, which changes nothing, and counts
what that wrote (it must write nothing: no bar updated, no superseded row).

After a warm-up, the two alternate in order from round to round; medians over the rounds are
printed, with the ratio of 2 to 1. Target: the trace costs at most
1.5x the bare replacement; the unchanged reload writes 0 rows.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from statistics import median

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import measured, scratch_database

from rm_pipeline.core.calendars import sessions
from rm_pipeline.db.engine import build_engine
from rm_pipeline.ingest.prices import PriceLoadReport, ingest_prices
from rm_pipeline.providers.base import ProviderResult, TickerOutcome, TickerStatus
from rm_pipeline.providers.validation import bars_result

TICKER = "BENCH"
END = date(2025, 12, 31)
START = date(2011, 1, 3)
SPLIT_SESSION = -5
"""The split is effective on the fifth-last session: the restating load is the last week."""
TRACE_TARGET_RATIO = 1.5
TRIGGERS = ("price_history_updated_kept", "price_history_deleted_kept")


class RestatingSource:
    """One security's closes (a random walk around 100, split 4:1 near the end); unadjusted
    before the split until `restated`, split-adjusted everywhere after."""

    name = "bench"

    def __init__(self) -> None:
        self.days = pd.DatetimeIndex(sessions("XNYS", START, END))
        walk = 100 * np.exp(np.cumsum(np.random.default_rng(7).normal(0, 0.01, len(self.days))))
        self.split_day = self.days[SPLIT_SESSION]
        self.raw = np.where(self.days >= self.split_day, walk / 4, walk).round(4)
        self.restated = False

    def daily_bars(self, tickers: Sequence[str], start: date, end: date) -> ProviderResult:
        chosen = (self.days >= pd.Timestamp(start)) & (self.days <= pd.Timestamp(end))
        closes = self.raw[chosen]
        if self.restated:
            closes = np.where(self.days[chosen] < self.split_day, closes / 4, closes).round(4)
        frame = pd.DataFrame(
            {"ticker": TICKER, "date": self.days[chosen], "open": closes, "high": closes,
             "low": closes, "close": closes, "adj_close": closes, "volume": 1_000_000}
        )  # fmt: skip
        outcomes = [TickerOutcome(TICKER, TickerStatus.OK)]
        return bars_result(frame, outcomes, start, end, today=END + timedelta(days=1))

    def corporate_actions(self, tickers: Sequence[str], start: date, end: date) -> ProviderResult:
        frame = pd.DataFrame(columns=["ticker", "date", "action", "value"])
        frame["date"] = pd.to_datetime(frame["date"])
        return ProviderResult(frame, [TickerOutcome(TICKER, TickerStatus.OK)])


def reset(engine: Engine, source: RestatingSource) -> None:
    """The history on the old scale again, nothing superseded, no split."""
    with engine.begin() as conn:
        conn.execute(
            text("TRUNCATE price_history, price_history_superseded, corporate_actions, quarantine")
        )
    source.restated = False
    load(engine, source, START, END - timedelta(days=10))
    source.restated = True


def load(engine: Engine, source: RestatingSource, start: date, end: date) -> PriceLoadReport:
    return ingest_prices(engine, source, start, end, batch_size=1, progress=lambda _: None)


def set_triggers(engine: Engine, enabled: bool) -> None:
    with engine.begin() as conn:
        for trigger in TRIGGERS:
            state = "ENABLE" if enabled else "DISABLE"
            conn.execute(text(f"ALTER TABLE price_history {state} TRIGGER {trigger}"))


def restate(engine: Engine, source: RestatingSource, traced: bool) -> tuple[float, int]:
    """Seconds of the restating load, and how many closes it replaced."""
    reset(engine, source)
    set_triggers(engine, traced)
    try:
        with measured() as timing:
            report = load(engine, source, END - timedelta(days=9), END)
    finally:
        set_triggers(engine, True)
    if report.refetched != [TICKER] or len(report.inferred) != 1:
        sys.exit(f"the restatement was not replaced: {report.failed}")
    return timing.seconds, report.prices.updated


def superseded(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM price_history_superseded")).scalar_one()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds of each measurement")
    rounds = parser.parse_args().rounds
    logging.getLogger("rm_pipeline").setLevel(logging.ERROR)  # each round infers the split
    source = RestatingSource()
    with scratch_database() as url:
        engine = build_engine(url)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO securities (ticker, name, security_type, is_active) VALUES (:t, :t, 'equity', true)"
                ),
                {"t": TICKER},
            )
        timings: dict[bool, list[float]] = {False: [], True: []}
        replaced = 0
        restate(engine, source, traced=True)  # warm-up: caches, plans, the calendar
        for round_number in range(rounds):
            for with_trace in (False, True) if round_number % 2 else (True, False):
                seconds, replaced = restate(engine, source, traced=with_trace)
                timings[with_trace].append(seconds)
        bare, traced = timings[False], timings[True]
        restate(engine, source, traced=True)
        kept = superseded(engine)
        with measured() as reload_timing:
            again = load(engine, source, START, END)
        written = again.prices.updated + again.prices.inserted + superseded(engine) - kept
        engine.dispose()
    ratio = median(traced) / median(bare)
    print(
        f"restatement of {len(source.days):,} sessions ({replaced:,} closes replaced), {rounds} rounds:"
    )
    print(f"  bare replacement (baseline): {median(bare):.3f} s")
    print(f"  with superseded rows kept:   {median(traced):.3f} s  ({kept:,} rows kept)")
    print(f"  ratio: {ratio:.2f}x (target <= {TRACE_TARGET_RATIO}x)")
    print(
        f"unchanged reload of the 15 years: {reload_timing.seconds:.3f} s, "
        f"{again.prices.unchanged:,} bars unchanged, {written} rows written (target 0)"
    )
    if ratio > TRACE_TARGET_RATIO or written:
        sys.exit("target missed")


if __name__ == "__main__":
    main()
