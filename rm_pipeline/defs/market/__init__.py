"""Market data: the securities master and daily price history."""

import importlib
import warnings

import dagster as dg

with warnings.catch_warnings():
    # Range backfills (`backfill_policy`) are what keep a years-long backfill to one provider call
    # per batch of tickers; Dagster still labels the parameter beta. Its warning is ignored while
    # the assets declaring it are defined, whoever imports them first, and nowhere else.
    warnings.filterwarnings(
        "ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning
    )
    importlib.import_module("rm_pipeline.defs.market.assets")
