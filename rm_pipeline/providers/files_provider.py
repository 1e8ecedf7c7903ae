"""Market data from a directory of files: one CSV or Parquet file of daily bars per ticker.

Layout (docs/PROVIDERS.md has examples):

* `<TICKER>.csv` or `<TICKER>.parquet` (the file stem is the ticker, e.g. `7203.T.csv`), in
  Stooq's `Date,Open,High,Low,Close,Volume` layout (adj_close = close) or yfinance's, with
  `Adj Close` and optionally `Dividends` and `Stock Splits`; headers are matched ignoring case,
  spaces and punctuation;
* optional `securities.csv` with the SecurityFrame columns (ticker, name, security_type
  required);
* optional `actions.csv` with ticker, date, action (split or dividend), value;
* exchange rates: a pair's file is `<PAIR>.csv` or `.parquet` named by Yahoo's pair ticker
  (`EURUSD=X.csv`: US dollars per euro), in the same layouts; the rate is the Close. Pair files
  are not securities.

A failure costs only what failed. A price file that cannot be read at all (empty, binary, wrong
columns) fails its own ticker, `invalid` with the file named; a path that is not a regular file
(a directory, a dangling symlink, a FIFO) or that may not be read fails its own ticker, `error`,
and is never opened unless it is a regular file, so a FIFO cannot block a call. A cell that cannot
be parsed (`abc` for a price, `2025-02-30` for a date, a date such as `9999-12-31` outside the
range a frame can hold) rejects its own row, `unparseable`, with the file, line and field; rows
that parse but make no sense go through the common validation and are rejected too, and a ticker
none of whose rows survive fails (`securities` returns its rows as rejected). `securities.csv` and
`actions.csv` describe every ticker, so they are read strictly: an error in them raises
FilesInputError naming the file, line and field.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import BinaryIO, Final, NoReturn, TypeVar

import numpy as np
import pandas as pd
import pyarrow

from rm_pipeline.providers.base import ProviderResult, TickerOutcome, TickerStatus
from rm_pipeline.providers.frames import (
    SECURITY_TYPES,
    CorporateActionFrame,
    DailyBarFrame,
    FrameModel,
    FundamentalsFrame,
    RejectedFrame,
    SecurityFrame,
    columns,
    concat_frames,
    conform,
    empty_frame,
)
from rm_pipeline.providers.fx import concat_raw_rates, pair_currency, raw_rates, start_fx_outcomes
from rm_pipeline.providers.markets import guessed_security
from rm_pipeline.providers.snapshot import TickerHistory, price_snapshot
from rm_pipeline.providers.tickers import InvalidTickerError, normalize_ticker
from rm_pipeline.providers.validation import (
    RejectReason,
    actions_result,
    bars_result,
    every_row_rejected,
    frame_result,
    fx_result,
    raw_values,
    start_outcomes,
    validate_bars,
)

log = logging.getLogger(__name__)

Parsed = TypeVar("Parsed")

SECURITIES_FILE: Final = "securities.csv"
ACTIONS_FILE: Final = "actions.csv"
PRICE_SUFFIXES: Final = (".csv", ".parquet")

_HEADER_ALIASES: Final[dict[str, str]] = {
    "date": "date",
    "datetime": "date",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "adjclose": "adj_close",
    "adjustedclose": "adj_close",
    "volume": "volume",
    "vol": "volume",
    "dividends": "dividends",
    "stocksplits": "splits",
    "ticker": "ticker",
    "symbol": "ticker",
    "action": "action",
    "value": "value",
} | {name.replace("_", ""): name for name in columns(SecurityFrame)}
_MISSING: Final = frozenset({"", "nan", "null", "none", "n/a", "na"})
_ISO_DATE: Final = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T].*)?$")
_COMPACT_DATE: Final = re.compile(r"^\d{8}$")
_DATE_RANGE: Final = (pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D"))
"""The first and last dates a datetime64[ns] column holds: 1677-09-22 and 2262-04-11."""
_SPECIAL_FILES: Final = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


class FilesInputError(ValueError):
    """A file the files provider cannot read; the message names file, line (or row) and field.
    A price file's ticker fails with `status`."""

    status: TickerStatus = TickerStatus.INVALID

    def __init__(self, path: Path, message: str, where: str = "", field: str = "") -> None:
        location = ", ".join(
            p for p in (str(path), where, f"field {field!r}" if field else "") if p
        )
        super().__init__(f"{location}: {message}")
        self.path, self.where, self.field = path, where, field


class FileUnavailableError(FilesInputError):
    """A path that is no regular file the provider may read: a directory, a dangling symlink, a
    FIFO or a device, or a file it lacks permission for. Unlike bad content, this may change
    without the file being rewritten, so a price file's ticker fails as `error`, not `invalid`."""

    status = TickerStatus.ERROR


def _open_regular(path: Path) -> BinaryIO:
    """Open `path` for reading if it is a regular file; anything else is never opened.

    The open does not block either, should a FIFO replace the file after the check.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        dangling = isinstance(err, FileNotFoundError) and path.is_symlink()
        why = (
            "a dangling symlink, not a file" if dangling else f"cannot be examined: {err.strerror}"
        )
        raise FileUnavailableError(path, why) from err
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _SPECIAL_FILES if test(mode)), "a special file")
        raise FileUnavailableError(path, f"{kind}, not a file")
    try:
        return os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb")
    except OSError as err:
        raise FileUnavailableError(path, f"cannot be read: {err.strerror}") from err


def _key(header: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(header).lower())


@dataclass(frozen=True)
class _Table:
    """A file's rows with normalized column names, and where each row came from. A lenient table
    records unparseable cells in `problems` (row position to a description) instead of raising."""

    path: Path
    frame: pd.DataFrame
    where: list[str]
    lenient: bool = False
    problems: dict[int, str] = field(default_factory=dict)

    def fail(self, position: int, field: str, message: str) -> NoReturn:
        raise FilesInputError(self.path, message, self.where[position], field)

    def require(self, *names: str) -> None:
        missing = [n for n in names if n not in self.frame.columns]
        if missing:
            found = ", ".join(self.frame.columns) or "none"
            raise FilesInputError(
                self.path, f"missing column(s) {', '.join(missing)} (recognized: {found})", "line 1"
            )

    def text(self, name: str) -> pd.Series:
        """A column as stripped strings, missing markers as NaN."""
        values = self.frame[name].astype("string").str.strip()
        return values.mask(values.str.lower().isin(_MISSING)).astype(object)

    def numbers(self, name: str) -> pd.Series:
        """A column as float64; missing cells are NaN, anything unparseable raises."""
        column = self.frame[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            return column.astype("float64")
        values = self.text(name)
        parsed = pd.to_numeric(values, errors="coerce").astype("float64")
        self._raise_first(values.notna() & parsed.isna(), name, values, "not a number")
        return parsed

    def dates(self, name: str) -> pd.Series:
        """A column as naive midnight datetime64[ns]: the date as written, never shifted to UTC.

        Text may be `YYYY-MM-DD` (anything after it, such as a time and offset, is ignored) or
        Stooq's `YYYYMMDD`; Parquet timestamps keep their local wall date.
        """
        column = self.frame[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            column = column.dt.tz_localize(None)
        if pd.api.types.is_datetime64_any_dtype(column):
            parsed = column.dt.normalize()
            self._raise_first(parsed.isna(), name, column, "missing date")
            return self._in_date_range(parsed, name, column)
        values = self.text(name).astype("string")
        iso = values.str.extract(_ISO_DATE, expand=False)
        compact = values.where(values.str.match(_COMPACT_DATE).fillna(False))
        parsed = pd.to_datetime(iso, format="%Y-%m-%d", errors="coerce").fillna(
            pd.to_datetime(compact, format="%Y%m%d", errors="coerce")
        )
        self._raise_first(parsed.isna(), name, values, "not a date (expected YYYY-MM-DD)")
        return self._in_date_range(parsed, name, values)

    def _in_date_range(self, dates: pd.Series, name: str, values: pd.Series) -> pd.Series:
        """`dates` as datetime64[ns]; a date that type cannot hold (`9999-12-31`) is a bad cell,
        missing in the result."""
        first, last = _DATE_RANGE
        outside = (dates < first) | (dates > last)
        why = f"date outside the supported range {first.date()} to {last.date()}"
        self._raise_first(outside, name, values, why)
        return dates.mask(outside).astype("datetime64[ns]")

    def _raise_first(self, bad: pd.Series, name: str, values: pd.Series, why: str) -> None:
        if not bad.any():
            return
        if self.lenient:
            for position in np.flatnonzero(bad.to_numpy()):
                where = f"{self.path.name}, {self.where[position]}, field {name!r}"
                detail = f"{where}: {why}: {values.iloc[position]!r}"
                self.problems.setdefault(int(position), detail)
            return
        first = int(np.argmax(bad.to_numpy()))
        self.fail(first, name, f"{why}: {values.iloc[first]!r}")


def _normalize_headers(path: Path, frame: pd.DataFrame) -> pd.DataFrame:
    names = [_HEADER_ALIASES.get(_key(c)) for c in frame.columns]
    kept = [n for n in names if n]
    if len(kept) != len(set(kept)):
        raise FilesInputError(path, f"repeated column in header {list(frame.columns)}", "line 1")
    frame = frame.loc[:, [n is not None for n in names]]
    frame.columns = kept
    return frame.reset_index(drop=True)


def _read_csv(path: Path) -> _Table:
    """Read a CSV as text, keeping each row's line number.

    yfinance's multi-ticker export puts `Ticker,...` and `Date,,,` rows under the header; they
    are recognized and skipped.
    """
    with _open_regular(path) as handle:
        try:
            cells = pd.read_csv(handle, header=None, dtype=str, keep_default_na=False,
                                skip_blank_lines=False, encoding="utf-8-sig")  # fmt: skip
        except pd.errors.EmptyDataError as err:
            raise FilesInputError(path, "empty file") from err
        except (pd.errors.ParserError, UnicodeDecodeError) as err:
            raise FilesInputError(path, f"not a readable CSV file: {err}") from err
    header, first = [str(c) for c in cells.iloc[0]], 1
    if len(cells) > 2 and _key(cells.iat[1, 0]) == "ticker" and _key(cells.iat[2, 0]) == "date":
        header[0], first = "Date", 3
    body = cells.iloc[first:]
    body = body[(body != "").any(axis=1)]
    body.columns = header
    return _Table(path, _normalize_headers(path, body), [f"line {i + 1}" for i in body.index])


def _read_parquet(path: Path) -> _Table:
    """Read a Parquet file; a date index (as pandas writes it) becomes a column."""
    with _open_regular(path) as handle:
        try:
            frame = pd.read_parquet(handle)
        except (OSError, ValueError, pyarrow.ArrowException) as err:
            raise FilesInputError(path, f"not a readable Parquet file: {err}") from err
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    return _Table(
        path, _normalize_headers(path, frame), [f"row {i + 1}" for i in range(len(frame))]
    )


def _read(path: Path) -> _Table:
    return _read_parquet(path) if path.suffix.lower() == ".parquet" else _read_csv(path)


@dataclass(frozen=True)
class _PriceFile:
    """One ticker's parsed file: raw bars (not yet validated), the actions it carries, the rows
    whose cells could not be parsed, and whether it reports dividends at all."""

    bars: pd.DataFrame
    actions: pd.DataFrame
    unparseable: pd.DataFrame
    reports_dividends: bool


def _parse_prices(ticker: str, path: Path) -> _PriceFile:
    table = replace(_read(path), lenient=True)
    table.require("date", "open", "high", "low", "close")
    if table.frame.empty:
        raise FilesInputError(path, "no rows under the header")
    dates = table.dates("date")
    close = table.numbers("close")
    names = table.frame.columns
    bars = pd.DataFrame(
        {
            "ticker": ticker,
            "date": dates,
            "open": table.numbers("open"),
            "high": table.numbers("high"),
            "low": table.numbers("low"),
            "close": close,
            "adj_close": table.numbers("adj_close") if "adj_close" in names else close,
            "volume": table.numbers("volume") if "volume" in names else np.nan,
        },
        columns=columns(DailyBarFrame),
    )
    actions = [
        pd.DataFrame({"ticker": ticker, "date": dates, "action": action, "value": table.numbers(c)})
        for c, action in (("splits", "split"), ("dividends", "dividend"))
        if c in names
    ]
    actions = [a[a["value"].fillna(0) != 0] for a in actions]
    good = ~bars.index.isin(list(table.problems))
    return _PriceFile(
        bars[good],
        concat_frames([a[good[a.index]] for a in actions], CorporateActionFrame),
        _unparseable(ticker, table, dates),
        reports_dividends="dividends" in names,
    )


def _unparseable(ticker: str, table: _Table, dates: pd.Series) -> pd.DataFrame:
    """A RejectedFrame of the rows of a lenient table with a cell that could not be parsed."""
    bad = sorted(table.problems)
    return pd.DataFrame(
        {
            "ticker": ticker,
            "date": dates.iloc[bad],
            "reason": [f"{RejectReason.UNPARSEABLE}: {table.problems[i]}" for i in bad],
            "raw": raw_values(table.frame.iloc[bad].astype(object)),
        },
        columns=columns(RejectedFrame),
    )


@dataclass(frozen=True)
class _RateFile:
    """One pair's parsed file: raw rates (FX_RAW_COLUMNS, not yet validated) and the rows whose
    cells could not be parsed."""

    rates: pd.DataFrame
    unparseable: pd.DataFrame


def _parse_rates(pair: str, path: Path) -> _RateFile:
    """A pair's file in any price layout: only the date and the close (the rate) are read."""
    table = replace(_read(path), lenient=True)
    table.require("date", "close")
    if table.frame.empty:
        raise FilesInputError(path, "no rows under the header")
    dates = table.dates("date")
    rates = raw_rates(pair, dates, table.numbers("close"))
    good = ~rates.index.isin(list(table.problems))
    return _RateFile(rates[good], _unparseable(pair, table, dates))


def _parse_securities(path: Path) -> pd.DataFrame:
    table = _read_csv(path)
    table.require("ticker", "name", "security_type")
    frame = pd.DataFrame({name: table.text(name) if name in table.frame.columns else None
                          for name in columns(SecurityFrame)})  # fmt: skip
    frame["ticker"] = _tickers(table)
    frame["security_type"] = frame["security_type"].str.lower()
    _check_values(table, frame["security_type"], "security_type", SECURITY_TYPES)
    _check_values(table, frame["name"].notna(), "name", (True,), "missing name")
    return frame


def _parse_actions(path: Path) -> pd.DataFrame:
    table = _read_csv(path)
    table.require("ticker", "date", "action", "value")
    actions = table.text("action").str.lower()
    _check_values(table, actions, "action", ("split", "dividend"))
    return pd.DataFrame(
        {"ticker": _tickers(table), "date": table.dates("date"), "action": actions,
         "value": table.numbers("value")}
    )  # fmt: skip


def _tickers(table: _Table) -> pd.Series:
    tickers = []
    for position, raw in enumerate(table.text("ticker")):
        try:
            tickers.append(normalize_ticker(raw))
        except InvalidTickerError as err:
            table.fail(position, "ticker", str(err))
    return pd.Series(tickers, dtype=object)


def _check_values(
    table: _Table, values: pd.Series, field: str, allowed: Sequence[object], why: str = ""
) -> None:
    bad = ~values.isin(allowed)
    if bad.any():
        position = int(np.argmax(bad.to_numpy()))
        table.fail(
            position, field, why or f"{values.iloc[position]!r} is not one of {list(allowed)}"
        )


class FilesProvider:
    """Market data read from a directory of CSV or Parquet files."""

    name = "files"

    def __init__(self, directory: Path | str, today: Callable[[], date] = date.today) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise FileNotFoundError(f"provider files directory {self.directory} does not exist")
        self._today = today

    def price_files(self) -> tuple[dict[str, Path], dict[str, str]]:
        """The ticker each price file holds, by normalized file stem; and each ticker with two
        files, left out of the first mapping, with why."""
        found: dict[str, Path] = {}
        conflicts: dict[str, str] = {}
        for path in sorted(self.directory.iterdir()):
            if path.suffix.lower() not in PRICE_SUFFIXES or path.name in (
                SECURITIES_FILE,
                ACTIONS_FILE,
            ):
                continue
            try:
                ticker = normalize_ticker(path.stem)
            except InvalidTickerError as err:
                log.warning("ignoring %s: %s", path, err)
                continue
            if ticker in found or ticker in conflicts:
                conflicts[ticker] = f"{path}: a second file for {ticker}"
                continue
            found[ticker] = path
        for ticker in conflicts:
            found.pop(ticker, None)
        return found, conflicts

    def _parse_each(
        self,
        tickers: Sequence[str],
        files: dict[str, Path],
        conflicts: dict[str, str],
        parse: Callable[[str, Path], Parsed],
    ) -> tuple[dict[str, Parsed], list[TickerOutcome]]:
        """Each ticker's file (from `price_files`) parsed by `parse`, and an outcome for every
        ticker that has none: no file, two files, a path that is no regular file it may read
        (`error`), or a file whose content cannot be read (`invalid`: retrying will not help)."""
        parsed: dict[str, Parsed] = {}
        outcomes = []
        for ticker in tickers:
            if ticker in conflicts:
                outcomes.append(TickerOutcome(ticker, TickerStatus.INVALID, conflicts[ticker]))
            elif ticker not in files:
                outcomes.append(TickerOutcome(ticker, TickerStatus.NO_DATA, "no file for it"))
            else:
                try:
                    parsed[ticker] = parse(ticker, files[ticker])
                except FilesInputError as err:
                    log.warning("%s: %s", ticker, err)
                    outcomes.append(TickerOutcome(ticker, err.status, str(err)))
        return parsed, outcomes

    def _optional(
        self, name: str, parse: Callable[[Path], pd.DataFrame], model: FrameModel
    ) -> pd.DataFrame:
        """The file `name` parsed, or no rows when nothing of that name exists; a directory or
        dangling symlink of that name raises FileUnavailableError like an unreadable file."""
        path = self.directory / name
        return parse(path) if os.path.lexists(path) else pd.DataFrame(columns=columns(model))

    def securities(self, tickers: Sequence[str] | None = None) -> ProviderResult:
        """Rows of securities.csv; a ticker with only a price file gets reference guessed from
        its symbol. None means every ticker in securities.csv or with a price file (exchange-rate
        pair files excepted).

        A ticker none of whose price rows survive fails, `error`, and its rows are the result's
        `rejected`, for the quarantine: the price load fetches only stored securities, so it
        would never see the rows of a ticker that was never created."""
        listed = self._optional(SECURITIES_FILE, _parse_securities, SecurityFrame)
        files, conflicts = self.price_files()
        in_files = [t for t in [*files, *conflicts] if pair_currency(t) is None]
        known = list(dict.fromkeys([*listed["ticker"], *in_files]))
        valid, invalid = start_outcomes(known if tickers is None else tickers)
        by_ticker = {
            str(row["ticker"]): {str(k): v for k, v in row.items()}
            for row in listed.to_dict("records")
        }
        parsed, outcomes = self._parse_each(valid, files, conflicts, _parse_prices)
        rows: list[dict[str, object]] = []
        refused_files: list[pd.DataFrame] = []
        for ticker, price_file in parsed.items():
            if not (rejected := _every_row_refused(price_file, self._today())).empty:
                reason = every_row_rejected(rejected["reason"])
                log.warning("%s: %s", ticker, reason)
                outcomes.append(TickerOutcome(ticker, TickerStatus.ERROR, reason))
                refused_files.append(rejected)
            elif ticker in by_ticker:
                rows.append(by_ticker[ticker])
                outcomes.append(TickerOutcome(ticker, TickerStatus.OK))
            else:
                rows.append(guessed_security(ticker))
                why = f"not in {SECURITIES_FILE}; reference guessed from the symbol"
                outcomes.append(TickerOutcome(ticker, TickerStatus.OK, why))
        raw = pd.DataFrame(rows, columns=columns(SecurityFrame))
        refused = conform(RejectedFrame, concat_frames(refused_files, RejectedFrame))
        return replace(frame_result(SecurityFrame, raw, outcomes + invalid), rejected=refused)

    def daily_bars(self, tickers: Sequence[str], start: date, end: date) -> ProviderResult:
        valid, invalid = start_outcomes(tickers)
        parsed, failed = self._parse_each(valid, *self.price_files(), _parse_prices)
        raw = concat_frames([f.bars for f in parsed.values()], DailyBarFrame)
        unparseable = concat_frames([f.unparseable for f in parsed.values()], RejectedFrame)
        outcomes = [TickerOutcome(t, TickerStatus.OK) for t in parsed] + failed + invalid
        return bars_result(raw, outcomes, start, end, self._today(), set_aside=unparseable)

    def corporate_actions(self, tickers: Sequence[str], start: date, end: date) -> ProviderResult:
        """Actions from actions.csv and from the price files' dividend and split columns."""
        valid, invalid = start_outcomes(tickers)
        listed = self._optional(ACTIONS_FILE, _parse_actions, CorporateActionFrame)
        listed = listed[listed["ticker"].isin(valid)]
        parsed, failed = self._parse_each(valid, *self.price_files(), _parse_prices)
        in_files = [f.actions for f in parsed.values()]
        raw = concat_frames([listed, *in_files], CorporateActionFrame).drop_duplicates()
        answered = set(parsed) | set(listed["ticker"])
        outcomes = [TickerOutcome(t, TickerStatus.OK) for t in valid if t in answered]
        outcomes += [o for o in failed if o.ticker not in answered] + invalid
        return actions_result(raw, outcomes, start, end, self._today())

    def fundamentals(self, tickers: Sequence[str]) -> ProviderResult:
        """What the bars tell: last close and volume, average volume, 52-week range and
        trailing dividend yield, as of the last good bar; valuation ratios are left empty."""
        valid, invalid = start_outcomes(tickers)
        listed_path = self.directory / ACTIONS_FILE
        listed = self._optional(ACTIONS_FILE, _parse_actions, CorporateActionFrame)
        parsed, failed = self._parse_each(valid, *self.price_files(), _parse_prices)
        rows = [
            _snapshot_row(f, listed[listed["ticker"] == t], listed_path.is_file(), self._today())
            for t, f in parsed.items()
        ]
        raw = pd.DataFrame([r for r in rows if r], columns=columns(FundamentalsFrame))
        outcomes = [TickerOutcome(t, TickerStatus.OK) for t in parsed] + failed + invalid
        return frame_result(FundamentalsFrame, raw, outcomes)

    def fx_rates(self, currencies: Sequence[str], start: date, end: date) -> ProviderResult:
        """Rates from each pair's file (`EURUSD=X.csv`): its Close, in US dollars per unit."""
        pairs, invalid = start_fx_outcomes(currencies)
        parsed, failed = self._parse_each(pairs, *self.price_files(), _parse_rates)
        raw = concat_raw_rates([f.rates for f in parsed.values()])
        unparseable = concat_frames([f.unparseable for f in parsed.values()], RejectedFrame)
        outcomes = [TickerOutcome(p, TickerStatus.OK) for p in parsed] + failed + invalid
        return fx_result(raw, outcomes, start, end, self._today(), set_aside=unparseable)


def _every_row_refused(price_file: _PriceFile, today: date) -> pd.DataFrame:
    """Every row of a price file that gives no security, as a RejectedFrame: each unparseable or
    rejected by the common validation (a file always has a row: one without is `invalid`). No
    rows when a bar survives: the price load quarantines what it refuses then."""
    good, rejected = validate_bars(price_file.bars, today)
    if not good.empty:
        return empty_frame(RejectedFrame)
    return concat_frames([price_file.unparseable, rejected], RejectedFrame)


def _snapshot_row(
    price_file: _PriceFile, listed: pd.DataFrame, actions_listed: bool, today: date
) -> dict[str, object]:
    bars = validate_bars(price_file.bars, today)[0].sort_values("date")
    actions = concat_frames([price_file.actions, listed], CorporateActionFrame).drop_duplicates()
    dividends = actions[(actions["action"] == "dividend") & (actions["value"] > 0)]
    history = TickerHistory(
        dates=bars["date"].to_numpy(), high=bars["high"].to_numpy(), low=bars["low"].to_numpy(),
        close=bars["close"].to_numpy(), volume=bars["volume"].to_numpy(float, na_value=np.nan),
        dividend_dates=dividends["date"].to_numpy(dtype="datetime64[ns]"),
        dividend_values=dividends["value"].to_numpy(dtype=float),
        reports_dividends=price_file.reports_dividends or actions_listed,
    )  # fmt: skip
    snapshot = price_snapshot(history)
    return {"ticker": price_file.bars["ticker"].iloc[0], **snapshot} if snapshot else {}
