"""Charts of the warehouse's data as PNG images in markdown, for Dagster's asset metadata.

Below the Dagster layer: each module fetches its data (`Connection -> DataFrame`) and draws it
(`DataFrame -> bytes`) separately, and its `*_markdown` functions return markdown that the assets
wrap in `dg.MetadataValue.md`. `render` holds the figure size, style and PNG encoding.
"""

from rm_pipeline.charts.coverage import coverage_markdown
from rm_pipeline.charts.portfolios import PortfolioCharts, portfolio_charts
from rm_pipeline.charts.render import png_markdown
from rm_pipeline.charts.trades import trade_charts

__all__ = [
    "PortfolioCharts",
    "coverage_markdown",
    "png_markdown",
    "portfolio_charts",
    "trade_charts",
]
