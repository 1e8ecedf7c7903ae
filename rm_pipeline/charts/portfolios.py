"""Charts of the active portfolios: the past year's value of their current holdings, and their
holdings' weights.

Value. Each holding of today, at each session's close of the past year (up to the valuation date,
the latest bar's date of any security), converted to the portfolio's currency at that day's rate
(`fx_rate(security currency, portfolio currency, date)` of migration 0008), signed by side. It is
the value today's holdings would have had, not the portfolio's history: trades and cash are left
out, hence the chart's title. A day on which any holding lacks a close or a rate has no value (a
gap in the line, never a zero); days on which none of the holdings closed are not drawn.

Weights. Each holding's `market_value / portfolios.total_value` as `portfolio_valuations` stored
them: positive for a long, negative for a short; a holding or portfolio left unvalued has no
weight, and the chart says how many holdings that leaves out.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pandas as pd
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter
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

ACTIVE_PORTFOLIOS = text(
    """
    SELECT id, name, coalesce(currency, 'USD') AS currency, count(*) OVER () AS total
    FROM portfolios
    WHERE is_active
    ORDER BY name, id
    LIMIT :limit
    """
)

HOLDINGS_VALUE = text(
    """
    WITH span AS MATERIALIZED (
        SELECT valuation_date() AS last, (valuation_date() - interval '1 year')::date AS first
    ),
    holdings AS (
        SELECT
            h.portfolio_id,
            h.security_id,
            coalesce(s.currency, 'USD') AS security_currency,
            coalesce(p.currency, 'USD') AS portfolio_currency,
            CASE h.side WHEN 'long' THEN 1 WHEN 'short' THEN -1 END * h.quantity
                AS signed_quantity
        FROM portfolio_holdings AS h
        JOIN portfolios AS p ON p.id = h.portfolio_id
        JOIN securities AS s ON s.id = h.security_id
        WHERE h.portfolio_id = ANY(CAST(:portfolio_ids AS uuid[]))
    ),
    days AS (  -- the dates on which any of a portfolio's holdings closed
        SELECT DISTINCT h.portfolio_id, bar.date
        FROM holdings AS h
        CROSS JOIN span
        JOIN price_history AS bar
          ON bar.security_id = h.security_id AND bar.date BETWEEN span.first AND span.last
    ),
    rates AS MATERIALIZED (  -- each conversion of each day looked up once
        SELECT pair.*, fx_rate(pair.security_currency, pair.portfolio_currency, pair.date) AS rate
        FROM (
            SELECT DISTINCT h.security_currency, h.portfolio_currency, d.date
            FROM days AS d JOIN holdings AS h ON h.portfolio_id = d.portfolio_id
        ) AS pair
    )
    SELECT
        d.portfolio_id,
        d.date,
        CASE WHEN count(*) = count(leg.value) THEN sum(leg.value) END AS value
    FROM days AS d
    JOIN holdings AS h ON h.portfolio_id = d.portfolio_id
    LEFT JOIN price_history AS bar ON bar.security_id = h.security_id AND bar.date = d.date
    LEFT JOIN rates AS r
      ON r.security_currency = h.security_currency
     AND r.portfolio_currency = h.portfolio_currency
     AND r.date = d.date
    CROSS JOIN LATERAL (SELECT h.signed_quantity * bar.close * r.rate AS value) AS leg
    GROUP BY d.portfolio_id, d.date
    ORDER BY d.portfolio_id, d.date
    """
)

HOLDING_WEIGHTS = text(
    """
    SELECT
        h.portfolio_id,
        s.ticker,
        h.side,
        h.market_value / nullif(p.total_value, 0) AS weight
    FROM portfolio_holdings AS h
    JOIN portfolios AS p ON p.id = h.portfolio_id
    JOIN securities AS s ON s.id = h.security_id
    WHERE h.portfolio_id = ANY(CAST(:portfolio_ids AS uuid[]))
    ORDER BY h.portfolio_id, weight DESC NULLS LAST, s.ticker
    """
)


@dataclass(frozen=True)
class PortfolioCharts:
    """The markdown of every charted portfolio's value chart and weights chart, each portfolio
    under its own heading."""

    value: str
    weights: str


@dataclass(frozen=True)
class ActivePortfolios:
    """The first CHART_LIMIT active portfolios by name (`frame`: id, name, currency), and how
    many are active in all."""

    frame: pd.DataFrame
    total: int


def active_portfolios(conn: Connection, limit: int = CHART_LIMIT) -> ActivePortfolios:
    frame = read_frame(conn, ACTIVE_PORTFOLIOS, limit=limit)
    total = int(frame["total"].iloc[0]) if not frame.empty else 0
    return ActivePortfolios(frame=frame.drop(columns="total"), total=total)


def holdings_value(conn: Connection, portfolio_ids: list[uuid.UUID]) -> pd.DataFrame:
    """Columns portfolio_id, date, value (float, NaN when unknown that day)."""
    frame = read_frame(conn, HOLDINGS_VALUE, portfolio_ids=portfolio_ids)
    frame["value"] = frame["value"].astype(float)
    return frame


def holding_weights(conn: Connection, portfolio_ids: list[uuid.UUID]) -> pd.DataFrame:
    """Columns portfolio_id, ticker, side, weight (a fraction, NaN when unvalued)."""
    frame = read_frame(conn, HOLDING_WEIGHTS, portfolio_ids=portfolio_ids)
    frame["weight"] = frame["weight"].astype(float)
    return frame


def value_title(currency: str) -> str:
    return f"value of today's holdings, past year ({currency})"


def value_figure(values: pd.DataFrame, currency: str) -> Figure:
    """A line of `values` (columns date, value) over time; NaN values are gaps. The frame must
    hold at least one known value."""
    figure = new_figure()
    axes = figure.add_subplot()
    style(axes, value_title(currency))
    axes.plot(
        pd.to_datetime(values["date"]),
        values["value"].to_numpy(dtype=float),
        color=LINE_COLOR,
        linewidth=1.2,
        marker=".",
        markersize=2,
    )
    days = AutoDateLocator(minticks=2, maxticks=9)  # whole days, even over a few sessions
    axes.xaxis.set_major_locator(days)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(days))
    axes.set_ylabel(currency, fontsize=FONT_SIZE)
    axes.ticklabel_format(axis="y", style="plain", useOffset=False)
    unknown = int(values["value"].isna().sum())
    if unknown:
        axes.annotate(
            f"{unknown} day{'s' if unknown != 1 else ''} without a close or a rate (gaps)",
            xy=(0.99, 0.02),
            xycoords="axes fraction",
            ha="right",
            fontsize=FONT_SIZE,
            color=MUTED_COLOR,
        )
    return figure


def value_png(values: pd.DataFrame, currency: str) -> bytes:
    return to_png(value_figure(values, currency))


def weights_title(unvalued: int) -> str:
    title = "holdings' weights (market value / total value)"
    if unvalued:
        title += f", {unvalued} unvalued holding{'s' if unvalued != 1 else ''} left out"
    return title


def weights_figure(weights: pd.DataFrame) -> Figure:
    """Horizontal bars of `weights` (columns ticker, side, weight), longs positive and shorts
    negative, largest at the top; NaN weights are left out (named in the title). The frame must
    hold at least one known weight."""
    known = weights.dropna(subset=["weight"])
    figure = new_figure(height=max(2.0, min(6.0, 0.8 + 0.25 * len(known))))
    axes = figure.add_subplot()
    style(axes, weights_title(len(weights) - len(known)))
    labels = [f"{row.ticker} ({row.side})" for row in known.itertuples()]
    values = known["weight"].to_numpy(dtype=float)
    colors = [POSITIVE_COLOR if value >= 0 else NEGATIVE_COLOR for value in values]
    axes.barh(labels, values, color=colors)
    axes.invert_yaxis()
    axes.axvline(0, color=MUTED_COLOR, linewidth=0.8)
    axes.xaxis.set_major_formatter(PercentFormatter(1.0))
    return figure


def weights_png(weights: pd.DataFrame) -> bytes:
    return to_png(weights_figure(weights))


def value_markdown(values: pd.DataFrame, currency: str) -> str:
    """The value chart of one portfolio, or one line saying there is nothing to draw."""
    title = value_title(currency)
    if values.empty:
        return no_data(title, "none of its holdings has a close in the past year")
    if values["value"].isna().all():
        return no_data(title, "no day on which every holding has a close and a rate")
    return png_markdown(title, value_png(values, currency))


def weights_markdown(weights: pd.DataFrame) -> str:
    """The weights chart of one portfolio, or one line saying there is nothing to draw."""
    title = weights_title(0)
    if weights.empty:
        return no_data(title, "no holdings")
    if weights["weight"].isna().all():
        return no_data(title, "the portfolio or its holdings are unvalued")
    return png_markdown(title, weights_png(weights))


def portfolio_charts(conn: Connection) -> PortfolioCharts:
    """The value and weights charts of the first CHART_LIMIT active portfolios by name, as
    markdown, each under a heading naming its portfolio; a closing line says how many more were
    left out."""
    portfolios = active_portfolios(conn)
    if portfolios.frame.empty:
        line = "_no active portfolios_"
        return PortfolioCharts(value=line, weights=line)
    ids = list(portfolios.frame["id"])
    values = holdings_value(conn, ids)
    weights = holding_weights(conn, ids)
    value_parts, weight_parts = [], []
    for portfolio in portfolios.frame.itertuples():
        heading = f"#### {plain(str(portfolio.name))}"
        own_values = values[values["portfolio_id"] == portfolio.id]
        own_weights = weights[weights["portfolio_id"] == portfolio.id]
        value_parts.append(f"{heading}\n\n{value_markdown(own_values, str(portfolio.currency))}")
        weight_parts.append(f"{heading}\n\n{weights_markdown(own_weights)}")
    more = left_out(len(portfolios.frame), portfolios.total, "portfolios")
    return PortfolioCharts(
        value="\n\n".join([*value_parts, more]).strip(),
        weights="\n\n".join([*weight_parts, more]).strip(),
    )
