"""Drawing, on hand-built frames: PNG bytes of a modest size, and the data each chart draws,
unknown values left as gaps."""

from __future__ import annotations

import base64
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from rm_pipeline.charts.coverage import coverage_figure, coverage_png
from rm_pipeline.charts.portfolios import (
    value_figure,
    value_markdown,
    value_png,
    weights_figure,
    weights_markdown,
    weights_png,
)
from rm_pipeline.charts.render import png_markdown
from rm_pipeline.charts.trades import HORIZONS, trade_figure, trade_markdown, trade_png

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PNG_BYTES = 150_000
MIN_PNG_BYTES = 5_000
"""A chart with axes, labels and a line weighs more than this; an empty canvas much less."""

NAN = float("nan")


def values_with_a_gap() -> pd.DataFrame:
    days = pd.bdate_range("2024-01-01", periods=250).date
    values = [1000 + 10 * math.sin(n / 7) + n for n in range(250)]
    values[100] = NAN  # a day a holding had no close
    return pd.DataFrame({"date": days, "value": values})


def legs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ticker": ["AAPL", "MSFT"],
            "position_type": ["long", "short"],
            "allocation_percent": [60.0, 40.0],
        }
    )


def path_with_a_gap() -> pd.DataFrame:
    realized = [0.0, 0.01, NAN, 0.02, 0.015, 0.03]
    return pd.DataFrame({"session": range(6), "realized": realized})


def projected(*values: float) -> pd.Series:
    return pd.Series(values, index=list(HORIZONS.values()), dtype=float)


def assert_small_png(png: bytes) -> None:
    assert png.startswith(PNG_SIGNATURE)
    assert MIN_PNG_BYTES < len(png) < MAX_PNG_BYTES, len(png)


def test_value_chart_keeps_a_missing_day_as_a_gap() -> None:
    values = values_with_a_gap()
    figure = value_figure(values, "USD")
    (line,) = figure.axes[0].get_lines()
    drawn = np.asarray(line.get_ydata(), dtype=float)
    assert np.isnan(drawn[100])
    assert np.isnan(drawn).sum() == 1
    np.testing.assert_allclose(drawn[:100], values["value"][:100])
    assert figure.axes[0].get_title(loc="left") == "value of today's holdings, past year (USD)"
    assert_small_png(value_png(values, "USD"))


def test_a_chart_without_data_is_one_line_of_markdown() -> None:
    empty = pd.DataFrame({"date": [], "value": []})
    unknown = pd.DataFrame({"date": [date(2024, 1, 2)], "value": [NAN]})
    for markdown in (value_markdown(empty, "USD"), value_markdown(unknown, "EUR")):
        assert "data:image" not in markdown
        assert "\n" not in markdown
        assert markdown.startswith("_value of today's holdings")
    no_weights = pd.DataFrame({"ticker": ["AAPL"], "side": ["long"], "weight": [NAN]})
    assert "unvalued" in weights_markdown(no_weights)
    assert "data:image" not in weights_markdown(no_weights)
    nothing = pd.DataFrame({"session": [0], "realized": [NAN]})
    chart = trade_markdown("Pair", date(2024, 6, 3), legs(), nothing, projected(*[NAN] * 4))
    assert "data:image" not in chart


def test_weights_are_signed_bars_and_unvalued_holdings_are_named() -> None:
    weights = pd.DataFrame(
        {
            "ticker": ["AAPL", "SAP.DE", "MSFT", "TSLA"],
            "side": ["long", "long", "short", "long"],
            "weight": [0.7, 0.5, -0.2, NAN],
        }
    )
    figure = weights_figure(weights)
    axes = figure.axes[0]
    widths = [bar.get_width() for bar in axes.patches]
    assert widths == pytest.approx([0.7, 0.5, -0.2])
    labels = [label.get_text() for label in axes.get_yticklabels()]
    assert labels == ["AAPL (long)", "SAP.DE (long)", "MSFT (short)"]
    assert "1 unvalued holding left out" in axes.get_title(loc="left")
    assert_small_png(weights_png(weights))


def test_trade_chart_draws_legs_realized_path_and_projection() -> None:
    path = path_with_a_gap()
    figure = trade_figure("Pair", date(2024, 6, 3), legs(), path, projected(0.01, NAN, 0.05, 0.1))
    legs_axes, path_axes = figure.axes
    assert [bar.get_width() for bar in legs_axes.patches] == pytest.approx([0.6, -0.4])
    realized, projection = path_axes.get_lines()[:2]
    drawn = np.asarray(realized.get_ydata(), dtype=float)
    assert np.isnan(drawn[2])
    np.testing.assert_allclose(np.delete(drawn, 2), [0.0, 0.01, 0.02, 0.015, 0.03])
    # From the start, to each horizon with an estimate (3 months has none).
    assert list(projection.get_xdata()) == [0, 21, 126, 252]
    assert list(projection.get_ydata()) == pytest.approx([0, 0.01, 0.05, 0.1])
    assert path_axes.get_xlabel() == "sessions since 2024-06-03"
    assert_small_png(
        trade_png("Pair", date(2024, 6, 3), legs(), path, projected(0.01, NAN, 0.05, 0.1))
    )


def test_coverage_chart_has_a_panel_for_securities_and_one_for_missing_sessions() -> None:
    coverage = pd.DataFrame(
        {
            "year": [2022, 2023, 2024],
            "securities": [3, 5, 6],
            "missing_sessions": [0, 4, 1],
        }
    )
    figure = coverage_figure(coverage)
    securities, missing = figure.axes
    assert [bar.get_height() for bar in securities.patches] == [3, 5, 6]
    assert [bar.get_height() for bar in missing.patches] == [0, 4, 1]
    assert "securities with a history spanning the year" in securities.get_title(loc="left")
    assert_small_png(coverage_png(coverage))


def test_markdown_embeds_the_png_itself() -> None:
    png = PNG_SIGNATURE + b"rest"
    markdown = png_markdown("value [EUR]\nof today", png)
    prefix = "![value (EUR) of today](data:image/png;base64,"
    assert markdown.startswith(prefix)
    assert markdown.endswith(")")
    assert base64.b64decode(markdown[len(prefix) : -1]) == png


def test_coverage_counts_never_go_below_zero_even_with_nothing_missing() -> None:
    coverage = pd.DataFrame(
        {"year": [2024, 2025], "securities": [5, 6], "missing_sessions": [0, 0]}
    )
    for axes in coverage_figure(coverage).axes:
        bottom, top = axes.get_ylim()
        assert bottom == 0 and top >= 1
