"""The coverage of `price_history`, for the whole warehouse: per calendar year, the securities whose
history spans it (from each one's first to its last bar), and the sessions missing from
`price_gaps` (migration 0015). Both come from index steps and the stored gaps, never a scan of the
bars, so the chart costs the same nightly whatever the history's length.

A gap is a run of sessions of a security's calendar without a bar between its first and last bar;
its sessions are counted in the year they fall in (a gap over New Year is split along the sessions
of `market_sessions`). Gaps are known only where `price_gap_coverage` reaches, so a year without
missing sessions drawn may still have unknown ones.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sqlalchemy import Connection, text

from rm_pipeline.charts.data import read_frame
from rm_pipeline.charts.render import (
    FONT_SIZE,
    LINE_COLOR,
    NEGATIVE_COLOR,
    new_figure,
    no_data,
    png_markdown,
    style,
    to_png,
)

COVERAGE_TITLE = "price history coverage per year"
LABELLED_YEARS = 25
"""Up to this many years, every year is labelled; beyond, a readable subset."""

COVERAGE_BY_YEAR = text(
    """
    WITH spans AS (
        SELECT span.first, span.last
        FROM securities AS s
        CROSS JOIN LATERAL bar_span(s.id) AS span
        WHERE span.first IS NOT NULL
    ),
    bars AS (
        SELECT year, count(*) AS securities
        FROM spans
        CROSS JOIN LATERAL generate_series(
            extract(year FROM spans.first)::int, extract(year FROM spans.last)::int
        ) AS year
        GROUP BY year
    ),
    missing AS (
        SELECT split.year, sum(split.sessions) AS missing_sessions
        FROM price_gaps AS g
        JOIN securities AS s ON s.id = g.security_id
        CROSS JOIN LATERAL (
            SELECT extract(year FROM g.first_missing)::int AS year, g.sessions
            WHERE extract(year FROM g.first_missing) = extract(year FROM g.last_missing)
            UNION ALL
            SELECT extract(year FROM m.date)::int, count(*)
            FROM market_sessions AS m
            WHERE extract(year FROM g.first_missing) <> extract(year FROM g.last_missing)
              AND m.calendar = s.trading_calendar
              AND m.date BETWEEN g.first_missing AND g.last_missing
            GROUP BY 1
        ) AS split
        GROUP BY split.year
    )
    SELECT
        year,
        coalesce(b.securities, 0) AS securities,
        coalesce(m.missing_sessions, 0) AS missing_sessions
    FROM bars AS b
    FULL JOIN missing AS m USING (year)
    ORDER BY year
    """
)


def coverage_by_year(conn: Connection) -> pd.DataFrame:
    """Columns year, securities (whose history spans that year), missing_sessions (ints)."""
    frame = read_frame(conn, COVERAGE_BY_YEAR)
    return frame.astype({"year": int, "securities": int, "missing_sessions": int})


def coverage_figure(coverage: pd.DataFrame) -> Figure:
    """Two panels sharing the years: securities with bars (above), missing sessions (below).
    The frame must hold at least one year."""
    figure = new_figure()
    securities_axes, missing_axes = figure.subplots(2, 1, sharex=True)
    years = coverage["year"].to_numpy(dtype=int)
    style(securities_axes, f"{COVERAGE_TITLE}: securities with a history spanning the year")
    securities_axes.bar(years, coverage["securities"].to_numpy(dtype=int), color=LINE_COLOR)
    missing = int(coverage["missing_sessions"].sum())
    style(missing_axes, f"sessions missing from the stored histories ({missing:,} in all)")
    missing_axes.bar(years, coverage["missing_sessions"].to_numpy(dtype=int), color=NEGATIVE_COLOR)
    for axes in (securities_axes, missing_axes):
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylim(bottom=0, top=max(1, axes.get_ylim()[1]))  # counts: never below 0
    if len(years) <= LABELLED_YEARS:
        missing_axes.set_xticks(years, [str(year) for year in years])
    else:
        missing_axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    missing_axes.set_xlim(years.min() - 0.6, years.max() + 0.6)
    missing_axes.set_xlabel("year", fontsize=FONT_SIZE)
    return figure


def coverage_png(coverage: pd.DataFrame) -> bytes:
    return to_png(coverage_figure(coverage))


def coverage_markdown(conn: Connection) -> str:
    """The coverage chart as a markdown image, or one line when the warehouse holds no bars."""
    coverage = coverage_by_year(conn)
    if coverage.empty:
        return no_data(COVERAGE_TITLE, "no bars stored")
    return png_markdown(COVERAGE_TITLE, coverage_png(coverage))
