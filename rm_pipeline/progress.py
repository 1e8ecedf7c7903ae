"""Progress of a long load on a terminal: a bar with counts and an ETA below the run's log lines.

It is fed the lines the launcher shows of a run (`launch.progress_line`, read from the run's event
log): a price load's planning line names its batches (`... : 12 batches in 2 steps`) and each
batch's line (`...: batch 3/12: ...`) is one more done, in whichever step. On a terminal the lines
print above a tqdm bar (`loading: 3/12 batches [00:10<00:27]`); anywhere else (a file, a pipe)
they print as they are and no bar is drawn.
"""

from __future__ import annotations

import re
import sys
from types import TracebackType
from typing import TextIO

from tqdm import tqdm

PLANNED = re.compile(r": ([\d,]+) batch(?:es)? in [\d,]+ steps?$")
"""A price load's plan: how many batches it will load."""
BATCH_DONE = re.compile(r": batch \d+/\d+: ")
"""One batch of a price load written."""


class ProgressDisplay:
    """Prints a run's progress lines; on a terminal, keeps a bar of the current price load's
    batches below them. Use it as a context manager, so the bar is closed however the command
    ends."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout
        self._bar: tqdm | None = None
        self._terminal = self._stream.isatty()

    def __call__(self, line: str) -> None:
        if self._terminal:
            self._follow(line)
        if self._bar is not None:
            self._bar.write(line, file=self._stream)
        else:
            print(line, file=self._stream, flush=True)

    def _follow(self, line: str) -> None:
        if planned := PLANNED.search(line):
            self.close()
            self._bar = tqdm(
                total=int(planned.group(1).replace(",", "")),
                desc="loading",
                unit="batch",
                file=self._stream,
                dynamic_ncols=True,
                bar_format="{desc}: {n_fmt}/{total_fmt} batches |{bar}| {elapsed}<{remaining}",
            )
        elif self._bar is not None and BATCH_DONE.search(line):
            self._bar.update(1)
            if self._bar.n >= (self._bar.total or 0):
                self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ProgressDisplay:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
