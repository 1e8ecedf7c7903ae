"""Counts in words, for the command's output: `1 trade`, `2 trades`, `1 security`."""

from __future__ import annotations

IRREGULAR = {"security": "securities", "currency": "currencies", "analysis": "analyses"}


def plural(noun: str) -> str:
    """The plural of a noun the commands count: an `s` added, or the irregular form."""
    head, _, last = noun.rpartition(" ")
    regular = last + ("es" if last.endswith(("s", "x", "ch", "sh")) else "s")
    return f"{head} {IRREGULAR.get(last, regular)}".strip()


def counted(number: int, noun: str) -> str:
    """`number` and `noun`, singular for one: `counted(1, "broker connection")`."""
    return f"{number:,} {noun if number == 1 else plural(noun)}"
