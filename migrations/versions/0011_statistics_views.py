"""One definition of the day return in the analyst views: the SQL function `day_return()`.

`day_return(close_price, previous_close)` is `close_price / previous_close - 1` (NULL when the
previous close is NULL or 0): a security's return on a date, given its close on or before that date
and its close before it. The definition, and how the other market statistics are defined, is the
module docstring of `rm_pipeline.core.market_statistics`. The function is plain SQL and immutable,
so the planner inlines it: a view using it costs what the bare expression did.

`v_latest_prices.day_return` and `v_daily_returns.daily_return` are recomputed through it, with the
same columns, rows and `security_invoker` as in 0005. `rm_analyst` may execute it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""

from collections.abc import Callable, Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAY_RETURN_FUNCTION = """
CREATE FUNCTION day_return(close_price numeric, previous_close numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT close_price / nullif(previous_close, 0) - 1 $$
"""

ReturnExpression = Callable[[str, str], str]
"""The SQL of a return, given the SQL of the close and of the previous close."""


def through_function(close: str, previous_close: str) -> str:
    return f"day_return({close}, {previous_close})"


def as_in_0005(close: str, previous_close: str) -> str:
    return f"{close} / nullif({previous_close}, 0) - 1"


def views(day_return: ReturnExpression) -> dict[str, str]:
    """The two views of 0005 that compute a day return, with `day_return` computing it."""
    return {
        "v_latest_prices": f"""
            SELECT
                s.id AS security_id, s.ticker, s.exchange, s.name, s.security_type, s.currency,
                bar.date, bar.open, bar.high, bar.low, bar.close, bar.volume,
                previous.close AS previous_close,
                bar.close - previous.close AS day_change,
                {day_return("bar.close", "previous.close")} AS day_return
            FROM securities AS s
            CROSS JOIN LATERAL (
                SELECT p.date, p.open, p.high, p.low, p.close, p.volume
                FROM price_history AS p
                WHERE p.security_id = s.id
                ORDER BY p.date DESC
                LIMIT 1
            ) AS bar
            LEFT JOIN LATERAL (
                SELECT p.close
                FROM price_history AS p
                WHERE p.security_id = s.id AND p.date < bar.date
                ORDER BY p.date DESC
                LIMIT 1
            ) AS previous ON true
        """,  # noqa: S608 (composed of this module's SQL only)
        "v_daily_returns": f"""
            SELECT
                p.security_id, s.ticker, s.exchange, p.date, p.close, p.volume,
                lag(p.close) OVER bars AS previous_close,
                {day_return("p.close", "lag(p.close) OVER bars")} AS daily_return
            FROM price_history AS p
            JOIN securities AS s ON s.id = p.security_id
            WINDOW bars AS (PARTITION BY p.security_id, s.ticker, s.exchange ORDER BY p.date)
        """,  # noqa: S608 (composed of this module's SQL only)
    }


def replace_views(day_return: ReturnExpression) -> None:
    for name, query in views(day_return).items():
        op.execute(f"CREATE OR REPLACE VIEW {name} WITH (security_invoker = true) AS {query}")


def upgrade() -> None:
    op.execute(DAY_RETURN_FUNCTION)
    replace_views(through_function)
    grant_analyst()


def grant_analyst() -> None:
    """rm_analyst may call day_return(), once the role exists (see 0005)."""
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_analyst') THEN "
        "GRANT EXECUTE ON FUNCTION day_return(numeric, numeric) TO rm_analyst; END IF; END $$"
    )


def downgrade() -> None:
    replace_views(as_in_0005)
    op.execute("DROP FUNCTION day_return(numeric, numeric)")
