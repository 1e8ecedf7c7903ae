"""Charts of the active trades: each trade's legs, and its realized path against the analyzer's
projection.

Realized path. From the trade's start (`activated_at`, or `created_at` for a trade never
activated), each leg's return on a date is its close that day over its close at the start (the
latest bar on or before the start day, `latest_bar(security, start)` of migration 0018) minus one;
the trade's return is the sum of its legs' returns weighted by allocation and direction (a short
earns the negative), in each security's own currency. Dates are those on which any leg closed
after the start, numbered as sessions since the start (the start itself is session 0); a date on
which a leg has no close, or a leg without a close at the start, has no return: a gap, never 0.

Projection. The analyzer's estimates (`trades.return_1m` to `return_1y`, fractions already
weighted by allocation and direction, see `rm_pipeline.core.analysis`) drawn as points at its
horizons of 21, 63, 126 and 252 sessions from the start. A horizon without an estimate is not
drawn.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter
from sqlalchemy import Connection, text

from rm_pipeline.charts.data import read_frame
from rm_pipeline.charts.render import (
    CHART_LIMIT,
    FONT_SIZE,
    LINE_COLOR,
    MUTED_COLOR,
    NEGATIVE_COLOR,
    POSITIVE_COLOR,
    left_out,
    new_figure,
    no_data,
    plain,
    png_markdown,
    style,
    to_png,
)

HORIZONS = {"return_1m": 21, "return_3m": 63, "return_6m": 126, "return_1y": 252}
"""Each estimate's horizon in sessions, as `rm_pipeline.core.analysis.HORIZONS` counts them."""

ACTIVE_TRADES = text(
    """
    SELECT
        id, trade_name, coalesce(activated_at, created_at)::date AS start,
        return_1m, return_3m, return_6m, return_1y,
        count(*) OVER () AS total
    FROM trades
    WHERE status = 'active'
    ORDER BY trade_name, id
    LIMIT :limit
    """
)

TRADE_LEGS = text(
    """
    SELECT pos.trade_id, s.ticker, pos.position_type, pos.allocation_percent
    FROM positions AS pos
    JOIN securities AS s ON s.id = pos.security_id
    WHERE pos.trade_id = ANY(CAST(:trade_ids AS uuid[]))
    ORDER BY pos.trade_id, pos.allocation_percent DESC, s.ticker
    """
)

REALIZED_PATH = text(
    """
    WITH chosen AS (
        SELECT id AS trade_id, coalesce(activated_at, created_at)::date AS start
        FROM trades
        WHERE id = ANY(CAST(:trade_ids AS uuid[]))
    ),
    legs AS (
        SELECT
            c.trade_id,
            c.start,
            pos.security_id,
            CASE pos.position_type WHEN 'long' THEN 1 WHEN 'short' THEN -1 END
                * pos.allocation_percent / 100 AS weight,
            base.close AS base_close
        FROM chosen AS c
        JOIN positions AS pos ON pos.trade_id = c.trade_id
        LEFT JOIN LATERAL latest_bar(pos.security_id, c.start) AS base ON true
    ),
    days AS (  -- the dates on which any leg of the trade closed after its start
        SELECT DISTINCT l.trade_id, bar.date
        FROM legs AS l
        JOIN price_history AS bar ON bar.security_id = l.security_id AND bar.date > l.start
    ),
    path AS (
        SELECT
            d.trade_id,
            d.date,
            row_number() OVER (PARTITION BY d.trade_id ORDER BY d.date) AS session,
            CASE WHEN count(*) = count(leg.value) THEN sum(leg.value) END AS realized
        FROM days AS d
        JOIN legs AS l ON l.trade_id = d.trade_id
        LEFT JOIN price_history AS bar ON bar.security_id = l.security_id AND bar.date = d.date
        CROSS JOIN LATERAL (SELECT l.weight * (bar.close / l.base_close - 1) AS value) AS leg
        GROUP BY d.trade_id, d.date
    )
    SELECT trade_id, start AS date, 0 AS session,
           CASE WHEN count(*) = count(base_close) THEN 0 END AS realized
    FROM legs
    GROUP BY trade_id, start
    UNION ALL
    SELECT trade_id, date, session, realized FROM path
    ORDER BY trade_id, session
    """
)


@dataclass(frozen=True)
class ActiveTrades:
    """The first CHART_LIMIT active trades by name (`frame`: id, trade_name, start and the four
    estimates), and how many are active in all."""

    frame: pd.DataFrame
    total: int


def active_trades(conn: Connection, limit: int = CHART_LIMIT) -> ActiveTrades:
    frame = read_frame(conn, ACTIVE_TRADES, limit=limit)
    total = int(frame["total"].iloc[0]) if not frame.empty else 0
    for column in HORIZONS:
        frame[column] = frame[column].astype(float)
    return ActiveTrades(frame=frame.drop(columns="total"), total=total)


def trade_legs(conn: Connection, trade_ids: list[uuid.UUID]) -> pd.DataFrame:
    """Columns trade_id, ticker, position_type, allocation_percent (float)."""
    frame = read_frame(conn, TRADE_LEGS, trade_ids=trade_ids)
    frame["allocation_percent"] = frame["allocation_percent"].astype(float)
    return frame


def realized_paths(conn: Connection, trade_ids: list[uuid.UUID]) -> pd.DataFrame:
    """Columns trade_id, date, session (0 at the start), realized (a fraction, NaN when
    unknown)."""
    frame = read_frame(conn, REALIZED_PATH, trade_ids=trade_ids)
    frame["realized"] = frame["realized"].astype(float)
    return frame


def projection(trade: pd.Series) -> pd.Series:
    """The trade's estimates indexed by their horizon in sessions (NaN where there is none)."""
    return pd.Series(
        [float(trade[column]) for column in HORIZONS], index=list(HORIZONS.values()), dtype=float
    )


def trade_title(name: str, start: date) -> str:
    return f"{name}: realized since {start.isoformat()} vs projection"


def trade_figure(
    name: str, start: date, legs: pd.DataFrame, path: pd.DataFrame, projected: pd.Series
) -> Figure:
    """Two panels: the legs (columns ticker, position_type, allocation_percent) as bars of their
    signed allocation, and the realized path (columns session, realized; NaN a gap) with the
    projected points (`projected`, indexed by session). Something must be drawable: a leg, or a
    known realized value or estimate."""
    figure = new_figure()
    legs_axes, path_axes = figure.subplots(1, 2, width_ratios=[1, 3])
    style(legs_axes, "legs (allocation)")
    direction = np.where(legs["position_type"] == "short", -1.0, 1.0)
    allocations = direction * legs["allocation_percent"].to_numpy(dtype=float) / 100
    labels = [f"{row.ticker} {row.position_type}" for row in legs.itertuples()]
    colors = [POSITIVE_COLOR if value >= 0 else NEGATIVE_COLOR for value in allocations]
    legs_axes.barh(labels, allocations, color=colors)
    legs_axes.invert_yaxis()
    legs_axes.axvline(0, color=MUTED_COLOR, linewidth=0.8)
    reach = 1.1 * float(np.abs(allocations).max(initial=0.01))
    legs_axes.set_xlim(-reach if (allocations < 0).any() else 0, reach)
    legs_axes.xaxis.set_major_locator(MaxNLocator(nbins=3))
    legs_axes.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))

    style(path_axes, trade_title(name, start))
    path_axes.plot(
        path["session"].to_numpy(dtype=float),
        path["realized"].to_numpy(dtype=float),
        color=LINE_COLOR,
        linewidth=1.2,
        marker=".",
        markersize=2,
        label="realized",
    )
    known = projected.dropna()
    if not known.empty:
        path_axes.plot(
            [0.0, *known.index.astype(float)],
            [0.0, *known.to_numpy(dtype=float)],
            color=MUTED_COLOR,
            linestyle="--",
            linewidth=1,
            marker="o",
            markersize=4,
            label="projection",
        )
        for session, value in zip(known.index, known.to_numpy(dtype=float), strict=True):
            path_axes.annotate(
                f"{value:+.1%}",
                xy=(float(session), value),
                xytext=(3, 3),
                textcoords="offset points",
                fontsize=FONT_SIZE - 1,
                color=MUTED_COLOR,
            )
    path_axes.axhline(0, color=MUTED_COLOR, linewidth=0.6)
    path_axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    path_axes.set_xlabel(f"sessions since {start.isoformat()}", fontsize=FONT_SIZE)
    path_axes.legend(fontsize=FONT_SIZE, loc="upper left", frameon=False)
    return figure


def trade_png(
    name: str, start: date, legs: pd.DataFrame, path: pd.DataFrame, projected: pd.Series
) -> bytes:
    return to_png(trade_figure(name, start, legs, path, projected))


def trade_markdown(
    name: str, start: date, legs: pd.DataFrame, path: pd.DataFrame, projected: pd.Series
) -> str:
    """The chart of one trade, or one line saying there is nothing to draw."""
    title = trade_title(name, start)
    if legs.empty:
        return no_data(title, "the trade has no positions")
    if path["realized"].isna().all() and projected.isna().all():
        return no_data(title, "no close since its start and no estimate")
    return png_markdown(title, trade_png(name, start, legs, path, projected))


def trade_charts(conn: Connection) -> str:
    """The charts of the first CHART_LIMIT active trades by name, as markdown, each under a
    heading naming its trade; a closing line says how many more were left out."""
    trades = active_trades(conn)
    if trades.frame.empty:
        return "_no active trades_"
    ids = list(trades.frame["id"])
    legs = trade_legs(conn, ids)
    paths = realized_paths(conn, ids)
    parts = []
    for _, trade in trades.frame.iterrows():
        name = str(trade["trade_name"])
        if pd.isna(trade["start"]):
            chart = no_data(name, "neither an activation nor a creation time to start from")
        else:
            chart = trade_markdown(
                name,
                pd.Timestamp(trade["start"]).date(),
                legs[legs["trade_id"] == trade["id"]],
                paths[paths["trade_id"] == trade["id"]],
                projection(trade),
            )
        parts.append(f"#### {plain(name)}\n\n{chart}")
    parts.append(left_out(len(trades.frame), trades.total, "trades"))
    return "\n\n".join(parts).strip()
