"""`broker_holdings` (synced from the manual broker's files) and `portfolio_valuations`."""

import dagster as dg
import pandas as pd

from rm_pipeline.defs.analytics.assets import security_market_stats
from rm_pipeline.defs.automation import FOLLOWS_NEW_PRICES
from rm_pipeline.defs.market.assets import fx_rates, securities
from rm_pipeline.defs.metadata import column_lineage, preview, row_count, warehouse_asset
from rm_pipeline.defs.resources import BrokerResource, WarehouseResource
from rm_pipeline.holdings.sync import HOLDINGS_COLUMNS, sync_broker
from rm_pipeline.warehouse.valuations import (
    PORTFOLIO_COLUMNS,
    PortfolioValuationResult,
    portfolios_preview,
    value_portfolios,
)


@dg.asset(
    **warehouse_asset("portfolios", "portfolio_holdings", writes=HOLDINGS_COLUMNS),
    deps=[securities],
)
def broker_holdings(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, broker: BrokerResource
) -> dg.MaterializeResult:
    """Holdings and cash of every active `manual` portfolio, from one CSV file per portfolio in
    the broker's directory (RM_HOLDINGS_DIR; default: the demo files shipped with the project). Holdings no longer held are
    removed; a portfolio whose file is unusable is reported and left as it was."""
    adapter = broker.adapter()
    with warehouse.begin() as conn:
        result = sync_broker(conn, adapter)
        rows = row_count(conn, "portfolio_holdings")
    for failure in result.failed:
        context.log.warning(f"portfolio {failure.portfolio_id} not synced: {failure.error}")
    failures = pd.DataFrame(
        [(str(f.portfolio_id), f.error) for f in result.failed], columns=["portfolio_id", "error"]
    )
    return dg.MaterializeResult(
        metadata={
            **rows,
            "portfolios_synced": dg.MetadataValue.int(len(result.synced)),
            "portfolios_failed": dg.MetadataValue.int(len(result.failed)),
            "rows_inserted": dg.MetadataValue.int(sum(s.inserted for s in result.synced)),
            "rows_updated": dg.MetadataValue.int(sum(s.updated for s in result.synced)),
            "rows_unchanged": dg.MetadataValue.int(sum(s.unchanged for s in result.synced)),
            "rows_removed": dg.MetadataValue.int(sum(s.removed for s in result.synced)),
            "failures": preview(failures, 50),
            "directory": dg.MetadataValue.path(str(adapter.directory)),
        }
    )


def log_what_is_unknown(log: dg.DagsterLogManager, result: PortfolioValuationResult) -> None:
    """Warn of every rate and every day's change whose absence left a figure NULL, and of the
    holdings valued at stale closes."""
    if result.missing_rates:
        log.warning(
            f"{result.holdings_without_rate} holdings lack an exchange rate, leaving their values "
            f"or their portfolio's day return NULL: {', '.join(result.missing_rates)}"
        )
    if result.unknown_day_changes:
        log.warning(
            f"{result.holdings_without_day_change} holdings have no known change over the day, "
            f"leaving their portfolio's day return NULL: {', '.join(result.unknown_day_changes)}"
        )
    if result.stale_prices:
        log.warning(
            f"{result.stale_holdings} holdings are valued at a close older than their exchange's "
            f"latest session: {', '.join(result.stale_prices)}"
        )


VALUATION_LINEAGE = column_lineage(
    {
        column: [
            ("broker_holdings", "quantity"),
            ("broker_holdings", "average_entry_price"),
            ("price_history", "close"),
            ("fx_rates", "rate"),
        ]
        for column in PORTFOLIO_COLUMNS
    }
)
"""A portfolio's values come from its holdings, their closes and the rates into its currency."""


@dg.asset(
    **warehouse_asset("portfolios", "portfolios", writes=PORTFOLIO_COLUMNS),
    deps=[security_market_stats, broker_holdings, fx_rates],
    automation_condition=FOLLOWS_NEW_PRICES,
)
def portfolio_valuations(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Every holding's price, its date and staleness, market value, cost basis and unrealized P&L
    (shorts negative), and every portfolio's equity, total value, total return and day return, in
    set-based SQL, in the portfolio's currency (prices stay in the security's). A holding without
    an exchange rate is left unvalued with its portfolio; every missing rate, every unknown day's
    change and every stale price is counted, named and logged. Charts of each active portfolio's
    past year (the value of its current holdings) and of its holdings' weights are attached."""
    # imported here: matplotlib (0.4 s) loads only in the step that draws
    from rm_pipeline.charts.portfolios import portfolio_charts

    with warehouse.begin() as conn:
        result = value_portfolios(conn)
    log_what_is_unknown(context.log, result)
    with warehouse.engine().connect() as conn:
        summary = portfolios_preview(conn)
        rows = row_count(conn, "portfolios")
        charts = portfolio_charts(conn)
    return dg.MaterializeResult(
        metadata={
            **rows,
            "holdings": dg.MetadataValue.int(result.holdings),
            "unpriced_holdings": dg.MetadataValue.int(result.unpriced_holdings),
            "holdings_without_rate": dg.MetadataValue.int(result.holdings_without_rate),
            "missing_rates": dg.MetadataValue.text(", ".join(result.missing_rates) or "none"),
            "stale_holdings": dg.MetadataValue.int(result.stale_holdings),
            "holdings_of_unknown_staleness": dg.MetadataValue.int(result.unknown_staleness),
            "stale_prices": dg.MetadataValue.text(", ".join(result.stale_prices) or "none"),
            "holdings_without_day_change": dg.MetadataValue.int(result.holdings_without_day_change),
            "unknown_day_changes": dg.MetadataValue.text(
                ", ".join(result.unknown_day_changes) or "none"
            ),
            "portfolios": dg.MetadataValue.int(result.portfolios),
            "rows_updated": dg.MetadataValue.int(
                result.holdings_updated + result.portfolios_updated
            ),
            "preview": preview(summary),
            "value_chart": dg.MetadataValue.md(charts.value),
            "weights_chart": dg.MetadataValue.md(charts.weights),
            **VALUATION_LINEAGE,
        }
    )
