"""Query results as DataFrames, the form every chart's drawing takes."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Connection, TextClause


def read_frame(conn: Connection, statement: TextClause, **params: Any) -> pd.DataFrame:
    """The rows of `statement` with its columns, named as the query names them (an empty frame
    keeps them)."""
    result = conn.execute(statement, params)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
