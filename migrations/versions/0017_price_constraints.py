"""What a bar must satisfy is the database's to enforce, not a nightly check's to find.

`price_history` gains CHECK constraints, each named for the rule it enforces:

- `bar_high_not_below_low`: `high >= low` when both are present;
- `bar_nonnegative_volume`: `volume >= 0` when present;
- `bar_positive_close`: `close > 0`;
- `bar_positive_prices`: `open`, `high` and `low` positive when present;
- `bar_range_holds_close` and `bar_range_holds_open`: `close` and `open` within [`low`, `high`]
  when those are present.

PostgreSQL tests a row's CHECK constraints in alphabetical order of their names and reports the
first it breaks; these names put the rule at fault first (a high below its low before the close
outside that empty range, a negative close before the close outside the range).

The loader refuses such bars before writing (`rm_pipeline.providers.validation`), so the checks
`ohlc_consistent` and `no_duplicate_bars` (which `UNIQUE (security_id, date)` already made
unfailable) that scanned the whole table every evening are gone with this revision.

Stored bars that break a rule (written by hand, or before the loader refused them) are neither a
reason for the upgrade to fail nor lost: each is moved to `quarantine` (`table_name`
'price_history', its ticker, date, values as `raw_values` and `data_source` ('unknown' when the
bar has none), no run) with the reason `ohlc_inconsistent: <constraint>`, the first rule it breaks
in that order (the one an INSERT of it would be refused by), and deleted from `price_history` in
the same statement; 0014's trigger keeps the deleted row in `price_history_superseded` with the
reason 'refused by constraint at migration 0017'.

Writers are held off (`SHARE ROW EXCLUSIVE`; readers go on) from that scan until the constraints
are added `NOT VALID`, which takes the table's exclusive lock only until the revision's
transaction commits; each constraint is then validated in a transaction of its own, a scan that
blocks neither readers nor writers.

The downgrade drops the constraints; the refused bars stay in the quarantine and in
`price_history_superseded`.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINTS = {
    "bar_high_not_below_low": "high >= low",
    "bar_nonnegative_volume": "volume >= 0",
    "bar_positive_close": "close > 0",
    "bar_positive_prices": "open > 0 AND high > 0 AND low > 0",
    "bar_range_holds_close": "close BETWEEN low AND high",
    "bar_range_holds_open": "open BETWEEN low AND high",
}
"""Each constraint's rule, in the order the server tests them and a refused bar is given its
reason. A NULL operand makes a rule unknown, which a CHECK accepts: that is what "when present"
means above."""

REFUSE_BROKEN_BARS = """
WITH refused AS (
    DELETE FROM price_history WHERE {broken}
    RETURNING security_id, date, open, high, low, close, volume, data_source, repair,
              CASE {cases} END AS rule
)
INSERT INTO quarantine (table_name, ticker, date, reason, raw_values, data_source, run_id)
SELECT DISTINCT ON (s.ticker, r.date, r.rule, coalesce(r.data_source, 'unknown'))
       'price_history', s.ticker, r.date, 'ohlc_inconsistent: ' || r.rule,
       jsonb_build_object('exchange', s.exchange, 'date', r.date, 'open', r.open,
                          'high', r.high, 'low', r.low, 'close', r.close, 'volume', r.volume,
                          'repair', r.repair),
       coalesce(r.data_source, 'unknown'), NULL
FROM refused AS r JOIN securities AS s ON s.id = r.security_id
ORDER BY s.ticker, r.date, r.rule, coalesce(r.data_source, 'unknown'), s.exchange
ON CONFLICT (table_name, ticker, date, reason, data_source) DO UPDATE
SET raw_values = excluded.raw_values, run_id = NULL, last_seen_at = CURRENT_TIMESTAMP,
    resolved_at = NULL
"""
"""Move every bar breaking a rule to the quarantine, with the first rule it breaks, in one
statement (one scan of the table). The quarantine keys its rows by ticker, not exchange: of two
listings sharing a ticker whose bars of one day break the same rule, it keeps the first exchange's
values (both stay in `price_history_superseded`)."""


def refuse_broken_bars() -> None:
    broken = " OR ".join(f"({rule}) IS FALSE" for rule in CONSTRAINTS.values())
    cases = " ".join(f"WHEN ({rule}) IS FALSE THEN '{name}'" for name, rule in CONSTRAINTS.items())
    op.execute("LOCK TABLE price_history IN SHARE ROW EXCLUSIVE MODE")
    op.execute(
        "SELECT set_config('rm.change_reason', 'refused by constraint at migration 0017', true)"
    )
    op.execute(REFUSE_BROKEN_BARS.format(broken=broken, cases=cases))


def upgrade() -> None:
    refuse_broken_bars()
    op.execute(
        "ALTER TABLE price_history "
        + ", ".join(
            f"ADD CONSTRAINT {name} CHECK ({rule}) NOT VALID" for name, rule in CONSTRAINTS.items()
        )
    )
    with op.get_context().autocommit_block():
        for name in CONSTRAINTS:
            op.execute(f"ALTER TABLE price_history VALIDATE CONSTRAINT {name}")


def downgrade() -> None:
    for name in reversed(CONSTRAINTS):
        op.drop_constraint(name, "price_history", type_="check")
