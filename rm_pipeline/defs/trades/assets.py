"""The `trade_analysis` asset: fills the recommendation fields of every trade that needs it."""

import dagster as dg
import pandas as pd

from rm_pipeline.app.analysis_store import ANALYSIS_COLUMNS, analyze_pending
from rm_pipeline.defs.analytics.assets import security_market_stats
from rm_pipeline.defs.automation import FOLLOWS_NEW_PRICES
from rm_pipeline.defs.market.assets import fx_rates, price_history
from rm_pipeline.defs.metadata import column_lineage, preview, row_count, warehouse_asset
from rm_pipeline.defs.resources import WarehouseResource
from rm_pipeline.warehouse.valuations import (
    POSITION_COLUMNS,
    PositionValuationResult,
    value_trade_positions,
)

ANALYSIS_LINEAGE = column_lineage(
    {
        column: [("price_history", "close")]
        for column in ANALYSIS_COLUMNS
        if column.startswith("return_") or column in ("recommendation", "risk_level")
    }
)
"""The analysis's figures come from the closes of the trade's securities."""


@dg.asset(
    **warehouse_asset("trades", "trades", writes=ANALYSIS_COLUMNS),
    deps=[price_history],
    automation_condition=FOLLOWS_NEW_PRICES,
)
def trade_analysis(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Return estimates, risk level, recommendation and rationale of every draft or active trade
    that was never analyzed, was analyzed more than a week ago, or whose inputs changed since: its
    own fields, its positions, or the latest bars of its securities (trades written straight into
    the database included). Analyzed as of today (UTC) on the dates all of a trade's securities
    share; the rationale names that period and says when its newest prices are stale."""
    summary = analyze_pending(warehouse.engine())
    with warehouse.engine().connect() as conn:
        rows = row_count(conn, "trades")
    for trade_id, reason in summary.invalid.items():
        context.log.warning(f"trade {trade_id} cannot be analyzed: {reason}")
    invalid = pd.DataFrame(
        [(str(k), v) for k, v in summary.invalid.items()], columns=["trade_id", "reason"]
    )
    return dg.MaterializeResult(
        metadata={
            **rows,
            "pending": dg.MetadataValue.int(summary.pending),
            "analyzed": dg.MetadataValue.int(len(summary.analyzed)),
            "rows_updated": dg.MetadataValue.int(len(summary.analyzed)),
            "changed_meanwhile": dg.MetadataValue.int(len(summary.changed)),
            "invalid": dg.MetadataValue.int(len(summary.invalid)),
            "invalid_trades": preview(invalid, 50),
            **ANALYSIS_LINEAGE,
        }
    )


def log_what_is_unknown(log: dg.DagsterLogManager, result: PositionValuationResult) -> None:
    """Warn of every rate whose absence left a figure NULL, and of the positions valued at stale
    closes."""
    if result.missing_rates:
        log.warning(
            f"{result.without_rate} positions lack an exchange rate, leaving their market value "
            f"or P&L NULL: {', '.join(result.missing_rates)}"
        )
    if result.stale_prices:
        log.warning(
            f"{result.stale_positions} positions are valued at a close older than their "
            f"exchange's latest session: {', '.join(result.stale_prices)}"
        )


POSITION_LINEAGE = column_lineage(
    {
        "current_price": [("price_history", "close")],
        "price_date": [("price_history", "date")],
        "market_value": [("price_history", "close"), ("fx_rates", "rate")],
        "unrealized_pnl": [("price_history", "close"), ("fx_rates", "rate")],
    }
)
"""A position's valuation comes from its security's latest close and the rate of its day."""


@dg.asset(
    **warehouse_asset("trades", "positions", writes=POSITION_COLUMNS),
    deps=[security_market_stats, fx_rates],
    automation_condition=FOLLOWS_NEW_PRICES,
)
def trade_position_valuations(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Current price (the security's currency) with its date and staleness, market value and
    unrealized P&L (the trade's) of the open positions of active trades, after applying the
    splits since they opened. A position without an exchange rate is left unvalued; every missing
    rate and every stale price is counted, named and logged. A chart of each active trade (its legs,
    its realized return since it started against the analyzer's projection) is attached."""
    # imported here: matplotlib (0.4 s) loads only in the step that draws
    from rm_pipeline.charts.trades import trade_charts

    with warehouse.begin() as conn:
        result = value_trade_positions(conn)
        rows = row_count(conn, "positions")
    log_what_is_unknown(context.log, result)
    with warehouse.engine().connect() as conn:
        charts = trade_charts(conn)
    return dg.MaterializeResult(
        metadata={
            **rows,
            "open_positions": dg.MetadataValue.int(result.positions),
            "rows_updated": dg.MetadataValue.int(result.updated),
            "split_adjusted": dg.MetadataValue.int(result.split_adjusted),
            "positions_without_rate": dg.MetadataValue.int(result.without_rate),
            "missing_rates": dg.MetadataValue.text(", ".join(result.missing_rates) or "none"),
            "stale_positions": dg.MetadataValue.int(result.stale_positions),
            "positions_of_unknown_staleness": dg.MetadataValue.int(result.unknown_staleness),
            "stale_prices": dg.MetadataValue.text(", ".join(result.stale_prices) or "none"),
            "trade_charts": dg.MetadataValue.md(charts),
            **POSITION_LINEAGE,
        }
    )
