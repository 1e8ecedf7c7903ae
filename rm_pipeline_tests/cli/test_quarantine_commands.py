"""`rm-pipeline quarantine ...` on rows refused through the loader's own `quarantine()`: listing
with filters, a row shown whole, rows accepted or rejected, and refusals that write nothing."""

from __future__ import annotations

import getpass
import json
from datetime import date

import pandas as pd
from click.testing import CliRunner, Result
from sqlalchemy import Engine, text

from rm_pipeline.cli.commands import cli
from rm_pipeline.ingest.quarantine import quarantine

RUN_A = "aaaaaaaa-1111-4000-8000-000000000001"
RUN_B = "bbbbbbbb-2222-4000-8000-000000000002"
LONG_DETAIL = "close x0.5 on 2025-03-05 (10.0 to 5.0), no split reported by files, held back"


def refuse(db: Engine, rows: list[tuple[str, str, str]], run_id: str) -> None:
    """Quarantine (ticker, date, reason) rows as a load of `run_id` would."""
    frame = pd.DataFrame(
        [
            {
                "ticker": t,
                "date": pd.Timestamp(d),
                "reason": r,
                "raw": json.dumps({"close": 5.0, "date": d}),
            }
            for t, d, r in rows
        ]
    )
    with db.begin() as conn:
        quarantine(conn, frame, "price_history", "files", run_id)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, ["quarantine", *args])


def ids(db: Engine, where: str = "true") -> dict[tuple[str, date], int]:
    with db.connect() as conn:
        rows = conn.execute(text(f"SELECT ticker, date, id FROM quarantine WHERE {where}"))
        return {(t, d): i for t, d, i in rows}


def state(db: Engine, row_id: int) -> tuple[object, ...]:
    with db.connect() as conn:
        return tuple(
            conn.execute(
                text(
                    "SELECT resolved_at IS NOT NULL, resolution, resolved_by, resolution_note, "
                    "run_id FROM quarantine WHERE id = :id"
                ),
                {"id": row_id},
            ).one()
        )


def listed_ids(result: Result) -> list[int]:
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["id", "ticker", "date"]
    return [int(line.split()[0]) for line in lines[1:-1]]


def seed(db: Engine) -> dict[tuple[str, date], int]:
    refuse(
        db,
        [
            ("AAPL", "2025-03-04", "unparseable: AAPL.csv, line 3, field 'close'"),
            ("AAPL", "2025-03-05", f"unexplained_jump: {LONG_DETAIL}"),
            ("AAPL", "2025-03-06", f"unexplained_jump: {LONG_DETAIL}"),
        ],
        RUN_A,
    )
    refuse(db, [("MSFT", "2025-03-10", "high_below_low")], RUN_B)
    return ids(db)


def test_list_filters_the_open_rows_and_counts_them(db: Engine) -> None:
    found = seed(db)
    everything = invoke("list")
    assert sorted(listed_ids(everything)) == sorted(found.values())
    assert everything.output.splitlines()[-1] == "4 rows, 2 tickers"
    jump = next(line for line in everything.output.splitlines() if "unexplained_jump" in line)
    assert "held back" not in jump and "…" in jump  # the detail shortened
    assert "aaaaaaaa " in jump and RUN_A not in jump and jump.rstrip().endswith("open")

    msft = invoke("list", "--ticker", "msft")
    assert listed_ids(msft) == [found["MSFT", date(2025, 3, 10)]]
    assert msft.output.splitlines()[-1] == "1 row"

    both = invoke("list", "--ticker", "AAPL", "--ticker", "MSFT", "--reason", "unexplained_jump")
    assert sorted(listed_ids(both)) == [found["AAPL", date(2025, 3, d)] for d in (5, 6)]
    assert both.output.splitlines()[-1] == "2 rows, 1 ticker"

    dated = invoke("list", "--since", "2025-03-05", "--until", "2025-03-06")
    assert sorted(listed_ids(dated)) == [found["AAPL", date(2025, 3, d)] for d in (5, 6)]

    assert len(listed_ids(invoke("list", "--run", RUN_A[:8]))) == 3
    assert listed_ids(invoke("list", "--run", RUN_B)) == [found["MSFT", date(2025, 3, 10)]]

    limited = invoke("list", "--limit", "1")
    assert len(listed_ids(limited)) == 1
    assert (
        limited.output.splitlines()[-1] == "4 rows, 2 tickers; 3 more beyond the first 1 (--limit)"
    )

    none = invoke("list", "--ticker", "NONE")
    assert (none.exit_code, none.output) == (0, "no open rows match\n")


def test_show_prints_every_column_the_full_reason_and_the_raw_values(db: Engine) -> None:
    row_id = seed(db)["AAPL", date(2025, 3, 5)]
    result = invoke("show", str(row_id))
    assert result.exit_code == 0, result.output
    assert f"reason:       unexplained_jump: {LONG_DETAIL}" in result.output
    assert f"run:          {RUN_A}" in result.output
    assert "status:       open" in result.output
    raw = result.output.split("raw values:\n", 1)[1]
    assert json.loads(raw) == {"close": 5.0, "date": "2025-03-05"}

    missing = invoke("show", "999999")
    assert missing.exit_code == 1
    assert missing.output.strip() == "Error: quarantine row 999999: no such row"


def test_resolve_accepts_rows_names_the_operator_and_says_what_comes_next(db: Engine) -> None:
    found = seed(db)
    jump = found["AAPL", date(2025, 3, 5)]
    result = invoke("resolve", str(jump), "--note", "a real move")
    assert result.exit_code == 0, result.output
    assert f"accepted {jump}: AAPL 2025-03-05 unexplained_jump" in result.output
    assert "the next load of AAPL stores these rows" in result.output
    assert state(db, jump) == (True, "accepted", getpass.getuser(), "a real move", RUN_A)

    assert jump not in listed_ids(invoke("list"))
    accepted = invoke("list", "--all", "--ticker", "AAPL", "--since", "2025-03-05")
    assert [line.split()[-1] for line in accepted.output.splitlines()[1:-1]] == [
        "accepted" if row_id == jump else "open" for row_id in listed_ids(accepted)
    ]

    again = invoke("resolve", str(jump))
    assert again.exit_code == 1
    assert again.output.startswith(f"Error: quarantine row {jump} (AAPL 2025-03-05) is already")
    forced = invoke("reject", str(jump), "--force")
    assert forced.exit_code == 0, forced.output
    assert state(db, jump)[1] == "rejected"


def test_an_unknown_id_refuses_the_whole_command_and_writes_nothing(db: Engine) -> None:
    found = seed(db)
    msft = found["MSFT", date(2025, 3, 10)]
    result = invoke("reject", str(msft), "999999")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: quarantine row 999999: no such row"
    assert state(db, msft) == (False, None, None, None, RUN_B)

    usage = invoke("resolve", "--ticker", "AAPL")
    assert usage.exit_code == 2 and "--ticker and --reason together" in usage.output


def test_a_restatement_accepted_by_selector_says_the_history_is_replaced(db: Engine) -> None:
    refuse(db, [("AAPL", "2025-03-05", "unexplained_restatement: x1.37")], RUN_A)
    result = invoke("resolve", "--ticker", "aapl", "--reason", "unexplained_restatement")
    assert result.exit_code == 0, result.output
    assert "the next load replaces AAPL's history" in result.output
    nothing_open = invoke("resolve", "--ticker", "AAPL", "--reason", "unexplained_restatement")
    assert nothing_open.exit_code == 1
    assert "no open quarantine row of AAPL" in nothing_open.output


def test_a_rejected_row_refused_again_stays_rejected_while_an_accepted_one_reopens(
    db: Engine,
) -> None:
    found = seed(db)
    rejected, accepted = found["MSFT", date(2025, 3, 10)], found["AAPL", date(2025, 3, 4)]
    result = invoke("reject", "--ticker", "MSFT", "--reason", "high_below", "--note", "bad feed")
    assert result.exit_code == 0, result.output
    assert "1 row kept out; a later load will not reopen it" in result.output
    assert invoke("resolve", str(accepted)).exit_code == 0

    refuse(db, [("MSFT", "2025-03-10", "high_below_low")], RUN_A)
    refuse(db, [("AAPL", "2025-03-04", "unparseable: AAPL.csv, line 3, field 'close'")], RUN_B)

    assert state(db, rejected) == (True, "rejected", getpass.getuser(), "bad feed", RUN_A)
    assert state(db, accepted) == (False, None, None, None, RUN_B)
    assert invoke("list", "--run", RUN_A[:8], "--ticker", "MSFT").output == "no open rows match\n"
    shown = invoke("list", "--run", RUN_A[:8], "--ticker", "MSFT", "--all")
    assert listed_ids(shown) == [rejected] and shown.output.splitlines()[1].endswith("rejected")
