"""Keeping dependencies' pandas deprecation notices out of the output, and nothing more."""

from __future__ import annotations

import re
import warnings

import pandas as pd


def silence_pandas4_warnings(package: str) -> None:
    """Ignore Pandas4Warning raised from `package`'s own modules.

    Under pandas 3 some dependencies (yfinance, exchange_calendars) still call APIs that pandas
    deprecates; the notices are theirs to act on. Other warnings, and Pandas4Warning from
    anywhere else, still show.
    """
    pattern = rf"{re.escape(package)}(\.|$)"
    warnings.filterwarnings("ignore", category=pd.errors.Pandas4Warning, module=pattern)
