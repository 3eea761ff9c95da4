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

from reports.outliers import clip_limits  # noqa: F401 - the plots' modules import it from here

# Labels longer than this are shortened on axes so that one long class name cannot squash a plot.
MAX_LABEL_CHARS = 24

TRAIN_COLOR = "#1f77b4"
CLIPPED_COLOR = "#c62828"
VALIDATION_COLOR = "#d95f02"
BEST_COLOR = "#1b9e77"
MUTED_COLOR = "#9e9e9e"

# Point plots draw at most this many points (a random sample of the rest): the page's size.
MAX_POINTS = 5000

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


def draw_clipped(ax: Any, x: Any, y: Any, limits: tuple[float, float] | None) -> None:
    """Mark the points above `limits` as triangles on the axis's top edge, with their values
    written beside them when there are only a few."""
    if limits is None:
        return
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    above = np.isfinite(y) & (y > limits[1])
    if not above.any():
        return
    ax.plot(
        x[above],
        np.full(above.sum(), limits[1]),
        "^",
        color=CLIPPED_COLOR,
        ms=6,
        clip_on=False,
        label="off the scale",
        zorder=5,
    )
    if above.sum() <= 3:
        for xi, yi in zip(x[above], y[above], strict=True):
            ax.annotate(
                f"{yi:.3g}",
                (xi, limits[1]),
                xytext=(4, -9),
                textcoords="offset points",
                fontsize=7,
                color=CLIPPED_COLOR,
            )


def sample_indices(n: int, limit: int = MAX_POINTS, seed: int = 0) -> np.ndarray:
    """Indices of at most `limit` of `n` points, drawn at random (all of them when they fit),
    in their original order."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))
