"""The job that runs the analyzer, and the sensor that starts it when trades need analysis."""

import hashlib

import dagster as dg

from rm_pipeline.app.analysis_store import pending_state, trades_needing_analysis
from rm_pipeline.defs.resources import WarehouseResource
from rm_pipeline.defs.trades.assets import trade_analysis

analyze_trades = dg.define_asset_job(
    "analyze_trades",
    selection=dg.AssetSelection.assets(trade_analysis),
    description="Analyze every trade that needs it.",
)


@dg.sensor(
    job=analyze_trades,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every minute: requests one analysis run when draft or active trades are new, "
    "changed since their last analysis or analyzed more than a week ago (the same backlog is "
    "requested once).",
)
def trades_needing_analysis_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource
) -> dg.SensorResult:
    """Requests an analysis run when draft or active trades need analysis (`trades_needing_
    analysis`: new, changed, or analyzed more than a week ago). The run key is the pending trades
    with their input fingerprints and last change, so the same backlog is requested once, and a
    trade edited or aged again after its analysis (which changes its `updated_at`) is requested
    again."""
    with warehouse.engine().connect() as conn:
        pending = trades_needing_analysis(conn)
        if not pending:
            return dg.SensorResult(skip_reason="no trade needs analysis")
        state = pending_state(conn, pending)
    key = hashlib.sha256(repr(state).encode()).hexdigest()[:16]
    context.log.info(f"{len(pending)} trades need analysis")
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=key)])
