"""Rows the files provider refuses reach the warehouse: quarantined, undated when the date cannot
be held, and a ticker none of whose rows survive is reported failed, by the securities master and
by the price load. Such a ticker's rows are quarantined by the securities master too, so those of a
ticker that never was a security, which no price load reads, are kept as well."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine, text

from rm_pipeline.ingest.prices import ingest_prices
from rm_pipeline.ingest.quarantine import quarantine
from rm_pipeline.ingest.securities import sync_securities
from rm_pipeline.providers.base import TickerStatus
from rm_pipeline.providers.files_provider import FilesProvider

HEADER = "Date,Open,High,Low,Close,Volume"
GOOD_ROWS = ["2025-03-03,10,11,9,10.5,100", "2025-03-04,10,11,9,10.5,100"]
REFUSED_ROWS = [
    "2025-03-03,10,9,11,10.5,100",  # high below low
    "9999-12-31,10,11,9,10.5,100",
    "0001-01-01,10,11,9,10.5,100",
    "2025-03-05,10,11,9,abc,100",
]
EVERY_ROW_REJECTED = "every row rejected (4 rows): 3 unparseable, 1 high_below_low"
LOAD_RANGE = (date(2025, 3, 3), date(2025, 3, 7))


def write(directory: Path, ticker: str, rows: list[str]) -> None:
    (directory / f"{ticker}.csv").write_text("\n".join([HEADER, *rows]) + "\n")


def sync(db: Engine, provider: FilesProvider, run_id: str) -> dict[str, str]:
    """The provider's securities synced into the master and the price rows it refused
    quarantined, as the `securities` asset does; the failed tickers, with why."""
    result = provider.securities()
    unanswered = [o.ticker for o in result.outcomes if o.status is not TickerStatus.OK]
    with db.begin() as conn:
        sync_securities(conn, result.frame, provider.name, unanswered)
        quarantine(conn, result.rejected, "price_history", provider.name, run_id)
    return {o.ticker: o.reason for o in result.failed()}


def active_tickers(db: Engine) -> list[str]:
    with db.connect() as conn:
        query = "SELECT ticker FROM securities WHERE is_active ORDER BY ticker"
        return list(conn.execute(text(query)).scalars())


def refused(ticker: str) -> list[tuple[str, date | None, str, str]]:
    """The quarantine rows of REFUSED_ROWS written as `ticker`'s file."""
    return [
        (ticker, None, "unparseable", "0001-01-01"),
        (ticker, date(2025, 3, 3), "high_below_low", "2025-03-03"),
        (ticker, date(2025, 3, 5), "unparseable", "2025-03-05"),
        (ticker, None, "unparseable", "9999-12-31"),
    ]


def quarantine_rows(db: Engine) -> list[tuple[str, date | None, str, str]]:
    """(ticker, date, the reason's kind, the date as the file wrote it) of each quarantined row."""
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT ticker, date, split_part(reason, ':', 1), raw_values ->> 'date' "
                "FROM quarantine ORDER BY ticker, raw_values ->> 'date'"
            )
        )
        return [(ticker, day, kind, written) for ticker, day, kind, written in rows]


def test_refused_rows_are_quarantined_and_their_ticker_reported_failed(
    db: Engine, tmp_path: Path
) -> None:
    provider = FilesProvider(tmp_path, today=lambda: date(2025, 3, 31))
    write(tmp_path, "GOOD", GOOD_ROWS)
    write(tmp_path, "BAD", GOOD_ROWS)
    assert sync(db, provider, "sync-1") == {}
    assert quarantine_rows(db) == []

    write(tmp_path, "GOOD", [*GOOD_ROWS, "9999-12-31,10,11,9,10.5,100"])
    write(tmp_path, "BAD", REFUSED_ROWS)
    write(tmp_path, "NEW", REFUSED_ROWS)
    failed = {"BAD": EVERY_ROW_REJECTED, "NEW": EVERY_ROW_REJECTED}
    assert sync(db, provider, "sync-2") == failed
    assert active_tickers(db) == ["BAD", "GOOD"]  # NEW is not created, BAD is left as it was
    assert quarantine_rows(db) == [*refused("BAD"), *refused("NEW")]  # GOOD has a good row

    report = ingest_prices(db, provider, *LOAD_RANGE, batch_size=10, run_id="run-1")

    assert [(o.ticker, o.status, o.reason) for o in report.failed] == [
        ("BAD", TickerStatus.ERROR, EVERY_ROW_REJECTED)
    ]
    assert report.prices.inserted == 2
    expected = [*refused("BAD"), ("GOOD", None, "unparseable", "9999-12-31"), *refused("NEW")]
    assert quarantine_rows(db) == expected  # BAD's rows, refused again by the load, kept once

    again = ingest_prices(db, provider, *LOAD_RANGE, batch_size=10, run_id="run-2")

    assert [o.ticker for o in again.failed] == ["BAD"]
    assert sync(db, provider, "sync-3") == failed
    assert quarantine_rows(db) == expected  # an undated row refused again is the same row
