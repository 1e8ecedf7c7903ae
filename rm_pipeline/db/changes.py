"""Why a transaction changes stored rows.

Updates and deletes of `price_history`, `fx_rates` and `corporate_actions` keep the rows they
replace in `<table>_superseded` (migration 0014), with the reason and the run the writer declared
in its transaction. Declaring is per transaction and may change between statements.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

DECLARE = text(
    "SELECT set_config('rm.change_reason', :reason, true), set_config('rm.run_id', :run_id, true)"
)


def declare_change(conn: Connection, reason: str, run_id: str | None = None) -> None:
    """Name the reason (and run) recorded with every row the transaction's next statements
    replace."""
    conn.execute(DECLARE, {"reason": reason, "run_id": run_id or ""})
