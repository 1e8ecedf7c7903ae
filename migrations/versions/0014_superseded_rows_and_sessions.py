"""Nothing overwritten without a trace; inferred corporate actions; repaired bars; exchange sessions.

Superseded rows. Every UPDATE or DELETE of `price_history`, `fx_rates` or `corporate_actions`, by
the pipeline or by hand, copies the rows as they were into `<table>_superseded`, with:

- `valid_from`: when that version became current (its `updated_at`, else its `created_at`);
- `superseded_at`: when the statement replaced it (the transaction's timestamp);
- `change`: 'updated' or 'deleted';
- `reason` and `run_id`: why and by which run, as the writer declared them in its transaction
  (`set_config('rm.change_reason', ..., true)`, `set_config('rm.run_id', ..., true)`), NULL for a
  writer that declared nothing; `changed_by`: the database role.

The triggers are statement-level with transition tables, so a bulk upsert copies its replaced
rows in one INSERT; an UPDATE that rewrites identical values copies nothing (the loader's upsert
does not even rewrite them). `price_history` and `corporate_actions` gain `updated_at`, kept by
0002's `set_updated_at()`, so each current row says since when it holds.

`prices_as_of(ts)`, `fx_rates_as_of(ts)` and `corporate_actions_as_of(ts)` return the rows the
warehouse held at `ts` (a timestamp in the server's time zone, like every `created_at`): the current
rows already written by then and the superseded versions current then.

Corporate actions gain `basis`: 'reported' (by a provider) or 'inferred' (the warehouse's own
conclusion: a provider restated a security's stored history at a split's ratio without reporting a
split), and `note`, which says what the inference rests on. An inferred split counts for paper
positions exactly as a reported one; an operator may delete it (the deletion is traced).

`price_history.repair` names what the loader repaired in a bar (a block quoted 100 times too high,
a split applied a session off its date), NULL for a bar stored as its source sent it; the raw
values are kept in the quarantine, resolved.

Exchange sessions. `market_sessions` holds the sessions of each exchange calendar
(`exchange_calendars` names, `24/7` for markets that never close) over the ranges loaded, and
`securities.trading_calendar` names a security's calendar, so SQL can tell a missing session from a
holiday and a stale price from a closed market.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("CURRENT_TIMESTAMP")

PRICE = sa.Numeric(20, 6)
TRACED: dict[str, tuple[tuple[tuple[str, sa.types.TypeEngine], ...], str]] = {
    "price_history": (
        (
            ("id", sa.UUID()),
            ("security_id", sa.UUID()),
            ("date", sa.Date()),
            ("open", PRICE),
            ("high", PRICE),
            ("low", PRICE),
            ("close", PRICE),
            ("volume", sa.BigInteger()),
            ("data_source", sa.String(length=50)),
            ("repair", sa.Text()),
            ("created_at", postgresql.TIMESTAMP()),
            ("updated_at", postgresql.TIMESTAMP()),
        ),
        "id",
    ),
    "fx_rates": (
        (
            ("base_currency", sa.String(length=10)),
            ("quote_currency", sa.String(length=10)),
            ("date", sa.Date()),
            ("rate", sa.Numeric(20, 10)),
            ("data_source", sa.String(length=50)),
            ("created_at", postgresql.TIMESTAMP()),
            ("updated_at", postgresql.TIMESTAMP()),
        ),
        "base_currency, quote_currency, date",
    ),
    "corporate_actions": (
        (
            ("id", sa.UUID()),
            ("security_id", sa.UUID()),
            ("date", sa.Date()),
            ("action", sa.String(length=20)),
            ("value", sa.Numeric(20, 8)),
            ("data_source", sa.String(length=50)),
            ("basis", sa.String(length=10)),
            ("note", sa.Text()),
            ("created_at", postgresql.TIMESTAMP()),
            ("updated_at", postgresql.TIMESTAMP()),
        ),
        "id",
    ),
}
"""Each traced table's columns (copied as they were, all nullable) and its key (to pair a
statement's old and new rows)."""


def trace_columns() -> list[sa.Column]:
    """What a superseded row adds to the row it keeps."""
    return [
        sa.Column("valid_from", postgresql.TIMESTAMP(), nullable=True),
        sa.Column("superseded_at", postgresql.TIMESTAMP(), server_default=NOW, nullable=False),
        sa.Column("change", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("changed_by", sa.Text(), server_default=sa.text("CURRENT_USER"), nullable=False),
    ]


TRACE_KEYS = {
    "price_history": ["security_id", "date"],
    "fx_rates": ["base_currency", "quote_currency", "date"],
    "corporate_actions": ["security_id", "date"],
}

SUPERSEDED_FUNCTION = """
CREATE FUNCTION {table}_keep_superseded() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO {table}_superseded ({columns}, valid_from, change, reason, run_id)
        SELECT {old_columns}, coalesce(o.updated_at, o.created_at), 'updated',
               nullif(current_setting('rm.change_reason', true), ''),
               nullif(current_setting('rm.run_id', true), '')
        FROM old_rows AS o JOIN new_rows AS n USING ({key})
        WHERE o IS DISTINCT FROM n;
    ELSE
        INSERT INTO {table}_superseded ({columns}, valid_from, change, reason, run_id)
        SELECT {old_columns}, coalesce(o.updated_at, o.created_at), 'deleted',
               nullif(current_setting('rm.change_reason', true), ''),
               nullif(current_setting('rm.run_id', true), '')
        FROM old_rows AS o;
    END IF;
    RETURN NULL;
END;
$$
"""

AS_OF_FUNCTION = """
CREATE FUNCTION {name}(as_of timestamp)
RETURNS TABLE ({signature})
LANGUAGE sql STABLE AS $$
    SELECT {columns} FROM {table}
    WHERE coalesce(updated_at, created_at) <= as_of
    UNION ALL
    SELECT {columns} FROM {table}_superseded
    WHERE (valid_from IS NULL OR valid_from <= as_of) AND superseded_at > as_of
$$
"""
AS_OF = {
    "prices_as_of": (
        "price_history",
        "security_id uuid, date date, open numeric, high numeric, low numeric, close numeric, "
        "volume bigint, data_source varchar, repair text",
        "security_id, date, open, high, low, close, volume, data_source, repair",
    ),
    "fx_rates_as_of": (
        "fx_rates",
        "base_currency varchar, quote_currency varchar, date date, rate numeric, "
        "data_source varchar",
        "base_currency, quote_currency, date, rate, data_source",
    ),
    "corporate_actions_as_of": (
        "corporate_actions",
        "security_id uuid, date date, action varchar, value numeric, data_source varchar, "
        "basis varchar, note text",
        "security_id, date, action, value, data_source, basis, note",
    ),
}


def _add_columns() -> None:
    op.add_column("price_history", sa.Column("updated_at", postgresql.TIMESTAMP(), nullable=True))
    op.add_column("price_history", sa.Column("repair", sa.Text(), nullable=True))
    op.add_column(
        "corporate_actions", sa.Column("updated_at", postgresql.TIMESTAMP(), nullable=True)
    )
    op.add_column(
        "corporate_actions",
        sa.Column(
            "basis", sa.String(length=10), server_default=sa.text("'reported'"), nullable=False
        ),
    )
    op.add_column("corporate_actions", sa.Column("note", sa.Text(), nullable=True))
    op.create_check_constraint(
        "valid_corporate_action_basis", "corporate_actions", "basis IN ('reported', 'inferred')"
    )
    for table in ("price_history", "corporate_actions"):
        op.execute(
            f"CREATE TRIGGER {table}_set_updated_at BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
        )


def _create_superseded_table(table: str) -> None:
    copied, key = TRACED[table]
    columns = [name for name, _ in copied]
    op.create_table(
        f"{table}_superseded",
        sa.Column("superseded_id", sa.BigInteger(), sa.Identity(), nullable=False),
        *(sa.Column(name, type_, nullable=True) for name, type_ in copied),
        *trace_columns(),
        sa.CheckConstraint("change IN ('updated', 'deleted')", name=f"valid_{table}_change"),
        sa.PrimaryKeyConstraint("superseded_id", name=f"{table}_superseded_pkey"),
    )
    op.create_index(
        f"idx_{table}_superseded_key",
        f"{table}_superseded",
        [*TRACE_KEYS[table], "superseded_at"],
    )
    op.execute(
        SUPERSEDED_FUNCTION.format(
            table=table,
            columns=", ".join(columns),
            old_columns=", ".join(f"o.{c}" for c in columns),
            key=key,
        )
    )
    op.execute(
        f"CREATE TRIGGER {table}_updated_kept AFTER UPDATE ON {table} "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_keep_superseded()"
    )
    op.execute(
        f"CREATE TRIGGER {table}_deleted_kept AFTER DELETE ON {table} "
        "REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_keep_superseded()"
    )


def grant_analyst() -> None:
    """rm_analyst reads the superseded rows, the sessions and the as-of functions, once the role
    exists (see 0005)."""
    tables = ", ".join([*(f"{t}_superseded" for t in TRACED), "market_sessions"])
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rm_analyst') THEN "
        f"GRANT SELECT ON {tables} TO rm_analyst; "
        "END IF; END $$"
    )


def upgrade() -> None:
    _add_columns()
    for table in TRACED:
        _create_superseded_table(table)
    for name, (table, signature, columns) in AS_OF.items():
        op.execute(
            AS_OF_FUNCTION.format(name=name, table=table, signature=signature, columns=columns)
        )
    op.create_table(
        "market_sessions",
        sa.Column("calendar", sa.String(length=20), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("calendar", "date", name="market_sessions_pkey"),
    )
    op.add_column("securities", sa.Column("trading_calendar", sa.String(length=20), nullable=True))
    grant_analyst()


def downgrade() -> None:
    op.drop_column("securities", "trading_calendar")
    op.drop_table("market_sessions")
    for name in AS_OF:
        op.execute(f"DROP FUNCTION {name}(timestamp)")
    for table in TRACED:
        op.execute(f"DROP TRIGGER {table}_deleted_kept ON {table}")
        op.execute(f"DROP TRIGGER {table}_updated_kept ON {table}")
        op.execute(f"DROP FUNCTION {table}_keep_superseded()")
        op.drop_table(f"{table}_superseded")
    for table in ("price_history", "corporate_actions"):
        op.execute(f"DROP TRIGGER {table}_set_updated_at ON {table}")
    op.drop_constraint("valid_corporate_action_basis", "corporate_actions", type_="check")
    op.drop_column("corporate_actions", "note")
    op.drop_column("corporate_actions", "basis")
    op.drop_column("corporate_actions", "updated_at")
    op.drop_column("price_history", "repair")
    op.drop_column("price_history", "updated_at")
