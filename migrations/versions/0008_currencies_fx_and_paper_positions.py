"""Currencies and exchange rates; paper execution of trades.

Currencies. `currency_units` names the minor units some exchanges quote in and their major
currency: London's pence (`GBp`, also written `GBX`) are 1/100 of a pound, Johannesburg's cents
(`ZAc`, `ZAC`) 1/100 of a rand, Tel Aviv's agorot (`ILA`) 1/100 of a shekel. A code not listed is
its own major currency. That table is the one rule for minor units: `fx_rate()` applies it, and
nothing else divides by 100.

`fx_rates` holds daily exchange rates of major currencies: `rate` is how many units of
`quote_currency` one unit of `base_currency` buys at the day's close (Yahoo's `EURUSD=X` is base EUR,
quote USD). The pipeline stores every currency it needs against USD; other pairs are crossed
through USD.

`fx_rate(from_currency, to_currency, on_date)` is the rate that converts an amount in
`from_currency` (minor units allowed) into `to_currency` on `on_date`: the latest stored rate dated
on or before `on_date` and at most 7 days before it (a weekend or a holiday has no rate of its own),
or NULL when there is none. A NULL rate is never replaced by a guess: whatever it would convert
stays NULL. The same currency, or two units of one (GBp to GBP), converts without a rate.

Trades and their positions, executed on paper:

- `trades.currency` is the currency a trade's values are in (USD unless set); `trades.notional` the
  amount activating it invests (NULL: the documented default of the trade layer).
- `positions.entry_fx_rate` is `fx_rate(security currency, trade currency, entry close's date)`,
  fixed when the position opens, so its cost in the trade's currency does not move with later
  rates.
- `positions.exit_price` and `positions.realized_pnl` (in the trade's currency) are recorded when the
  trade closes.
- `positions.split_factor` is the product of the split ratios counted in the position since it
  opened (revision 0012 says from when): a split multiplies `quantity` and divides `entry_price` and
  `exit_price` by its ratio, once.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from rm_pipeline.db import migration_sql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("CURRENT_TIMESTAMP")

MINOR_UNITS = (
    ("GBp", "GBP", 100),
    ("GBX", "GBP", 100),
    ("ZAc", "ZAR", 100),
    ("ZAC", "ZAR", 100),
    ("ILA", "ILS", 100),
)


def upgrade() -> None:
    op.create_table(
        "currency_units",
        sa.Column("code", sa.String(length=10), nullable=False),
        sa.Column("major_currency", sa.String(length=10), nullable=False),
        sa.Column("units_per_major", sa.Integer(), nullable=False),
        sa.CheckConstraint("units_per_major > 0", name="valid_units_per_major"),
        sa.PrimaryKeyConstraint("code", name="currency_units_pkey"),
    )
    op.bulk_insert(
        sa.table(
            "currency_units",
            sa.column("code", sa.String),
            sa.column("major_currency", sa.String),
            sa.column("units_per_major", sa.Integer),
        ),
        [
            {"code": code, "major_currency": major, "units_per_major": units}
            for code, major, units in MINOR_UNITS
        ],
    )
    op.create_table(
        "fx_rates",
        sa.Column("base_currency", sa.String(length=10), nullable=False),
        sa.Column("quote_currency", sa.String(length=10), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("rate", sa.Numeric(20, 10), nullable=False),
        sa.Column("data_source", sa.String(length=50), nullable=True),
        sa.Column("created_at", postgresql.TIMESTAMP(), server_default=NOW, nullable=True),
        sa.Column("updated_at", postgresql.TIMESTAMP(), server_default=NOW, nullable=True),
        sa.CheckConstraint("rate > 0", name="valid_fx_rate"),
        sa.CheckConstraint("base_currency <> quote_currency", name="distinct_fx_currencies"),
        sa.PrimaryKeyConstraint("base_currency", "quote_currency", "date", name="fx_rates_pkey"),
    )
    op.execute(
        "CREATE TRIGGER fx_rates_set_updated_at BEFORE UPDATE ON fx_rates "
        "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
    )
    migration_sql.create(["fx_rate"], revision)

    op.add_column(
        "trades",
        sa.Column(
            "currency", sa.String(length=10), server_default=sa.text("'USD'"), nullable=False
        ),
    )
    op.add_column("trades", sa.Column("notional", sa.Numeric(20, 2), nullable=True))
    op.create_check_constraint("valid_notional", "trades", "notional > 0")
    op.add_column("positions", sa.Column("entry_fx_rate", sa.Numeric(20, 10), nullable=True))
    op.add_column("positions", sa.Column("exit_price", sa.Numeric(20, 6), nullable=True))
    op.add_column("positions", sa.Column("realized_pnl", sa.Numeric(20, 2), nullable=True))
    op.add_column(
        "positions",
        sa.Column("split_factor", sa.Numeric(20, 10), server_default=sa.text("1"), nullable=False),
    )
    op.create_check_constraint("valid_split_factor", "positions", "split_factor > 0")
    grant_analyst()


def grant_analyst() -> None:
    """rm_analyst reads the currency tables, once the role exists (see 0005)."""
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_analyst') THEN "
        "GRANT SELECT ON currency_units, fx_rates TO rm_analyst; "
        "GRANT EXECUTE ON FUNCTION fx_rate(text, text, date) TO rm_analyst; END IF; END $$"
    )


def downgrade() -> None:
    op.drop_constraint("valid_split_factor", "positions")
    for column in ("split_factor", "realized_pnl", "exit_price", "entry_fx_rate"):
        op.drop_column("positions", column)
    op.drop_constraint("valid_notional", "trades")
    op.drop_column("trades", "notional")
    op.drop_column("trades", "currency")
    op.execute("DROP FUNCTION fx_rate(text, text, date)")
    op.drop_table("fx_rates")
    op.drop_table("currency_units")
