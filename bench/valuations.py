"""Valuation benchmark: the warehouse's set-based SQL against pandas doing the same work.

In one run, on a scratch database, it loads securities x years of daily bars with COPY and
portfolios x holdings (setup, not timed), then times each computation both ways:

1. market statistics: `refresh_market_stats` against pandas reading `price_history`, computing
   the same statistics and writing them back to `securities`;
2. portfolio valuations: `value_portfolios` against pandas reading the holdings, portfolios and
   closes, valuing them and writing back to `portfolio_holdings` and `portfolios`.

pandas reads with COPY ... TO STDOUT into pyarrow and writes with the project's bulk loader (COPY
into staging, one UPDATE), the fastest way in and out there is. The output columns are cleared
before every timed run, so each side writes every row; the pandas results are then compared with
the SQL ones. Full size (the default) is 5,000 securities x 10 years (12.6M bars) and 10,000
portfolios x 10 holdings; use --securities / --years / --portfolios for a quick run.

Target: the valuation's SQL at least 8x pandas. Before migration 0021, at full size on two quiet
cores, it measured 1.57 to 1.62 s against pandas' 11.5 to 11.8 s (7.1x to 7.5x): each rate is
looked up once per currency pair and date (8.2 s when `fx_rate` ran for every holding), and about
0.85 s of the SQL was the UPDATE of the 100,000 holdings itself, the write pandas pays as well (no
HOT update: the cleared rows filled their pages, so every new version went to another page and
into all four indexes). Migration 0021 leaves room on the pages of `portfolio_holdings` and
`portfolios` (fillfactor 40), and every update of both sides is now HOT (100,000 holdings and
10,000 portfolios each). With the holdings and portfolios reloaded at each fillfactor in one run
(full size, load average about 4 on two cores from other work): SQL 1.99 and 3.43 s at 100,
1.23 and 2.00 s at 40, pandas 20 to 29 s throughout; the holdings' UPDATE wrote 200,000 WAL
records instead of 701,000 (EXPLAIN ANALYZE). At full size on two quiet cores (load
average about 1, this benchmark alone) it measured 1.02 s against pandas' 12.49 s (12.2x), market
statistics 1.42 s against 16.02 s (11.3x), the results identical.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg import sql
from sqlalchemy import Connection, Engine, TextClause, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    copy_rows,
    create_portfolios,
    keys_rebuilt_afterwards,
    load_holdings,
    measured,
    scratch_database,
    vacuum_analyze,
)

from rm_pipeline.core.market_statistics import AVERAGE_VOLUME_WINDOW, TRAILING_YEAR
from rm_pipeline.db.engine import build_engine
from rm_pipeline.db.loader import UpsertSpec, update_frame
from rm_pipeline.warehouse.market_stats import refresh_market_stats
from rm_pipeline.warehouse.valuations import value_portfolios

TRADING_DAYS_PER_YEAR = 252
LAST_DAY = "2025-11-21"
SECURITIES_PER_COPY_BATCH = 100

BAR_COLUMNS = ("security_id", "date", "open", "high", "low", "close", "volume")
STATS = ("current_price", "volume", "avg_volume", "fifty_two_week_high", "fifty_two_week_low")
HOLDING_VALUES = (
    "current_price",
    "market_value",
    "cost_basis",
    "unrealized_pnl",
    "unrealized_pnl_percent",
)
PORTFOLIO_VALUES = ("equity_value", "total_value", "total_return", "day_return")
LAST_UPDATED = {"last_updated": "CURRENT_TIMESTAMP"}
STATS_SPEC = UpsertSpec("securities", ("id", *STATS), ("id",), on_change=LAST_UPDATED)
HOLDINGS_SPEC = UpsertSpec("portfolio_holdings", ("id", *HOLDING_VALUES), ("id",))
PORTFOLIOS_SPEC = UpsertSpec("portfolios", ("id", *PORTFOLIO_VALUES), ("id",))

CLEAR_STATS = text(
    "UPDATE securities SET current_price = NULL, volume = NULL, avg_volume = NULL, "
    "fifty_two_week_high = NULL, fifty_two_week_low = NULL"
)
CLEAR_VALUES = (
    text(
        "UPDATE portfolio_holdings SET current_price = NULL, market_value = NULL, "
        "cost_basis = NULL, unrealized_pnl = NULL, unrealized_pnl_percent = NULL"
    ),
    text(
        "UPDATE portfolios SET equity_value = NULL, total_value = NULL, total_return = NULL, "
        "day_return = NULL"
    ),
)
# pandas computes in binary floating point, the warehouse in NUMERIC: values that agree to this are
# equal (every output has at most 6 decimals), so any rounding that went the other way is counted.
FLOAT_NOISE = 5e-7


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--securities", type=int, default=5_000, help="default 5,000")
    parser.add_argument("--years", type=float, default=10, help="of daily bars; default 10")
    parser.add_argument("--portfolios", type=int, default=10_000, help="default 10,000")
    parser.add_argument("--holdings", type=int, default=10, help="per portfolio; default 10")
    parser.add_argument("--seed", type=int, default=7, help="random seed; default 7")
    return parser.parse_args()


# Setup -------------------------------------------------------------------------------------------


def create_securities(engine: Engine, count: int) -> list[str]:
    with engine.begin() as conn:
        return list(
            conn.execute(
                text(
                    "INSERT INTO securities (ticker, name, security_type, exchange, "
                    "trading_calendar) SELECT 'B' || g, 'Bench ' || g, 'equity', 'BENCH', 'BENCH' "
                    "FROM generate_series(1, :count) AS g RETURNING id::text"
                ),
                {"count": count},
            ).scalars()
        )


def bars(
    security_ids: Sequence[str], dates: pd.DatetimeIndex, rng: np.random.Generator
) -> pd.DataFrame:
    """Random-walk daily bars of each security on each date."""
    shape = (len(security_ids), len(dates))
    start = rng.uniform(10, 500, (len(security_ids), 1))
    close = (start * np.exp(np.cumsum(rng.normal(0.0003, 0.02, shape), axis=1))).ravel()
    return pd.DataFrame(
        {
            "security_id": np.repeat(security_ids, len(dates)),
            "date": np.tile(dates.date, len(security_ids)),
            "open": close.round(6),
            "high": (close * (1 + np.abs(rng.normal(0, 0.01, close.size)))).round(6),
            "low": (close * (1 - np.abs(rng.normal(0, 0.01, close.size)))).round(6),
            "close": close.round(6),
            "volume": rng.lognormal(13, 1, close.size).astype("int64"),
        }
    )


def load_prices(
    engine: Engine, security_ids: list[str], days: int, rng: np.random.Generator
) -> int:
    dates = pd.bdate_range(end=LAST_DAY, periods=days)
    batches = (
        bars(security_ids[start : start + SECURITIES_PER_COPY_BATCH], dates, rng)
        for start in range(0, len(security_ids), SECURITIES_PER_COPY_BATCH)
    )
    with keys_rebuilt_afterwards(engine, "price_history"):
        copy_rows(engine, "price_history", BAR_COLUMNS, batches)
    with engine.begin() as conn:  # every weekday a session: each bar follows the one before
        conn.execute(
            text("INSERT INTO market_sessions (calendar, date) SELECT 'BENCH', unnest(:dates)"),
            {"dates": list(dates.date)},
        )
    return len(security_ids) * days


# Reading into pandas -----------------------------------------------------------------------------


def read_frame(
    conn: Connection, query: str | sql.Composable, categories: Sequence[str] = ()
) -> pd.DataFrame:
    """The query's rows via COPY TO STDOUT and pyarrow's CSV reader (`categories` as categorical)."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    copy = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER)").format(
        sql.SQL(query) if isinstance(query, str) else query
    )
    with tempfile.TemporaryFile() as buffer:
        with raw.cursor() as cursor, cursor.copy(copy) as stream:
            for chunk in stream:
                buffer.write(chunk)
        buffer.seek(0)
        types = {column: pa.dictionary(pa.int32(), pa.string()) for column in categories}
        table = pa_csv.read_csv(buffer, convert_options=pa_csv.ConvertOptions(column_types=types))
    return table.to_pandas(date_as_object=False)


TIE_SLACK = 1e-7
"""How far below a tie a scaled float may land and still round as the tie: the product of two
decimals (quantity x price) in floating point can fall a hair short of the exact .5 NUMERIC sees."""


def round_half_away(values: pd.Series, places: int = 0) -> pd.Series:
    """NUMERIC's rounding (half away from zero), in floating point."""
    scale = 10.0**places
    return np.sign(values) * np.floor(np.abs(values) * scale + 0.5 + TIE_SLACK) / scale


# pandas implementations --------------------------------------------------------------------------


def pandas_market_stats(conn: Connection) -> int:
    """The statistics of `refresh_market_stats`, with the same windows, in pandas."""
    bars = read_frame(
        conn,
        "SELECT security_id, date, high, low, close, volume FROM price_history",
        ["security_id"],
    )
    by_security = bars.groupby("security_id", observed=True)
    latest = bars.loc[by_security["date"].idxmax()].set_index("security_id")
    latest_date = by_security["date"].transform("max")
    year = bars[bars["date"] > latest_date - pd.Timedelta(TRAILING_YEAR)]
    quarter = bars[bars["date"] > latest_date - pd.Timedelta(AVERAGE_VOLUME_WINDOW)]
    year_high = year["high"].fillna(year["close"]).groupby(year["security_id"], observed=True)
    year_low = year["low"].fillna(year["close"]).groupby(year["security_id"], observed=True)
    stats = pd.DataFrame(
        {
            "current_price": latest["close"],
            "volume": latest["volume"].astype("Int64"),
            "avg_volume": round_half_away(
                quarter.groupby("security_id", observed=True)["volume"].mean()
            ).astype("Int64"),
            "fifty_two_week_high": year_high.max(),
            "fifty_two_week_low": year_low.min(),
        }
    )
    stats.index = stats.index.astype(str)
    return update_frame(conn, stats.rename_axis("id").reset_index(), STATS_SPEC).updated


def latest_closes(closes: pd.DataFrame) -> pd.Series:
    """Each security's close on its latest date in `closes`, indexed by security id."""
    latest = closes.loc[closes.groupby("security_id", observed=True)["date"].idxmax()]
    return latest.set_index(latest["security_id"].astype(str))["close"]


def pandas_valuations(conn: Connection) -> tuple[int, int]:
    """The valuations of `value_portfolios`, with the same conventions, in pandas."""
    closes = read_frame(conn, "SELECT security_id, date, close FROM price_history", ["security_id"])
    holdings = read_frame(
        conn,
        "SELECT id, portfolio_id, security_id, side, quantity, average_entry_price "
        "FROM portfolio_holdings",
    )
    portfolios = read_frame(conn, "SELECT id, cash_balance FROM portfolios")
    cached = read_frame(conn, "SELECT id, current_price FROM securities").set_index("id")

    current = latest_closes(closes).combine_first(cached["current_price"])
    previous = latest_closes(closes[closes["date"] < closes["date"].max()])
    direction = np.where(holdings["side"] == "long", 1, -1)
    quantity = holdings["quantity"]
    holdings["current_price"] = holdings["security_id"].map(current)
    gross = round_half_away(quantity * holdings["current_price"], 2)
    previous_gross = round_half_away(quantity * holdings["security_id"].map(previous), 2)
    holdings["cost_basis"] = round_half_away(quantity * holdings["average_entry_price"], 2)
    holdings["market_value"] = direction * gross
    holdings["previous_market_value"] = direction * previous_gross
    holdings["unrealized_pnl"] = direction * (gross - holdings["cost_basis"])
    holdings["unrealized_pnl_percent"] = round_half_away(
        holdings["unrealized_pnl"] / holdings["cost_basis"].where(holdings["cost_basis"] != 0), 4
    )

    sums = holdings.groupby("portfolio_id").agg(
        holdings=("id", "size"),
        priced=("market_value", "count"),
        previously_priced=("previous_market_value", "count"),
        equity=("market_value", "sum"),
        previous_equity=("previous_market_value", "sum"),
        pnl=("unrealized_pnl", "sum"),
        cost=("cost_basis", "sum"),
    )
    values = portfolios.join(sums, on="id")
    cash = values["cash_balance"].fillna(0)
    empty = values["holdings"].isna()
    equity = values["equity"].where(values["priced"] == values["holdings"]).mask(empty, 0)
    previous_equity = (
        values["previous_equity"]
        .where(values["previously_priced"] == values["holdings"])
        .mask(empty, 0)
    )
    previous_total = cash + previous_equity
    values["equity_value"] = equity
    values["total_value"] = cash + equity
    values["total_return"] = round_half_away(
        (values["pnl"] / values["cost"].where(values["cost"] != 0)).where(equity.notna()), 4
    )
    values["day_return"] = round_half_away(
        ((equity - previous_equity) / previous_total).where(previous_total > 0), 4
    )
    return (
        update_frame(conn, holdings, HOLDINGS_SPEC).updated,
        update_frame(conn, values, PORTFOLIOS_SPEC).updated,
    )


# The run -----------------------------------------------------------------------------------------


def snapshot(engine: Engine, table: str, columns: Sequence[str]) -> pd.DataFrame:
    query = sql.SQL("SELECT id, {} FROM {}").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table)
    )
    with engine.connect() as conn:
        return read_frame(conn, query).set_index("id")


def disagreements(expected: pd.DataFrame, actual: pd.DataFrame) -> dict[str, int]:
    """Per column, the rows where pandas and SQL differ (beyond floating-point noise)."""
    actual = actual.reindex(expected.index)
    counts = {}
    for column in expected.columns:
        a, b = expected[column].astype("float64"), actual[column].astype("float64")
        differ = (a - b).abs() > FLOAT_NOISE
        counts[column] = int((differ | (a.isna() != b.isna())).sum())
    return counts


def timed_pair(
    engine: Engine,
    url: str,
    clear: Sequence[TextClause],
    in_sql: Callable[[Connection], object],
    in_pandas: Callable[[Connection], object],
    outputs: dict[str, Sequence[str]],
) -> tuple[float, float, dict[str, dict[str, int]], float]:
    """Time `in_sql` and `in_pandas` from the same cleared state; compare their outputs."""
    results = []
    peak = 0.0
    for run in (in_sql, in_pandas):
        with engine.begin() as conn:
            for statement in clear:
                conn.execute(statement)
        vacuum_analyze(url)
        with measured() as timing, engine.begin() as conn:
            run(conn)
        peak = max(peak, timing.peak_rss_mb)
        results.append(
            (timing.seconds, {t: snapshot(engine, t, cols) for t, cols in outputs.items()})
        )
    (sql_seconds, expected), (pandas_seconds, actual) = results
    differences = {t: disagreements(expected[t], actual[t]) for t in outputs}
    return sql_seconds, pandas_seconds, differences, peak


def report(
    name: str,
    sql_seconds: float,
    pandas_seconds: float,
    differences: dict[str, dict[str, int]],
    peak: float,
) -> None:
    print(
        f"{name:<20} SQL {sql_seconds:8.2f} s   pandas {pandas_seconds:8.2f} s   "
        f"pandas / SQL {pandas_seconds / sql_seconds:6.1f}x   peak RSS {peak:,.0f} MB"
    )
    for table, counts in differences.items():
        differing = {column: count for column, count in counts.items() if count}
        print(f"{'':<20} {table}: pandas and SQL disagree on {differing or 'nothing'}")


def main() -> None:
    args = parse_args()
    rng = np.random.default_rng(args.seed)
    days = round(args.years * TRADING_DAYS_PER_YEAR)
    with scratch_database() as url:
        engine = build_engine(url)
        with measured() as setup:
            security_ids = create_securities(engine, args.securities)
            bar_count = load_prices(engine, security_ids, days, rng)
            portfolio_ids = create_portfolios(engine, args.portfolios)
            holding_count = load_holdings(engine, portfolio_ids, security_ids, args.holdings, rng)
            vacuum_analyze(url)
        print(
            f"setup: {args.securities:,} securities x {days:,} days = {bar_count:,} bars, "
            f"{len(portfolio_ids):,} portfolios, {holding_count:,} holdings "
            f"in {setup.seconds:,.0f} s (not timed below)"
        )
        report(
            "market statistics",
            *timed_pair(
                engine,
                url,
                [CLEAR_STATS],
                refresh_market_stats,
                pandas_market_stats,
                {"securities": STATS},
            ),
        )
        report(
            "portfolio valuation",
            *timed_pair(
                engine,
                url,
                CLEAR_VALUES,
                value_portfolios,
                pandas_valuations,
                {"portfolio_holdings": HOLDING_VALUES, "portfolios": PORTFOLIO_VALUES},
            ),
        )
        engine.dispose()


if __name__ == "__main__":
    main()
