"""Figure plumbing for the report's plots: style, figures, SVG output, colours, label helpers.

`new_figure` and `figure_to_svg` make figures without pyplot's global state and turn them into
SVG markup for the HTML page.
"""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np
from matplotlib import rc_context
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

# Labels longer than this are shortened on axes so that one long class name cannot squash a plot.
MAX_LABEL_CHARS = 24

TRAIN_COLOR = "#1f77b4"
VALIDATION_COLOR = "#d95f02"
BEST_COLOR = "#1b9e77"
MUTED_COLOR = "#9e9e9e"

# Text stays text in the SVG (small files, selectable, searchable); matplotlib escapes it.
_SVG_RC = {"svg.fonttype": "none", "font.size": 9.0, "axes.titlesize": 10.0}
_SVG_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)
_SVG_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_SVG_METADATA = re.compile(r"<metadata>.*?</metadata>", re.DOTALL)
# A start or end tag. matplotlib escapes `<` and `>` in texts and attribute values, so this
# never matches inside a user string.
_SVG_TAG = re.compile(r"<[^<>]+>")
_SVG_REFERENCE = re.compile(r'(\sid="|url\(#|href="#)')


# ---------------------------------------------------------------------------------------------
# Figures


def style():
    """A context in which to create and draw the report's figures (font sizes, SVG text)."""
    return rc_context(_SVG_RC)


def new_figure(
    width: float = 6.4, height: float = 3.2, ncols: int = 1, nrows: int = 1, sharey: bool = False
) -> tuple[Figure, Any]:
    """A figure that pyplot does not track, with a grid of axes.

    Create and draw it inside `style()` so that its texts get the report's sizes.

    Args:
        width: width in inches. Defaults to 6.4.
        height: height in inches. Defaults to 3.2.
        ncols: axes per row. Defaults to 1.
        nrows: rows of axes. Defaults to 1.
        sharey: share the y axis between axes. Defaults to False.

    Returns:
        The figure and its axes: one `Axes`, or an array of them for a grid.
    """
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, sharey=sharey)
    return fig, axes


def figure_to_svg(fig: Figure, name: str = "figure") -> str:
    """Render a figure as inline SVG markup and release it.

    Args:
        fig: the figure; it is cleared afterwards and must not be used again.
        name: a name unique on the page; it prefixes and seeds the ids inside the SVG so that
            two plots on one page never share an id, and the same figure always renders the
            same bytes.
            Defaults to "figure".

    Returns:
        The `<svg ...>...</svg>` element without XML prologue, metadata or comments.
        matplotlib escapes every text it writes (`<` becomes `&lt;`), so user strings cannot
        become markup.
    """
    buffer = io.StringIO()
    try:
        with rc_context({**_SVG_RC, "svg.hashsalt": name}):
            FigureCanvasSVG(fig).print_svg(buffer, metadata={"Date": None, "Creator": None})
    finally:
        fig.clear()
    svg = _SVG_PROLOGUE.sub("", buffer.getvalue(), count=1)
    svg = _SVG_METADATA.sub("", _SVG_COMMENT.sub("", svg)).strip()
    return _prefix_ids(svg, re.sub(r"[^A-Za-z0-9_-]", "_", name))


def _prefix_ids(svg: str, prefix: str) -> str:
    """Prefix every id and reference to it: matplotlib numbers ids per figure ("axes_1"), so
    two inline figures would otherwise share them on one page."""

    def fix(tag: re.Match[str]) -> str:
        return _SVG_REFERENCE.sub(lambda m: f"{m.group(1)}{prefix}-", tag.group(0))

    return _SVG_TAG.sub(fix, svg)


def _short(label: Any) -> str:
    text = str(label)
    return text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…"


def _finite(values: Any) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    return array[np.isfinite(array)]
