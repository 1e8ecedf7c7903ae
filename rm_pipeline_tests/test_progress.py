"""A long load's progress: a bar with counts and an ETA on a terminal, plain lines elsewhere."""

from __future__ import annotations

import io

from rm_pipeline.progress import ProgressDisplay

PLAN = "  price_history.plan_batches: 2024-11-18 to 2024-11-29: 3 batches in 2 steps"
LINES = [
    PLAN,
    "  price_history.load_batches[share_1]: batch 1/3: 50 tickers, 2024-11-18: 9 inserted",
    "  price_history.load_batches[share_2]: batch 2/3: 50 tickers, 2024-11-18: 9 inserted",
    "  price_history.load_batches[share_1]: batch 3/3: 5 tickers, 2024-11-18: 1 inserted",
    "ingest_price_history: succeeded (run 1a2b3c4d)",
]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_elsewhere_the_lines_print_as_they_are() -> None:
    stream = io.StringIO()
    with ProgressDisplay(stream) as shown:
        for line in LINES:
            shown(line)
    assert stream.getvalue() == "".join(f"{line}\n" for line in LINES)


def test_on_a_terminal_a_bar_counts_the_batches_below_the_lines() -> None:
    stream = Terminal()
    with ProgressDisplay(stream) as shown:
        for line in LINES[:3]:
            shown(line)
        drawn = stream.getvalue()
        assert "loading: 2/3 batches" in drawn
        shown(LINES[3])
        shown(LINES[4])
    output = stream.getvalue()
    assert "loading: 3/3 batches" in output
    for line in LINES:
        assert line in output
    assert output.rstrip().endswith(LINES[4])  # the bar closed when the last batch was done
