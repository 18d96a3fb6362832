"""PNG charts for the run report (warehouse/report.py), drawn by matplotlib's Agg canvas.

No pyplot: each chart is its own `Figure` on a `FigureCanvasAgg`, so nothing global is touched and the
functions are safe to call from a Dagster process. Text is drawn with DejaVu Sans plus whichever CJK font
the machine has (none is shipped or downloaded); a label that no available font can draw (Chinese on a
machine without a CJK font) is replaced by its row number `#n`, which the report's tables also show.
"""
from __future__ import annotations

import functools
import io
from collections.abc import Sequence

import numpy as np
from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from matplotlib.ticker import MaxNLocator

# CJK fonts as Debian/Windows/macOS name them; the first ones present are used as fallbacks after DejaVu Sans
_CJK_CANDIDATES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
                   "WenQuanYi Micro Hei", "Droid Sans Fallback", "AR PL UMing CN", "AR PL UKai CN",
                   "Microsoft YaHei", "SimHei", "PingFang SC")
BASE_FONT = "DejaVu Sans"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
MAX_LABEL = 28


@functools.lru_cache(maxsize=1)
def cjk_fonts() -> tuple[str, ...]:
    """Names of the installed CJK fonts matplotlib can use (empty on a machine without one)."""
    present = {f.name for f in font_manager.fontManager.ttflist}
    return tuple(n for n in _CJK_CANDIDATES if n in present) + tuple(
        sorted(n for n in present if "CJK" in n and n not in _CJK_CANDIDATES))


def font_family() -> list[str]:
    return [BASE_FONT, *cjk_fonts()]


@functools.lru_cache(maxsize=1)
def _charmap() -> frozenset[int]:
    codes: set[int] = set()
    for name in font_family():
        path = font_manager.findfont(font_manager.FontProperties(family=name), fallback_to_default=False)
        codes.update(FT2Font(path).get_charmap())
    return frozenset(codes)


def drawable(text: str) -> bool:
    """True when every character of `text` has a glyph in the fonts the charts use."""
    cm = _charmap()
    return all(ord(ch) in cm or ch.isspace() for ch in text)


def chart_labels(values: Sequence[str]) -> list[str]:
    """Axis labels: the value (shortened) when the fonts can draw it, else its 1-based row number `#n`."""
    out = []
    for i, v in enumerate(values, start=1):
        v = str(v)
        v = v if len(v) <= MAX_LABEL else v[:MAX_LABEL - 1] + "…"
        out.append(v if drawable(v) else f"#{i}")
    return out


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buf, metadata={"Software": None})
    return buf.getvalue()


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def stacked_barh(labels: Sequence[str], series: dict[str, Sequence[float]], title: str, xlabel: str) -> bytes:
    """Horizontal bars, one per label (first label on top), stacked by series (legend when more than one);
    a series that is zero everywhere is left out."""
    series = {k: v for k, v in series.items() if any(x for x in v)} or dict(list(series.items())[:1])
    with rc_context({"font.family": font_family(), "font.size": 9}):
        fig = _figure(8.0, 1.2 + 0.28 * max(len(labels), 1))
        ax = fig.add_subplot()
        y = np.arange(len(labels))
        left = np.zeros(len(labels))
        for i, (name, values) in enumerate(series.items()):
            vals = np.asarray(values, dtype=float)
            ax.barh(y, vals, left=left, color=PALETTE[i % len(PALETTE)], label=str(name), height=0.7)
            left += vals
        for yi, total in zip(y, left):
            ax.annotate(f"{total:,.0f}", (total, yi), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize=8)
        ax.set_yticks(y, chart_labels(labels))
        ax.invert_yaxis()
        ax.set_xlim(0, max(float(left.max()) if len(left) else 0.0, 1.0) * 1.12)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        ax.grid(axis="x", alpha=0.3)
        if len(series) > 1:
            ax.legend(loc="lower right", fontsize=8, frameon=False)
        return _png(fig)


def histogram(series: dict[str, Sequence[float]], title: str, xlabel: str, bins: int = 40, log: bool = False) -> bytes:
    """Overlaid histograms of each series on shared bin edges (count axis, logarithmic if `log`)."""
    arrays = {k: np.asarray(v, dtype=float) for k, v in series.items()}
    everything = np.concatenate([a for a in arrays.values() if len(a)] or [np.zeros(0)])
    if len(everything) == 0:
        edges = np.linspace(0.0, 1.0, 2)
    elif everything.min() == everything.max():
        edges = np.linspace(everything.min() - 0.5, everything.max() + 0.5, 2)
    else:
        edges = np.histogram_bin_edges(everything, bins=bins)
    with rc_context({"font.family": font_family(), "font.size": 9}):
        fig = _figure(8.0, 3.4)
        ax = fig.add_subplot()
        for i, (name, a) in enumerate(arrays.items()):
            if len(a):
                ax.hist(a, bins=edges, color=PALETTE[i % len(PALETTE)], alpha=0.75, label=f"{name} (n={len(a):,})", log=log)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("count (log scale)" if log else "count")
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper left", fontsize=8, frameon=False)
        return _png(fig)
