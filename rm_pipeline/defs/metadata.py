"""Asset metadata shared by every domain: load counts, failures, previews."""

from typing import Any

import dagster as dg
import pandas as pd

from rm_pipeline.db.loader import LoadResult
from rm_pipeline.providers.base import TickerOutcome

PREVIEW_ROWS = 10


def load_metadata(result: LoadResult, prefix: str = "rows") -> dict[str, Any]:
    return {
        f"{prefix}_inserted": dg.MetadataValue.int(result.inserted),
        f"{prefix}_updated": dg.MetadataValue.int(result.updated),
        f"{prefix}_unchanged": dg.MetadataValue.int(result.unchanged),
    }


def preview(frame: pd.DataFrame, rows: int = PREVIEW_ROWS) -> dg.MetadataValue:
    if frame.empty:
        return dg.MetadataValue.md("_no rows_")
    return dg.MetadataValue.md(frame.head(rows).to_markdown(index=False))


def failures_metadata(failed: list[TickerOutcome]) -> dict[str, Any]:
    table = pd.DataFrame(
        [(o.ticker, str(o.status), o.reason) for o in failed],
        columns=["ticker", "status", "reason"],
    )
    return {"failed_tickers": dg.MetadataValue.int(len(failed)), "failures": preview(table, 50)}
