"""Pages of the rows every valuation rewrites keep room for the new versions.

The portfolio valuation (`rm_pipeline.warehouse.valuations`) rewrites every holding and every
portfolio whose values changed, which is nearly all of them each night: an UPDATE writes a new
version of the row. None of the columns it writes is indexed, so the new version can be a HOT
update (heap-only tuple): written on the row's own page, with no new entry in any index. That
needs free space on the page, and at the default fillfactor (100) pages are filled up: every new
version went to another page and into every index, the four of `portfolio_holdings` (its key,
UNIQUE (portfolio_id, security_id, side), `idx_holdings_portfolio`, `idx_holdings_security`) and
the three of `portfolios`. Valuing 100,000 holdings of 10,000 portfolios (`bench/valuations.py`,
EXPLAIN ANALYZE), the holdings' UPDATE wrote 200,000 WAL records instead of 701,000 (a HOT
version and nothing else, where there were a version and four index entries) and took about a
quarter of the time, the portfolios' 20,000 instead of 59,000.

`portfolio_holdings` and `portfolios` get `fillfactor = 40`: new rows fill a page to 40%, leaving
60% for updates. A holding is about 124 bytes (line pointer included) until it is first valued
and about 180 after, so a page of holdings not valued yet takes a valued version of each (26 x 304
bytes of 8,168), and a page of valued ones a new version of each with room to spare for wider
figures; once the previous versions are dead, reading the page prunes them. At 50, two thirds of
the first valuation after a load were HOT (the narrow rows fill too much of the page); at 40, all
of it. A table takes up to two and a half times its packed size: 100,000 valued holdings took
4,181 pages (33 MB) in the benchmark, where the rewrites at 100 had grown them to 5,670.
`positions` is left alone: the nightly valuation rewrites only the open positions of active
trades, and what it costs was not measured.

`ALTER TABLE ... SET (fillfactor)` takes a SHARE UPDATE EXCLUSIVE lock (reads and writes go on)
and rewrites nothing: pages already written keep their rows. Those move, as their next
non-HOT update writes them, to pages kept at the new fillfactor, so a warehouse migrated with
full pages settles within a few nightly runs (VACUUM frees the pages left behind). Rewriting the
tables at once (`VACUUM FULL`) would lock them exclusively and cannot run in the migration's
transaction; it is not done.

The downgrade resets the parameter to the default (100); pages keep their layout.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REWRITTEN_NIGHTLY = ("portfolio_holdings", "portfolios")
"""The tables whose rows the portfolio valuation rewrites every night."""
FILLFACTOR = 40
"""How full (%) an insert may fill a page of them."""


def upgrade() -> None:
    for table in REWRITTEN_NIGHTLY:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    for table in REWRITTEN_NIGHTLY:
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
