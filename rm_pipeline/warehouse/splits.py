"""The splits the warehouse counts, reported by a provider or inferred from a restated history,
and an operator's withdrawal of an inferred one.

Withdrawing deletes the inferred split (the deletion is kept in `corporate_actions_superseded`)
and moves the open paper positions back to the scale without it, in one transaction. The stored
prices stay as the source sends them: were they really restated for a split, the operator would
rather keep the inference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import Connection, text

from rm_pipeline.core.splits import split_label
from rm_pipeline.db.changes import declare_change
from rm_pipeline.warehouse.valuations import apply_splits

STORED_SPLITS = text(
    """
    SELECT s.ticker, c.date, c.value, c.basis, c.data_source, c.note
    FROM corporate_actions AS c JOIN securities AS s ON s.id = c.security_id
    WHERE c.action = 'split' AND (CAST(:ticker AS text) IS NULL OR s.ticker = :ticker)
      AND (NOT :inferred_only OR c.basis = 'inferred')
    ORDER BY s.ticker, c.date
    """
)
DELETE_INFERRED_SPLIT = text(
    """
    DELETE FROM corporate_actions AS c USING securities AS s
    WHERE s.id = c.security_id AND s.ticker = :ticker AND c.date = :day
      AND c.action = 'split' AND c.basis = 'inferred'
    RETURNING c.value
    """
)


@dataclass(frozen=True)
class StoredSplit:
    ticker: str
    date: date
    value: Decimal
    basis: str
    data_source: str | None
    note: str | None

    @property
    def label(self) -> str:
        """`4:1`, `3:2`, `1:10`."""
        return split_label(Fraction(self.value).limit_denominator(1000))


class NoInferredSplit(LookupError):
    """No inferred split of that ticker on that date."""


def stored_splits(
    conn: Connection, ticker: str | None = None, inferred_only: bool = False
) -> list[StoredSplit]:
    """Every stored split (of `ticker` only, when given), by ticker and date."""
    rows = conn.execute(STORED_SPLITS, {"ticker": ticker, "inferred_only": inferred_only})
    return [StoredSplit(*row) for row in rows]


def withdraw_inferred_split(conn: Connection, ticker: str, day: date) -> int:
    """Delete the inferred split of `ticker` on `day` and rescale the open positions it
    counted in; how many positions moved."""
    declare_change(conn, "inferred split withdrawn by an operator")
    if conn.execute(DELETE_INFERRED_SPLIT, {"ticker": ticker, "day": day}).first() is None:
        raise NoInferredSplit(f"{ticker} has no inferred split on {day}")
    return len(apply_splits(conn))
