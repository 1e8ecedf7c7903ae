"""Figures to PNG bytes, and PNG bytes to the markdown image Dagster's UI shows.

Drawn with the Agg canvas on a `matplotlib.figure.Figure` of its own, never through `pyplot`,
whose state (and `matplotlib.use`) is process-wide: charts drawn in one run worker touch nothing
another thread or library relies on. Every chart has the same modest size (8 x 3.5 inches at
100 dpi, 800 x 350 pixels) and a fixed resolution, so a materialization's metadata stays small.
"""

from __future__ import annotations

import base64
import io
import re

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

WIDTH_INCHES = 8.0
HEIGHT_INCHES = 3.5
DPI = 100
CHART_LIMIT = 10
"""At most this many charts (portfolios, trades) in one materialization."""

LINE_COLOR = "#1f6feb"
POSITIVE_COLOR = "#2e8540"
NEGATIVE_COLOR = "#c0392b"
MUTED_COLOR = "#8c959f"
FONT_SIZE = 8


def new_figure(height: float = HEIGHT_INCHES) -> Figure:
    """An empty figure of the charts' size, laid out so titles and labels fit, on an Agg canvas."""
    figure = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def style(axes: Axes, title: str) -> None:
    """The charts' common look: a small title, light grid, no top or right frame."""
    axes.set_title(title, fontsize=FONT_SIZE + 1, loc="left")
    axes.grid(True, color="#d0d7de", linewidth=0.5)
    axes.set_axisbelow(True)
    axes.tick_params(labelsize=FONT_SIZE)
    axes.xaxis.get_offset_text().set_fontsize(FONT_SIZE)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def to_png(figure: Figure) -> bytes:
    """The figure as PNG bytes at the charts' fixed resolution (no timestamp or software tag, so
    the same data draws the same bytes)."""
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer, metadata={"Software": None})
    return buffer.getvalue()


def plain(label: str) -> str:
    """A label safe inside markdown alt text or a heading: one line, no brackets."""
    return re.sub(r"\s+", " ", label.replace("[", "(").replace("]", ")")).strip()


def png_markdown(title: str, png: bytes) -> str:
    """A markdown image embedding `png`, with `title` as its alt text."""
    return f"![{plain(title)}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def no_data(title: str, reason: str) -> str:
    """The one line of markdown standing for a chart without data."""
    return f"_{plain(title)}: {reason}_"


def left_out(shown: int, total: int, what: str) -> str:
    """A line saying how many of `total` were left out of the charts, empty when none were."""
    if total <= shown:
        return ""
    return f"_{total - shown} more {what} not charted (at most {shown} per materialization)_"
