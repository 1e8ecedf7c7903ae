"""Daily price history and corporate actions, loaded one batch of tickers at a time.

Each batch is one provider call for the whole date range and one transaction: its bars, its
corporate actions and any split re-fetch land together or not at all. A failed ticker is reported
and does not stop the batch; a failed batch leaves the warehouse as it was before that batch.

Splits: stored prices are split-adjusted as of the day they were fetched. When the provider reports
a split the warehouse has not stored yet, and the security has stored prices dated before that split
outside the range being loaded, those prices are in the old scale: the security's whole history is
re-fetched and replaced in the same transaction, so stored prices never mix scales. The same
happens when the source sends closes that differ from stored ones (a restated history, `scale.py`):
the split the restatement implies is recorded as inferred (`core/splits.py`), or, when no split
explains it, the stored history is kept and the source's rows are held in the quarantine. Stored
history is replaced only by a re-fetch that covers all of it; otherwise nothing of that security
is written (neither the split nor the new bars), it is reported as failed, and the next load tries
again. A replacement writes only the rows that changed; every row it replaces or deletes is kept in
`price_history_superseded` with the reason declared (`db/changes.py`).

Before any of that, the bars go through `repair.py` (a block quoted at 100x, a split a session
off its date, a history unadjusted before a reported split): repaired bars are stored marked, their
raw values quarantined, resolved. A split-like move still unexplained holds its own rows only
(`scale.held_spans`).

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
from decimal import Decimal

import pandas as pd
from sqlalchemy import Connection, Engine, text

from rm_pipeline.core.calendars import days_label
from rm_pipeline.core.splits import (
    InferredSplit,
    UnexplainedRestatement,
    infer_split,
    split_label,
)
from rm_pipeline.core.words import counted
from rm_pipeline.db.changes import declare_change
from rm_pipeline.db.loader import LoadResult, UpsertSpec, upsert_frame
from rm_pipeline.ingest.quarantine import (
    accepted_jumps,
    accepted_restatement,
    keep_repaired,
    quarantine,
    resolve_scale_holds,
)
from rm_pipeline.ingest.repair import repair
from rm_pipeline.ingest.scale import closes_before, held_spans, restated_tickers
from rm_pipeline.ingest.sessions import store_sessions
from rm_pipeline.providers.base import (
    MarketDataProvider,
    ProviderResult,
    TickerOutcome,
    TickerStatus,
)
from rm_pipeline.providers.validation import RejectReason, raw_values
from rm_pipeline.warehouse.gaps import WHOLE_HISTORY, Gap, refresh_gaps

log = logging.getLogger(__name__)

PRICES = UpsertSpec(
    table="price_history",
    columns=(
        "security_id",
        "date",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "data_source",
        "repair",
    ),
    key_columns=("security_id", "date"),
    time_ordered_id="id",
)
CORPORATE_ACTIONS = UpsertSpec(
    table="corporate_actions",
    columns=("security_id", "date", "action", "value", "data_source", "note"),
    key_columns=("security_id", "date", "action"),
)

ACTIVE_SECURITIES = text(
    "SELECT ticker, CAST(id AS text) FROM securities WHERE is_active ORDER BY ticker"
)
STORED_SPLITS = text(
    "SELECT CAST(security_id AS text), date FROM corporate_actions "
    "WHERE action = 'split' AND security_id = ANY(CAST(:ids AS uuid[]))"
)
STORED_RANGE = text("SELECT first, last FROM bar_span(CAST(:id AS uuid))")
HAS_STALE_PRICES = text(
    "SELECT EXISTS (SELECT 1 FROM price_history WHERE security_id = CAST(:id AS uuid) "
    "AND date < :split_date AND date < :start)"
)
STORED_CLOSES = text(
    """
    SELECT s.ticker, p.date, p.close FROM price_history p JOIN securities s ON s.id = p.security_id
    WHERE p.security_id = ANY(CAST(:ids AS uuid[])) AND p.date BETWEEN :start AND :end
    UNION ALL
    SELECT s.ticker, last.date, last.close
    FROM securities s CROSS JOIN LATERAL latest_bar(s.id, CAST(:start AS date) - 1) last
    WHERE s.id = ANY(CAST(:ids AS uuid[]))
    """
)
ANCHOR_DAYS = 10
"""Calendar days before the window fetched too, only to compare with stored closes: a source
that restated them has split-adjusted history the warehouse holds in the old scale."""
LATEST_BARS = text(
    """
    SELECT s.ticker, p.date, p.open, p.high, p.low, p.close, p.volume
    FROM securities AS s CROSS JOIN LATERAL latest_bar(s.id, CAST(:end AS date)) AS p
    WHERE p.date = (SELECT valuation_date(CAST(:end AS date)))
    ORDER BY s.ticker LIMIT 10
    """
)
STORED_BARS_PER_DAY = text(
    "SELECT date, count(*) FROM price_history WHERE date BETWEEN :start AND :end GROUP BY date"
)
STORED_HISTORY = text(
    "SELECT date, close FROM price_history WHERE security_id = CAST(:id AS uuid) ORDER BY date"
)
DELETE_DATES_NOT_FETCHED = text(
    "DELETE FROM price_history WHERE security_id = CAST(:id AS uuid) "
    "AND NOT (date = ANY(CAST(:dates AS date[])))"
)
INSERT_INFERRED_SPLIT = text(
    """
    INSERT INTO corporate_actions (security_id, date, action, value, data_source, basis, note)
    VALUES (CAST(:id AS uuid), :date, 'split', :value, :source, 'inferred', :note)
    ON CONFLICT (security_id, date, action) DO NOTHING
    """
)
INFERRED_SPLIT_DAYS = 31
"""A reported split this close to an inferred one of the same ratio is the same split."""
RETIRE_INFERRED_SPLITS = text(
    """
    DELETE FROM corporate_actions
    WHERE security_id = CAST(:id AS uuid) AND action = 'split' AND basis = 'inferred'
      AND abs(date - CAST(:date AS date)) <= :days AND abs(value / :value - 1) <= 0.005
    """
)

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
    inferred: list[str] = field(default_factory=list)
    repaired: int = 0
    """Bars repaired before storing (`ingest/repair.py`), their raw values quarantined, resolved."""
    quarantined: LoadResult = field(default_factory=LoadResult)
    run_id: str | None = None
    gaps: list[Gap] = field(default_factory=list)
    """The gaps the load's refresh found (`refresh_gaps`): in or beside its range, and over any
    history scanned whole."""

    def add(self, batch: PriceLoadReport) -> None:
        """Count one batch's report (of the same range) into this load's."""
        self.tickers += batch.tickers
        self.prices += batch.prices
        self.actions += batch.actions
        self.rejected.extend(batch.rejected)
        self.failed.extend(batch.failed)
        self.refetched.extend(batch.refetched)
        self.inferred.extend(batch.inferred)
        self.repaired += batch.repaired
        self.quarantined += batch.quarantined
        self.gaps.extend(batch.gaps)

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
            f"batch {self.number}/{self.of}: {counted(len(self.ids), 'ticker')}, "
            f"{days_label(report.start, report.end)}: {report.prices.inserted} inserted, {report.prices.updated} updated, "
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
    counts them all. See `BatchPipeline` for what runs at once. Then, in one transaction, the
    sessions the range needs are stored and the planned securities' gaps refreshed around it
    (`refresh_gaps`), onto the report."""
    report = PriceLoadReport(start=start, end=end, run_id=run_id)
    with BatchPipeline(engine, provider, start, end, run_id, writers) as pipeline:
        for batch, loaded in pipeline.load(plan):
            progress(batch.describe(loaded))
            report.add(loaded)
    planned = {ticker: sid for batch in plan for ticker, sid in batch.ids.items()}
    replaced = {planned[ticker] for ticker in report.refetched if ticker in planned}
    with engine.begin() as conn:
        store_sessions(conn, start, end)
        if replaced:  # a re-fetched history may have lost bars anywhere: rescan it whole
            report.gaps += refresh_gaps(conn, *WHOLE_HISTORY, sorted(replaced), run_id)
        kept = [sid for sid in planned.values() if sid not in replaced]
        report.gaps += refresh_gaps(conn, start, end, kept, run_id)
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
    corporate actions and the range's bars, each after the repairs the bars call for."""
    ids = fetched.batch.ids
    anchor = report.start - timedelta(days=ANCHOR_DAYS)
    report.failed.extend(fetched.bars.failed())
    with engine.begin() as conn:
        stored = _stored_closes(conn, list(ids.values()), anchor, report.end)
        bars = repair(fetched.bars.frame, fetched.actions.frame, closes_before(stored, anchor))
        actions = bars.actions
        reported = set(_tickers_needing_refetch(conn, actions, ids, report.start))
        restated = set(restated_tickers(bars.frame, stored)) - reported
        refetch = sorted(reported | restated)
        held, repaired = [], [bars.raw[~bars.raw["ticker"].isin(refetch)]]
        for ticker in refetch:
            refetched = Refetch(conn, history, source, ticker, ids[ticker], report)
            held.append(refetched.replace(bars.frame, actions, split_reported=ticker in reported))
            repaired.append(refetched.repairs)
        in_window = bars.frame["date"] >= pd.Timestamp(report.start)
        window = bars.frame[in_window & ~bars.frame["ticker"].isin(refetch)]
        window, jumped = _set_aside_jumps(conn, window, stored, actions, report)
        rejected = pd.concat([fetched.bars.rejected, jumped, *held], ignore_index=True)
        report.rejected.append(rejected)
        report.quarantined += quarantine(conn, rejected, "price_history", source, report.run_id)
        report.quarantined += quarantine(
            conn, fetched.actions.rejected, "corporate_actions", source, report.run_id
        )
        report.repaired += _keep_raw_of_repairs(conn, pd.concat(repaired), source, report.run_id)
        replaced = set(report.refetched)
        kept_actions = actions[~actions["ticker"].isin(set(refetch) - replaced)]
        declare_change(conn, f"corporate actions reported by {source}", report.run_id)
        _retire_inferred_splits(conn, kept_actions, ids)
        report.actions += upsert_frame(
            conn, _rows_for(kept_actions, ids, source, CORPORATE_ACTIONS), CORPORATE_ACTIONS
        )
        declare_change(conn, f"bars sent again by {source}", report.run_id)
        report.prices += upsert_frame(
            conn, _rows_for(window, ids, source, PRICES), PRICES, count_by="date"
        )


def _keep_raw_of_repairs(
    conn: Connection, raw: pd.DataFrame, source: str, run_id: str | None
) -> int:
    """Quarantine, resolved, the values the source sent for each repaired bar; how many."""
    if raw.empty:
        return 0
    keep_repaired(conn, raw, "price_history", source, run_id)
    return len(raw)


def latest_bars(conn: Connection, end: date) -> pd.DataFrame:
    """The first ten bars, by ticker, of the latest day with bars on or before `end`."""
    return pd.read_sql_query(LATEST_BARS, conn, params={"end": end})


def stored_bars_per_day(conn: Connection, start: date, end: date) -> dict[date, int]:
    """Bars stored per date over [start, end]."""
    params = {"start": start, "end": end}
    return {day: rows for day, rows in conn.execute(STORED_BARS_PER_DAY, params)}


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
    """The window without the rows of each span on a scale an unexplained split-like jump
    moved it to (until the closes come back, or to the end), and those rows as quarantine rows;
    each such ticker is reported failed."""
    splits = actions[actions["action"] == "split"]
    explained = set(zip(splits["ticker"], splits["date"], strict=True))
    explained |= accepted_jumps(conn, sorted(window["ticker"].unique()))
    spans = held_spans(window, closes_before(stored, report.start), explained)
    held = pd.Series(False, index=window.index)
    reasons = pd.Series("", index=window.index, dtype=object)
    described: dict[str, list[str]] = {}
    for ticker, start, end, reverted, move in spans.itertuples(index=False):
        rows = (window["ticker"] == ticker) & window["date"].between(start, end)
        held |= rows
        day = pd.Timestamp(start).date()
        reasons[rows] = f"{RejectReason.UNEXPLAINED_JUMP}: {move} on {day}"
        described.setdefault(ticker, []).append(
            f"{move} on {day}: quarantined until a split is reported"
            if pd.isna(reverted)
            else f"{move} on {day}: {int(rows.sum())} rows quarantined, back on its scale on "
            f"{pd.Timestamp(reverted).date()}"
        )
    for ticker, spans_of_ticker in described.items():
        reason = "; ".join(spans_of_ticker)
        log.warning("%s: %s", ticker, reason)
        report.failed.append(TickerOutcome(ticker, TickerStatus.ERROR, reason))
    quarantined = window[held].assign(reason=reasons[held])
    columns = [c for c in window.columns if c not in ("ticker", "repair")]
    quarantined = quarantined.assign(raw=raw_values(window.loc[held, columns]))
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


class Refetch:
    """One security's whole stored history fetched again, to replace it at one scale: after a
    new reported split, or when the source restated closes the warehouse holds (then the split
    that explains it is inferred, or the restatement is held)."""

    def __init__(
        self,
        conn: Connection,
        history_of: History,
        source: str,
        ticker: str,
        security_id: str,
        report: PriceLoadReport,
    ) -> None:
        self.conn, self.history_of, self.source = conn, history_of, source
        self.ticker, self.security_id, self.report = ticker, security_id, report
        self.repairs = _NOTHING_HELD
        """The raw values of the re-fetched bars it repaired, to quarantine resolved."""

    def replace(
        self, window: pd.DataFrame, actions: pd.DataFrame, split_reported: bool
    ) -> pd.DataFrame:
        """Replace the stored history (only rows that changed are written; each replaced row
        is kept as superseded) and return nothing to hold; or leave it as it is and return the
        ticker's fetched rows to quarantine (none when the re-fetch fell short: the next load
        tries again)."""
        first, last = self.conn.execute(STORED_RANGE, {"id": self.security_id}).one()
        history = self.history_of(
            self.ticker, min(first, self.report.start), max(last, self.report.end)
        )
        if not self._covers(history, first, last):
            return _NOTHING_HELD
        fetched = repair(history.frame, actions[actions["ticker"] == self.ticker], {})
        if split_reported:
            reason = f"split reported by {self.source}: history re-fetched at the new scale"
        else:
            inference = infer_split(self.source, self._stored(), _closes(fetched.frame))
            if isinstance(inference, InferredSplit):
                reason = self._record(inference)
            elif accepted_restatement(self.conn, self.ticker):
                reason = f"restated by {self.source}: {inference.reason}; accepted by an operator"
            else:
                return self._hold(window, inference)
        declare_change(self.conn, reason, self.report.run_id)
        rows = _rows_for(fetched.frame, {self.ticker: self.security_id}, self.source, PRICES)
        self.report.prices += upsert_frame(self.conn, rows, PRICES, count_by="date")
        self.repairs = fetched.raw
        dates = [d.isoformat() for d in fetched.frame["date"].dt.date]
        dropped = self.conn.execute(
            DELETE_DATES_NOT_FETCHED, {"id": self.security_id, "dates": dates}
        ).rowcount
        log.info("%s: %s", self.ticker, reason)
        if dropped:  # on the old scale, with no bar of the new one to take their place
            log.warning(
                "%s: %d stored bars the re-fetch lacks deleted (kept as superseded)",
                self.ticker,
                dropped,
            )
        self.report.refetched.append(self.ticker)
        resolve_scale_holds(self.conn, self.ticker)
        return _NOTHING_HELD

    def _covers(self, history: ProviderResult, first: date, last: date) -> bool:
        fetched = history.frame["date"].dt.date
        if not fetched.empty and fetched.min() <= first and fetched.max() >= last:
            return True
        covered = f"{fetched.min()} to {fetched.max()}" if len(fetched) else "nothing"
        errors = "".join(f" ({o.reason})" for o in history.failed())
        self._fail(
            f"history re-fetch returned {covered}{errors}, not the stored {first} to {last}; "
            "stored history kept, retried on the next load"
        )
        return False

    def _stored(self) -> pd.Series:
        rows = self.conn.execute(STORED_HISTORY, {"id": self.security_id}).all()
        return pd.Series(
            [float(close) for _, close in rows],
            index=pd.DatetimeIndex([pd.Timestamp(day) for day, _ in rows]),
        )

    def _record(self, split: InferredSplit) -> str:
        """Store the inferred split; the reason for the history's replacement."""
        self.conn.execute(
            INSERT_INFERRED_SPLIT,
            {
                "id": self.security_id,
                "date": split.date,
                "value": Decimal(split.ratio.numerator) / Decimal(split.ratio.denominator),
                "source": self.source,
                "note": split.note,
            },
        )
        described = f"{split_label(split.ratio)} split inferred on {split.date}: {split.note}"
        log.warning("%s: %s", self.ticker, described)
        self.report.inferred.append(f"{self.ticker}: {described}")
        return (
            f"restated by {self.source}: {split_label(split.ratio)} split inferred on {split.date}"
        )

    def _hold(self, window: pd.DataFrame, restatement: UnexplainedRestatement) -> pd.DataFrame:
        """Quarantine the ticker's fetched rows of the load's range: the source and the
        warehouse disagree on its scale in a way no split explains."""
        self._fail(f"history restated by {self.source}: {restatement.reason}; held")
        rows = window[
            (window["ticker"] == self.ticker) & (window["date"] >= pd.Timestamp(self.report.start))
        ]
        reason = f"{RejectReason.UNEXPLAINED_RESTATEMENT}: {restatement.reason}"
        held = rows.loc[:, ["ticker", "date"]].assign(reason=reason)
        return held.assign(raw=raw_values(rows.drop(columns=["ticker", "repair"])))

    def _fail(self, reason: str) -> None:
        log.warning("%s: %s", self.ticker, reason)
        self.report.failed.append(TickerOutcome(self.ticker, TickerStatus.ERROR, reason))


_NOTHING_HELD = pd.DataFrame(columns=["ticker", "date", "reason", "raw"])


def _closes(frame: pd.DataFrame) -> pd.Series:
    """A one-ticker provider frame's closes by date."""
    return pd.Series(frame["close"].to_numpy(dtype=float), index=pd.DatetimeIndex(frame["date"]))


def _retire_inferred_splits(conn: Connection, actions: pd.DataFrame, ids: dict[str, str]) -> None:
    """Delete the inferred splits a reported split now explains (same ratio, within
    INFERRED_SPLIT_DAYS of it), so no split counts twice."""
    splits = actions[actions["action"] == "split"]
    for ticker, day, value in zip(
        splits["ticker"], splits["date"].dt.date, splits["value"], strict=True
    ):
        conn.execute(
            RETIRE_INFERRED_SPLITS,
            {"id": ids[ticker], "date": day, "value": float(value), "days": INFERRED_SPLIT_DAYS},
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
