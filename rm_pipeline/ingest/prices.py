"""Daily price history and corporate actions, loaded one batch of tickers at a time.

Each batch is one provider call for the whole date range and one transaction: its bars, its
corporate actions and any split re-fetch land together or not at all. A failed ticker is reported
and does not stop the batch; a failed batch leaves the warehouse as it was before that batch.

Splits: stored prices are split-adjusted as of the day they were fetched. When the provider reports
a split the warehouse has not stored yet, and the security has stored prices dated before that split
outside the range being loaded, those prices are in the old scale: the security's whole history is
re-fetched and replaced in the same transaction, so stored prices never mix scales. Stored history
is replaced only by a re-fetch that covers all of it; otherwise nothing of that security is
written (neither the split nor the new bars), it is reported as failed, and the next load tries
again.

Counts are kept per date (`LoadResult.groups`), so each partition of a range run can report its
own.

A load is planned (`plan_price_batches`: the active securities cut into batches) and each batch is
fetched (`fetch_price_batch`) and written in its own transaction, with a report of its own that
`PriceLoadReport.add` merges. `load_price_batches` fetches the next batch while writing this one
(`BatchPipeline`); Dagster's `price_history` deals the batches among a few steps.

Providers speak of tickers, the warehouse of security ids: a ticker names one active security
(listings on other exchanges carry their exchange suffix, `SHEL.L`, `7203.T`).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import Connection, Engine, text

from rm_pipeline.db.loader import LoadResult, UpsertSpec, upsert_frame
from rm_pipeline.ingest.quarantine import accepted_jumps, quarantine, resolve_jumps
from rm_pipeline.ingest.scale import restated_tickers, unexplained_jumps
from rm_pipeline.ingest.sessions import store_sessions
from rm_pipeline.providers.base import (
    MarketDataProvider,
    ProviderResult,
    TickerOutcome,
    TickerStatus,
)
from rm_pipeline.providers.validation import RejectReason, raw_values

log = logging.getLogger(__name__)

PRICES = UpsertSpec(
    table="price_history",
    columns=("security_id", "date", "open", "high", "low", "close", "volume", "data_source"),
    key_columns=("security_id", "date"),
)
CORPORATE_ACTIONS = UpsertSpec(
    table="corporate_actions",
    columns=("security_id", "date", "action", "value", "data_source"),
    key_columns=("security_id", "date", "action"),
)

ACTIVE_SECURITIES = text(
    "SELECT ticker, CAST(id AS text) FROM securities WHERE is_active ORDER BY ticker"
)
STORED_SPLITS = text(
    "SELECT CAST(security_id AS text), date FROM corporate_actions "
    "WHERE action = 'split' AND security_id = ANY(CAST(:ids AS uuid[]))"
)
STORED_RANGE = text(
    "SELECT min(date), max(date) FROM price_history WHERE security_id = CAST(:id AS uuid)"
)
HAS_STALE_PRICES = text(
    "SELECT EXISTS (SELECT 1 FROM price_history WHERE security_id = CAST(:id AS uuid) "
    "AND date < :split_date AND date < :start)"
)
STORED_CLOSES = text(
    """
    SELECT s.ticker, p.date, p.close FROM price_history p JOIN securities s ON s.id = p.security_id
    WHERE p.security_id = ANY(CAST(:ids AS uuid[])) AND p.date BETWEEN :start AND :end
    UNION ALL
    SELECT s.ticker, last.date, last.close FROM securities s CROSS JOIN LATERAL (
        SELECT date, close FROM price_history
        WHERE security_id = s.id AND date < :start ORDER BY date DESC LIMIT 1) last
    WHERE s.id = ANY(CAST(:ids AS uuid[]))
    """
)
ANCHOR_DAYS = 10
"""Calendar days before the window fetched too, only to compare with stored closes: a source
that restated them has split-adjusted history the warehouse holds in the old scale."""
DELETE_HISTORY = text("DELETE FROM price_history WHERE security_id = CAST(:id AS uuid)")

Progress = Callable[[str], None]


@dataclass
class PriceLoadReport:
    """What one load did, for logs and asset metadata."""

    start: date
    end: date
    tickers: int = 0
    prices: LoadResult = field(default_factory=LoadResult)
    actions: LoadResult = field(default_factory=LoadResult)
    rejected: list[pd.DataFrame] = field(default_factory=list)
    failed: list[TickerOutcome] = field(default_factory=list)
    refetched: list[str] = field(default_factory=list)
    quarantined: LoadResult = field(default_factory=LoadResult)
    run_id: str | None = None

    def add(self, batch: PriceLoadReport) -> None:
        """Count one batch's report (of the same range) into this load's."""
        self.tickers += batch.tickers
        self.prices += batch.prices
        self.actions += batch.actions
        self.rejected.extend(batch.rejected)
        self.failed.extend(batch.failed)
        self.refetched.extend(batch.refetched)
        self.quarantined += batch.quarantined

    @property
    def rejected_rows(self) -> pd.DataFrame:
        """Rows set aside that are dated in the load's range (or undated); those of the days
        before it, fetched only for comparison, are quarantined but not reported again here."""
        frames = [frame for frame in self.rejected if not frame.empty]
        if not frames:
            return pd.DataFrame(columns=["ticker", "date", "reason", "raw"])
        rows = pd.concat(frames, ignore_index=True)
        dates = pd.to_datetime(rows["date"])
        return rows[dates.isna() | (dates >= pd.Timestamp(self.start))].reset_index(drop=True)


def active_securities(conn: Connection) -> dict[str, str]:
    """Ticker to security id for every active security."""
    return {ticker: security_id for ticker, security_id in conn.execute(ACTIVE_SECURITIES)}


def batches(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


BATCH_REFERENCE_DAYS = 731
"""The range a full batch of tickers is sized for (two years): a longer range gets proportionally
fewer tickers per batch, so a batch holds about as many bars and memory does not grow with the
years loaded."""


def tickers_per_batch(batch_size: int, start: date, end: date) -> int:
    """`batch_size` tickers for a range up to BATCH_REFERENCE_DAYS long, fewer for a longer one
    (at least one)."""
    days = (end - start).days + 1
    return max(1, min(batch_size, batch_size * BATCH_REFERENCE_DAYS // days))


@dataclass(frozen=True)
class PriceBatch:
    """One batch of a planned load: its number among `of` batches and its securities (ticker to
    security id, in ticker order)."""

    number: int
    of: int
    ids: dict[str, str]

    def describe(self, report: PriceLoadReport) -> str:
        """One progress line: the batch, its range and what its load did."""
        return (
            f"batch {self.number}/{self.of}: {len(self.ids)} tickers, {report.start} to "
            f"{report.end}: {report.prices.inserted} inserted, {report.prices.updated} updated, "
            f"{report.prices.unchanged} unchanged, {len(report.failed)} failed"
        )


def plan_price_batches(engine: Engine, start: date, end: date, batch_size: int) -> list[PriceBatch]:
    """Every active security, in ticker order, cut into batches of at most `batch_size` tickers
    (fewer over long ranges: `tickers_per_batch`); none when no security is active."""
    with engine.connect() as conn:
        ids = active_securities(conn)
    chunks = list(batches(sorted(ids), tickers_per_batch(batch_size, start, end)))
    return [
        PriceBatch(number, len(chunks), {ticker: ids[ticker] for ticker in chunk})
        for number, chunk in enumerate(chunks, start=1)
    ]


def load_price_batch(
    engine: Engine,
    provider: MarketDataProvider,
    batch: PriceBatch,
    start: date,
    end: date,
    run_id: str | None = None,
) -> PriceLoadReport:
    """Load one batch's bars and corporate actions over [start, end] in one transaction (one
    provider call for the range); its report counts only this batch."""
    return load_price_batches(engine, provider, [batch], start, end, lambda _: None, run_id)


@dataclass(frozen=True)
class FetchedBatch:
    """What the provider answered for one batch: its bars from ANCHOR_DAYS before the range
    (the days before only to compare with stored closes) and its corporate actions."""

    batch: PriceBatch
    bars: ProviderResult
    actions: ProviderResult


def fetch_price_batch(
    provider: MarketDataProvider, batch: PriceBatch, start: date, end: date
) -> FetchedBatch:
    tickers = list(batch.ids)
    bars = provider.daily_bars(tickers, start - timedelta(days=ANCHOR_DAYS), end)
    return FetchedBatch(batch, bars, provider.corporate_actions(tickers, start, end))


def share_batches(plan: Sequence[PriceBatch], shares: int) -> list[list[PriceBatch]]:
    """The batches dealt in turn among at most `shares` shares (none empty), so each holds about
    as many tickers as the others."""
    return [list(plan[first::shares]) for first in range(min(shares, len(plan)))]


def load_price_batches(
    engine: Engine,
    provider: MarketDataProvider,
    plan: Sequence[PriceBatch],
    start: date,
    end: date,
    progress: Progress = log.info,
    run_id: str | None = None,
    writers: int = 1,
) -> PriceLoadReport:
    """Load the batches, each in its own transaction, reporting each in plan order; the report
    counts them all. See `BatchPipeline` for what runs at once."""
    report = PriceLoadReport(start=start, end=end, run_id=run_id)
    with BatchPipeline(engine, provider, start, end, run_id, writers) as pipeline:
        for batch, loaded in pipeline.load(plan):
            progress(batch.describe(loaded))
            report.add(loaded)
    with engine.begin() as conn:
        store_sessions(conn, start, end)
    return report


class BatchPipeline:
    """Fetching and writing of a load's batches, side by side.

    The provider is called from one thread, one call at a time (a re-fetch after a new split
    waits its turn), at most `writers + 1` batches ahead of their writing, so memory holds a few
    batches whatever the plan's length. `writers` threads write fetched batches at once, each
    in a transaction on a connection of its own: the server writes one batch while the next is
    fetched and prepared, so on two cores the database's work and Python's overlap. A failed
    batch (its fetch or its write) stops the load: batches not started are skipped, those being
    written finish (each is whole or absent), and the first failure is raised."""

    def __init__(
        self,
        engine: Engine,
        provider: MarketDataProvider,
        start: date,
        end: date,
        run_id: str | None,
        writers: int,
    ) -> None:
        self.engine = engine
        self.provider = provider
        self.start, self.end = start, end
        self.run_id = run_id
        self.room = threading.Semaphore(writers + 1)
        self.provider_turn = threading.Lock()
        self.stopped = threading.Event()
        self.failure: BaseException | None = None
        self.fetcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="provider")
        self.writers = ThreadPoolExecutor(max_workers=writers, thread_name_prefix="writer")

    def __enter__(self) -> BatchPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.fetcher.shutdown(wait=True, cancel_futures=True)
        self.writers.shutdown(wait=True, cancel_futures=True)

    def load(self, plan: Sequence[PriceBatch]) -> Iterator[tuple[PriceBatch, PriceLoadReport]]:
        """Each batch with its report, in plan order, as they are written; a report is let go
        once yielded (each holds counts for every day of the range)."""
        written = deque(
            self.writers.submit(self._write, self.fetcher.submit(self._fetch, batch))
            for batch in plan
        )
        for batch in plan:
            try:
                report = written.popleft().result()
            except CancelledError:  # skipped after another batch failed: raise that failure
                if self.failure is None:
                    raise
                raise self.failure from None
            yield batch, report

    def _fetch(self, batch: PriceBatch) -> FetchedBatch:
        while not self.room.acquire(timeout=0.1):
            if self.stopped.is_set():
                raise CancelledError
        try:
            if self.stopped.is_set():
                raise CancelledError
            with self.provider_turn:
                return fetch_price_batch(self.provider, batch, self.start, self.end)
        except BaseException as error:
            self._stop(error)
            self.room.release()
            raise

    def _write(self, fetching: Future[FetchedBatch]) -> PriceLoadReport:
        fetched = fetching.result()
        try:
            if self.stopped.is_set():
                raise CancelledError
            report = PriceLoadReport(
                self.start, self.end, tickers=len(fetched.batch.ids), run_id=self.run_id
            )
            _store_batch(self.engine, self._history, self.provider.name, fetched, report)
            return report
        except BaseException as error:
            self._stop(error)
            raise
        finally:
            self.room.release()

    def _stop(self, error: BaseException) -> None:
        """Skip the batches not started yet, keeping the first real failure to raise."""
        if self.failure is None and not isinstance(error, CancelledError):
            self.failure = error
        self.stopped.set()

    def _history(self, ticker: str, start: date, end: date) -> ProviderResult:
        """One security's bars over [start, end], in the provider's turn."""
        with self.provider_turn:
            return self.provider.daily_bars([ticker], start, end)


def ingest_prices(
    engine: Engine,
    provider: MarketDataProvider,
    start: date,
    end: date,
    batch_size: int,
    progress: Progress = log.info,
    run_id: str | None = None,
    writers: int = 1,
) -> PriceLoadReport:
    """Load bars and corporate actions for every active security over [start, end], batch by
    batch (`plan_price_batches`, `load_price_batches`); rows set aside go to the quarantine with
    `run_id`."""
    plan = plan_price_batches(engine, start, end, batch_size)
    return load_price_batches(engine, provider, plan, start, end, progress, run_id, writers)


History = Callable[[str, date, date], ProviderResult]
"""Fetches one security's bars over a range (a re-fetch after a new split)."""


def _store_batch(
    engine: Engine, history: History, source: str, fetched: FetchedBatch, report: PriceLoadReport
) -> None:
    """Write one fetched batch in one transaction: re-fetched histories, quarantined rows,
    corporate actions and the range's bars."""
    ids = fetched.batch.ids
    batch = list(ids)
    bars, actions = fetched.bars, fetched.actions
    anchor = report.start - timedelta(days=ANCHOR_DAYS)
    report.failed.extend(bars.failed())
    with engine.begin() as conn:
        stored = _stored_closes(conn, [ids[t] for t in batch], anchor, report.end)
        restated = restated_tickers(bars.frame, stored)
        refetch = sorted(
            set(restated) | set(_tickers_needing_refetch(conn, actions.frame, ids, report.start))
        )
        incomplete = []
        for ticker in refetch:
            replaced = _replace_history(conn, history, source, ticker, ids[ticker], report)
            if replaced is None:
                incomplete.append(ticker)
            else:
                report.prices += replaced
                report.refetched.append(ticker)
                resolve_jumps(conn, ticker)
        in_window = bars.frame["date"] >= pd.Timestamp(report.start)
        window = bars.frame[in_window & ~bars.frame["ticker"].isin(refetch)]
        window, jumped = _set_aside_jumps(conn, window, stored, actions.frame, report)
        rejected = pd.concat([bars.rejected, jumped], ignore_index=True)
        report.rejected.append(rejected)
        report.quarantined += quarantine(conn, rejected, "price_history", source, report.run_id)
        report.quarantined += quarantine(
            conn, actions.rejected, "corporate_actions", source, report.run_id
        )
        kept_actions = actions.frame[~actions.frame["ticker"].isin(incomplete)]
        report.actions += upsert_frame(
            conn, _rows_for(kept_actions, ids, source, CORPORATE_ACTIONS), CORPORATE_ACTIONS
        )
        report.prices += upsert_frame(
            conn, _rows_for(window, ids, source, PRICES), PRICES, count_by="date"
        )


def _stored_closes(
    conn: Connection, security_ids: list[str], start: date, end: date
) -> pd.DataFrame:
    """Stored closes of those securities from start to end, and the last one before start."""
    rows = conn.execute(STORED_CLOSES, {"ids": security_ids, "start": start, "end": end}).all()
    frame = pd.DataFrame(rows, columns=["ticker", "date", "close"])
    frame["date"] = pd.to_datetime(frame["date"])
    return frame.astype({"close": "float64"})


def _set_aside_jumps(
    conn: Connection,
    window: pd.DataFrame,
    stored: pd.DataFrame,
    actions: pd.DataFrame,
    report: PriceLoadReport,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The window without the rows from each unexplained split-like jump on, and those rows as
    quarantine rows; each such ticker is reported failed."""
    before = stored[stored["date"] < pd.Timestamp(report.start)].sort_values("date")
    previous = {str(t): float(c) for t, c in before.groupby("ticker")["close"].last().items()}
    splits = actions[actions["action"] == "split"]
    explained = set(zip(splits["ticker"], splits["date"], strict=True))
    explained |= accepted_jumps(conn, sorted(window["ticker"].unique()))
    jumps = unexplained_jumps(window, previous, explained)
    held = pd.Series(False, index=window.index)
    reasons = pd.Series("", index=window.index, dtype=object)
    for ticker, (day, move) in jumps.items():
        rows = (window["ticker"] == ticker) & (window["date"] >= day)
        held |= rows
        reasons[rows] = f"{RejectReason.UNEXPLAINED_JUMP}: {move} on {day.date()}"
        reason = f"{move} on {day.date()}: quarantined until a split is reported"
        log.warning("%s: %s", ticker, reason)
        report.failed.append(TickerOutcome(ticker, TickerStatus.ERROR, reason))
    quarantined = window[held].assign(reason=reasons[held])
    quarantined = quarantined.assign(raw=raw_values(window[held].drop(columns="ticker")))
    return window[~held], quarantined.loc[:, ["ticker", "date", "reason", "raw"]]


def _tickers_needing_refetch(
    conn: Connection, actions: pd.DataFrame, ids: dict[str, str], start: date
) -> list[str]:
    """Tickers with a split not stored yet and stored prices from before it (old scale)."""
    splits = actions[actions["action"] == "split"]
    if splits.empty:
        return []
    split_ids = [ids[t] for t in splits["ticker"].unique()]
    stored = {(sid, d) for sid, d in conn.execute(STORED_SPLITS, {"ids": split_ids})}
    refetch = []
    for ticker, split_date in zip(splits["ticker"], splits["date"].dt.date, strict=True):
        if (ids[ticker], split_date) in stored or ticker in refetch:
            continue
        params = {"id": ids[ticker], "split_date": split_date, "start": start}
        if conn.execute(HAS_STALE_PRICES, params).scalar_one():
            refetch.append(ticker)
    return refetch


def _replace_history(
    conn: Connection,
    history_of: History,
    source: str,
    ticker: str,
    security_id: str,
    report: PriceLoadReport,
) -> LoadResult | None:
    """Re-fetch a security's whole stored range (and the range being loaded) and replace it; None,
    with the stored history left alone and the ticker reported failed, when the re-fetch does not
    cover every stored date."""
    first, last = conn.execute(STORED_RANGE, {"id": security_id}).one()
    start, end = min(first, report.start), max(last, report.end)
    history = history_of(ticker, start, end)
    fetched = history.frame["date"].dt.date
    if fetched.empty or fetched.min() > first or fetched.max() < last:
        covered = f"{fetched.min()} to {fetched.max()}" if len(fetched) else "nothing"
        errors = "".join(f" ({o.reason})" for o in history.failed())
        reason = (
            f"new split: re-fetch returned {covered}{errors}, not the stored {first} to {last}; "
            "stored history kept, retried on the next load"
        )
        log.warning("%s: %s", ticker, reason)
        report.failed.append(TickerOutcome(ticker, TickerStatus.ERROR, reason))
        return None
    conn.execute(DELETE_HISTORY, {"id": security_id})
    log.info("%s: new split, replaced its history %s to %s", ticker, start, end)
    return upsert_frame(
        conn,
        _rows_for(history.frame, {ticker: security_id}, source, PRICES),
        PRICES,
        count_by="date",
    )


def _rows_for(
    frame: pd.DataFrame, ids: dict[str, str], source: str, spec: UpsertSpec
) -> pd.DataFrame:
    """A provider frame as rows of `spec`'s table: tickers become security ids, dates dates."""
    rows = frame.loc[frame["ticker"].isin(ids)].assign(
        security_id=lambda f: f["ticker"].map(ids),
        date=lambda f: f["date"].astype("date32[pyarrow]"),
        data_source=source,
    )
    return rows.loc[:, list(spec.columns)]
