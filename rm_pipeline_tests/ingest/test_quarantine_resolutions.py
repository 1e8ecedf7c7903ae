"""An operator's resolution through whole loads: an accepted jump is stored by the next load, a
rejected one stays out and is not reopened; a load's own resolutions are recorded as such."""

from __future__ import annotations

from datetime import date

import pandas as pd
from click.testing import CliRunner
from sqlalchemy import Engine, text

from rm_pipeline.cli.commands import cli
from rm_pipeline.ingest.prices import ingest_prices
from rm_pipeline_tests.ingest.test_repairs_loaded import Series, closes_on, stored
from rm_pipeline_tests.warehouse.factories import add_security

START, END = date(2024, 3, 1), date(2024, 3, 28)


def halved_for_good(db: Engine) -> tuple[pd.Series, Series]:
    """AAA's closes halved from its last four sessions on, no split reported: a real move (a
    spin-off, say) or a source error."""
    prices = closes_on("XNYS", "2024-03-01", "2024-03-28", [100.0 + i for i in range(30)])
    sent = prices.copy()
    sent.iloc[-4:] = sent.iloc[-4:] / 2
    with db.begin() as conn:
        add_security(conn, "AAA")
    return sent, Series({"AAA": sent})


def jumps(db: Engine) -> list[tuple[object, ...]]:
    with db.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                text(
                    "SELECT resolved_at IS NOT NULL, resolution, last_seen_at FROM quarantine "
                    "WHERE reason LIKE 'unexplained_jump%' ORDER BY date"
                )
            )
        ]


def quarantine_command(*args: str) -> None:
    result = CliRunner().invoke(cli, ["quarantine", *args])
    assert result.exit_code == 0, result.output


def test_an_accepted_jump_is_stored_by_the_next_load(db: Engine) -> None:
    sent, source = halved_for_good(db)
    held = ingest_prices(db, source, START, END, batch_size=5)
    assert held.failed != [] and len(stored(db, "AAA")) == len(sent) - 4
    assert [row[:2] for row in jumps(db)] == [(False, None)] * 4

    quarantine_command("resolve", "--ticker", "AAA", "--reason", "unexplained_jump")
    again = ingest_prices(db, source, START, END, batch_size=5)

    assert again.failed == []
    assert stored(db, "AAA")["close"].tolist() == sent.tolist()
    assert [row[:2] for row in jumps(db)] == [(True, "accepted")] * 4


def test_a_rejected_jump_stays_out_and_a_reload_does_not_reopen_it(db: Engine) -> None:
    sent, source = halved_for_good(db)
    ingest_prices(db, source, START, END, batch_size=5)
    quarantine_command("reject", "--ticker", "AAA", "--reason", "unexplained_jump")
    before = jumps(db)

    again = ingest_prices(db, source, START, END, batch_size=5)

    assert again.failed != [] and len(stored(db, "AAA")) == len(sent) - 4
    after = jumps(db)
    assert [row[:2] for row in after] == [(True, "rejected")] * 4
    assert all(new[2] > old[2] for new, old in zip(after, before, strict=True))  # seen again


def test_a_split_reported_later_settles_the_held_rows(db: Engine) -> None:
    """Four sessions at a quarter of the price, the source reporting no split; then it reports a
    4-for-1 split and restates the history: the held rows are settled by that load."""
    prices = closes_on("XNYS", "2024-03-01", "2024-03-28", [400.0 + i for i in range(30)])
    sent = prices.copy()
    sent.iloc[-4:] = sent.iloc[-4:] / 4
    with db.begin() as conn:
        add_security(conn, "AAA")
    ingest_prices(db, Series({"AAA": sent}), START, END, batch_size=5)
    assert {row[:2] for row in jumps(db)} == {(False, None)}

    restated = sent.copy()
    restated.iloc[:-4] = restated.iloc[:-4] / 4
    source = Series({"AAA": restated}, splits=[("AAA", str(sent.index[-4].date()), 4.0)])
    ingest_prices(db, source, START, END, batch_size=5)

    assert {row[:2] for row in jumps(db)} == {(True, "settled")}


def test_the_raw_values_of_repaired_bars_are_resolved_as_repaired(db: Engine) -> None:
    pence = closes_on("XLON", "2024-03-01", "2024-03-28")
    sent = pence.copy()
    sent.iloc[2:11] = (sent.iloc[2:11] / 100).round(4)
    with db.begin() as conn:
        add_security(conn, "SHEL.L", "LSE", currency="GBp")
    ingest_prices(db, Series({"SHEL.L": sent}), START, END, batch_size=5)
    with db.connect() as conn:
        kept = conn.execute(
            text("SELECT resolution, count(*) FROM quarantine GROUP BY resolution")
        ).all()
    assert [tuple(row) for row in kept] == [("repaired", 9)]
