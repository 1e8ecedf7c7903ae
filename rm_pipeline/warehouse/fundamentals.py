"""Apply a provider's fundamentals snapshot to `securities`.

Which source wins, field by field:

- `market_cap`, `pe_ratio`, `ps_ratio`, `pb_ratio`, `ev_ebitda`, `dividend_yield`: the snapshot. It
  replaces the stored values; a missing value (NaN) stores NULL, since a stale ratio is worse than
  none.
- `current_price`, `volume`, `avg_volume`, `fifty_two_week_high`, `fifty_two_week_low`: the price
  history (`refresh_market_stats`). The snapshot's values are written only for securities without
  any price history, which nothing else prices.
- `data_source`: the given source, for every matched security.
- `last_updated`: set whenever one of the above changed.

Values are never truncated or clamped. A value its column cannot hold once rounded to the column's
scale (NUMERIC(10,2): |x| < 1e8; NUMERIC(10,4): |x| < 1e6; NUMERIC(20,6): |x| < 1e14; BIGINT:
|x| < 2^63), an infinite value, a negative value where none is possible (market cap, P/S, dividend
yield, prices, volumes) and a dividend yield above 1 (it is a fraction; above 1 is a percentage sent
by mistake) is rejected: that one field is stored as NULL, exactly as if the provider had not sent
it, the rest of the row is applied, and the result names the ticker, field, value and reason.

Rows are matched on ticker, against active securities only: an inactive security never receives
fundamentals. Tickers no active security has are reported as unknown and skipped. When the snapshot
holds a ticker twice, the row with the latest `as_of` wins.

A snapshot names tickers only (`FundamentalsFrame` carries no exchange), and the provider answers
for a ticker with one set of figures, the same that every listing of that ticker in the warehouse
is loaded from. So when the universe names one ticker on several exchanges, each of those active
securities receives the ticker's figures (reported in `shared_tickers`) rather than none of them,
run after run; the quote fields still go only to those without price history. An exchange move
(`rm_pipeline.ingest.securities`) keeps one row, so it never makes a ticker shared.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from rm_pipeline.db.loader import UpsertSpec, update_frame

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FieldRule:
    """What a snapshot field must satisfy to be stored in its column without loss."""

    field: str
    sql_type: str
    scale: int
    bound: float
    non_negative: bool = False
    maximum: float | None = None


def numeric(
    field: str,
    precision: int,
    scale: int,
    non_negative: bool = False,
    maximum: float | None = None,
) -> FieldRule:
    bound = 10.0 ** (precision - scale)
    return FieldRule(field, f"NUMERIC({precision},{scale})", scale, bound, non_negative, maximum)


def bigint(field: str, non_negative: bool = False) -> FieldRule:
    return FieldRule(field, "BIGINT", 0, 2.0**63, non_negative)


FUNDAMENTAL_RULES = (
    bigint("market_cap", non_negative=True),
    numeric("pe_ratio", 10, 2),
    numeric("ps_ratio", 10, 2, non_negative=True),
    numeric("pb_ratio", 10, 2),
    numeric("ev_ebitda", 10, 2),
    numeric("dividend_yield", 10, 4, non_negative=True, maximum=1.0),
)
QUOTE_RULES = (
    numeric("current_price", 20, 6, non_negative=True),
    bigint("volume", non_negative=True),
    bigint("avg_volume", non_negative=True),
    numeric("fifty_two_week_high", 20, 6, non_negative=True),
    numeric("fifty_two_week_low", 20, 6, non_negative=True),
)
SNAPSHOT_COLUMNS = ("ticker", "as_of", *(rule.field for rule in FUNDAMENTAL_RULES + QUOTE_RULES))

LAST_UPDATED = {"last_updated": "CURRENT_TIMESTAMP"}
FUNDAMENTALS_SPEC = UpsertSpec(
    table="securities",
    columns=("id", *(rule.field for rule in FUNDAMENTAL_RULES), "data_source"),
    key_columns=("id",),
    on_change=LAST_UPDATED,
)
QUOTES_SPEC = UpsertSpec(
    table="securities",
    columns=("id", *(rule.field for rule in QUOTE_RULES)),
    key_columns=("id",),
    on_change=LAST_UPDATED,
)

FUNDAMENTALS_COLUMNS = tuple(
    dict.fromkeys(
        column
        for spec in (FUNDAMENTALS_SPEC, QUOTES_SPEC)
        for column in (*spec.columns, *spec.on_change)
        if column not in spec.key_columns
    )
)
"""The columns of `securities` the fundamentals write: the snapshot's, and the quotes of
securities without a price history."""

ACTIVE_TICKERS = text("SELECT ticker FROM securities WHERE is_active ORDER BY ticker")
MATCH_TICKERS = text(
    """
    SELECT s.ticker, s.id::text AS id,
           EXISTS (SELECT 1 FROM price_history AS p WHERE p.security_id = s.id) AS has_history
    FROM securities AS s
    WHERE s.is_active AND s.ticker = ANY(:tickers)
    """
)


@dataclass(frozen=True)
class Rejection:
    ticker: str
    field: str
    value: float
    reason: str

    def __str__(self) -> str:
        return f"{self.ticker} {self.field}={self.value!r}: {self.reason}"


@dataclass(frozen=True)
class FundamentalsResult:
    """Counts of one snapshot's application.

    `matched`: active securities the snapshot names; `updated`: those whose fundamentals or data
    source changed; `quotes_updated`: those without price history whose price, volume or 52-week
    fields changed; `shared_tickers`: tickers whose figures went to several securities.
    """

    matched: int
    updated: int
    quotes_updated: int
    unknown_tickers: tuple[str, ...]
    shared_tickers: tuple[str, ...]
    rejections: tuple[Rejection, ...]


def active_tickers(conn: Connection) -> list[str]:
    """The tickers of the active securities, whose fundamentals are fetched, sorted."""
    return list(conn.execute(ACTIVE_TICKERS).scalars())


def apply_fundamentals(
    conn: Connection, snapshot: pd.DataFrame, data_source: str
) -> FundamentalsResult:
    """Write the snapshot's valid values to the matching securities (see the module docstring)."""
    _require_columns(snapshot)
    latest = snapshot.sort_values("as_of", kind="stable").drop_duplicates("ticker", keep="last")
    matches = pd.DataFrame(
        conn.execute(MATCH_TICKERS, {"tickers": latest["ticker"].tolist()}).mappings().all(),
        columns=["ticker", "id", "has_history"],
    )
    unpriced = matches[~matches["has_history"].astype(bool)]
    known = latest[latest["ticker"].isin(matches["ticker"])]
    fundamentals, fundamental_rejections = validated(known, FUNDAMENTAL_RULES)
    quotes, quote_rejections = validated(
        known[known["ticker"].isin(unpriced["ticker"])], QUOTE_RULES
    )
    listings = matches["ticker"].value_counts()

    result = FundamentalsResult(
        matched=len(matches),
        updated=update_frame(
            conn,
            per_security(fundamentals, matches).assign(data_source=data_source),
            FUNDAMENTALS_SPEC,
        ).updated,
        quotes_updated=update_frame(conn, per_security(quotes, unpriced), QUOTES_SPEC).updated,
        unknown_tickers=tuple(sorted(set(latest["ticker"]) - set(matches["ticker"]))),
        shared_tickers=tuple(sorted(listings[listings > 1].index)),
        rejections=tuple(fundamental_rejections + quote_rejections),
    )
    _log_problems(result)
    return result


def _require_columns(snapshot: pd.DataFrame) -> None:
    missing = [column for column in SNAPSHOT_COLUMNS if column not in snapshot.columns]
    if missing:
        raise ValueError(f"fundamentals snapshot lacks the columns {', '.join(missing)}")


def per_security(values: pd.DataFrame, securities: pd.DataFrame) -> pd.DataFrame:
    """Each security's `id` with its ticker's values."""
    return securities[["ticker", "id"]].merge(values, on="ticker").drop(columns="ticker")


def validated(
    rows: pd.DataFrame, rules: tuple[FieldRule, ...]
) -> tuple[pd.DataFrame, list[Rejection]]:
    """The rows' `ticker` and each rule's field rounded to its column's scale, invalid values
    nulled.

    Returns the frame of values to store and one rejection per nulled value.
    """
    clean = pd.DataFrame({"ticker": rows["ticker"]})
    rejections: list[Rejection] = []
    for rule in rules:
        raw = rows[rule.field].astype("float64")
        rounded = raw.round(rule.scale)
        reasons = rejection_reasons(rounded, rule)
        bad = reasons.notna()
        rejections += [
            Rejection(ticker, rule.field, float(value), reason)
            for ticker, value, reason in zip(
                rows["ticker"][bad], raw[bad], reasons[bad], strict=True
            )
        ]
        kept = rounded.where(~bad)
        clean[rule.field] = kept.astype("Int64") if rule.sql_type == "BIGINT" else kept
    return clean, rejections


def rejection_reasons(values: pd.Series, rule: FieldRule) -> pd.Series:
    """For each value, why it cannot be stored (the first failed check), or None."""
    checks = [(np.isinf(values), "is infinite")]
    if rule.non_negative:
        checks.append((values < 0, "is negative"))
    if rule.maximum is not None:
        checks.append((values > rule.maximum, f"is above {rule.maximum:g} (expected a fraction)"))
    checks.append((values.abs() >= rule.bound, f"does not fit {rule.sql_type}"))
    reasons = pd.Series(None, index=values.index, dtype="object")
    for failed, reason in checks:
        reasons = reasons.mask(reasons.isna() & failed, reason)
    return reasons


def _log_problems(result: FundamentalsResult) -> None:
    for rejection in result.rejections:
        log.warning("fundamentals value rejected: %s", rejection)
    if result.unknown_tickers:
        log.warning("fundamentals for unknown tickers: %s", ", ".join(result.unknown_tickers))
    if result.shared_tickers:
        log.info(
            "fundamentals shared by the listings of one ticker on several exchanges: %s",
            ", ".join(result.shared_tickers),
        )
