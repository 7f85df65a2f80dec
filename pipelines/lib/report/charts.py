"""Inline SVG charts: time series (lines, bands, flagged points) and horizontal bars.

Python computes the geometry (``scales``); the markup is in ``templates/*.svg.j2``, rendered
with autoescape, so a provider or GPU name from the data can never become markup in SVG text
or attributes. Colours come from the fixed ``PALETTE``, never from the data.

A chart is drawn ``WIDTH`` units wide and scaled by CSS to the full content width; the legend
sits below the plot. Lines break over gaps longer than ``GAP_DAYS``; a lone point is a dot.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup

from pipelines.lib.report.fmt import fmt_date, fmt_usd, isnum, truncate
from pipelines.lib.report.scales import (
    GAP_DAYS,
    Scale,
    clean,
    date_tick_label,
    date_ticks,
    money_tick,
    money_tick_each,
    nice_ticks,
    segments,
    use_log,
    y_ticks,
)
from pipelines.lib.report.templating import render_fragment

PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
)
FLAG_COLOR = "#b42318"
WIDTH = 1200  # SVG units; the content width of the page at 1280 px, so text keeps its size
LEGEND_COL_W, LEGEND_ROW_H, LEGEND_CHARS = 270.0, 18, 36


@dataclass
class LineSeries:
    """A line over time; ``label`` is the legend text (defaults to ``name``)."""

    name: str
    points: list[tuple[dt.date, float]]
    color: str
    dashed: bool = False
    label: str | None = None


@dataclass
class BandSeries:
    """A filled low..high band over time: points are (date, low, high)."""

    name: str
    points: list[tuple[dt.date, float, float]]
    color: str
    label: str | None = None


@dataclass
class MarkSeries:
    """Flagged observations drawn as hollow diamonds: points are (date, value, tooltip)."""

    name: str
    points: list[tuple[dt.date, float, str]] = field(default_factory=list)
    color: str = FLAG_COLOR


def _label(text: str, n: int) -> dict:
    """SVG text cut to ``n`` characters; the full text goes in a tooltip when cut."""
    short = truncate(text, n)
    return {"text": short, "title": text if short != text else None}


def _fmt_coords(points: Sequence[tuple[float, float]]) -> str:
    return "L".join(f"{x:.1f},{y:.1f}" for x, y in points)


def _layout(dates, values, width, height, log_y) -> tuple[Scale, list[float]]:
    left, right, top, bottom = 64.0, 16.0, 10.0, 26.0
    x0, x1 = min(dates), max(dates)
    if x0 == x1:
        x0, x1 = x0 - dt.timedelta(days=1), x1 + dt.timedelta(days=1)
    log = use_log(values, log_y)
    ticks = y_ticks(values, log)
    sc = Scale(
        x0.toordinal(),
        x1.toordinal(),
        ticks[0],
        ticks[-1],
        left,
        top,
        width - left - right,
        height - top - bottom,
        log,
    )
    return sc, ticks


def _axes(sc: Scale, ticks: list[float], y_format) -> dict:
    fmt = (money_tick_each if sc.log else y_format)(ticks)
    x0, x1 = dt.date.fromordinal(sc.x0), dt.date.fromordinal(sc.x1)
    span = (x1 - x0).days
    return {
        "left": sc.left,
        "right": sc.left + sc.width,
        "top": sc.top,
        "base": sc.top + sc.height,
        "log": sc.log,
        "y": [{"y": sc.y(t), "label": fmt(t)} for t in ticks],
        "x": [{"x": sc.x(d), "label": date_tick_label(d, span)} for d in date_ticks(x0, x1)],
    }


def _band_shapes(bands: Sequence[BandSeries], sc: Scale, gap_days: int) -> list[dict]:
    out = []
    for b in bands:
        for seg in segments(b.points, gap_days):
            if len(seg) == 1:
                d, low, high = seg[0]
                out.append(
                    {"kind": "bar", "x": sc.x(d), "y1": sc.y(low), "y2": sc.y(high)}
                    | {"color": b.color, "title": b.name}
                )
                continue
            upper = [(sc.x(d), sc.y(h)) for d, _, h in seg]
            lower = [(sc.x(d), sc.y(lw)) for d, lw, _ in reversed(seg)]
            out.append(
                {"kind": "area", "d": f"M{_fmt_coords(upper + lower)}Z"}
                | {"color": b.color, "title": b.name}
            )
    return out


def _line_shapes(lines: Sequence[LineSeries], sc: Scale, gap_days: int) -> list[dict]:
    out = []
    for s in lines:
        for seg in segments(s.points, gap_days):
            if len(seg) == 1:
                d, v = seg[0]
                title = f"{s.name} {fmt_date(d)}: {fmt_usd(v)}"
                out.append({"kind": "dot", "x": sc.x(d), "y": sc.y(v), "title": title})
            else:
                path = "M" + _fmt_coords([(sc.x(d), sc.y(v)) for d, v in seg])
                out.append({"kind": "path", "d": path, "title": s.name})
            out[-1] |= {"color": s.color, "dashed": s.dashed}
    return out


def _mark_shapes(marks: Sequence[MarkSeries], sc: Scale) -> list[dict]:
    out = []
    for m in marks:
        for d, v, title in m.points:
            x, y, r = sc.x(d), sc.y(v), 5.0
            diamond = [(x, y - r), (x + r, y), (x, y + r), (x - r, y)]
            out.append({"d": f"M{_fmt_coords(diamond)}Z", "color": m.color, "title": title})
    return out


def _legend(items: list[tuple[str, str, str]], width: float, left: float, top: float) -> dict:
    per_row = max(1, int((width - left) // LEGEND_COL_W))
    entries = [
        {
            "x": left + (i % per_row) * LEGEND_COL_W,
            "y": top + (i // per_row) * LEGEND_ROW_H,
            "color": color,
            "kind": kind,
            "label": _label(label, LEGEND_CHARS),
        }
        for i, (label, color, kind) in enumerate(items)
    ]
    return {"entries": entries, "height": math.ceil(len(items) / per_row) * LEGEND_ROW_H}


def xy_chart(
    lines: Sequence[LineSeries],
    bands: Sequence[BandSeries] = (),
    *,
    marks: Sequence[MarkSeries] = (),
    aria_label: str = "chart",
    width: int = WIDTH,
    height: int = 280,
    log_y: bool | str = False,
    gap_days: int = GAP_DAYS,
    y_format: Callable[[Sequence[float]], Callable[[float], str]] = money_tick,
) -> Markup:
    """An SVG time chart: bands (filled low..high), lines, flagged points, axes, legend below.

    ``log_y``: True, False or ``"auto"`` (log when positive values span 20x or more).
    ``gap_days``: a line breaks where observations are further apart (sparse series such as
    price-map versions pass a longer one)."""
    lines = [LineSeries(s.name, clean(s.points), s.color, s.dashed, s.label) for s in lines]
    bands = [BandSeries(b.name, clean(b.points), b.color, b.label) for b in bands]
    marks = [
        m for m in (MarkSeries(m.name, clean(m.points, 1), m.color) for m in marks) if m.points
    ]
    dates = [p[0] for s in (*lines, *bands, *marks) for p in s.points]
    values = [p[1] for s in (*lines, *marks) for p in s.points]
    values += [v for b in bands for p in b.points for v in p[1:]]
    if not dates:
        return render_fragment("note.html.j2", text="nothing to plot.", nodata=True)
    sc, ticks = _layout(dates, values, width, height, log_y)
    items = [(b.label or b.name, b.color, "band") for b in bands]
    items += [(s.label or s.name, s.color, "dash" if s.dashed else "line") for s in lines]
    items += [(m.name, m.color, "mark") for m in marks]
    legend = _legend(items, width, sc.left, height + 4)
    return render_fragment(
        "xy_chart.svg.j2",
        width=width,
        height=height + 8 + legend["height"],
        aria_label=aria_label,
        axes=_axes(sc, ticks, y_format),
        bands=_band_shapes(bands, sc, gap_days),
        lines=_line_shapes(lines, sc, gap_days),
        marks=_mark_shapes(marks, sc),
        legend=legend["entries"],
    )


def line_chart(
    series: Sequence[LineSeries], *, aria_label: str = "line chart", **kw: object
) -> Markup:
    """A multi-series line chart (prices over time) with axes, tick labels and a legend."""
    return xy_chart(series, (), aria_label=aria_label, **kw)


def band_chart(
    rows: Sequence[tuple[dt.date, object, object, object, object]],
    *,
    aria_label: str = "band chart",
    **kw: object,
) -> Markup:
    """rows: (date, p25, p75, median, lowest): the p25-p75 band, the median and the lowest line."""
    rows = list(rows)
    band = BandSeries(
        "p25\u2013p75 of provider prices", [(r[0], r[1], r[2]) for r in rows], PALETTE[0]
    )
    median = LineSeries("market median", [(r[0], r[3]) for r in rows], PALETTE[0])
    lowest = LineSeries("lowest price", [(r[0], r[4]) for r in rows], PALETTE[1], dashed=True)
    return xy_chart([median, lowest], [band], aria_label=aria_label, **kw)


def bar_chart(
    items: Sequence[tuple[str, float, str]],
    *,
    aria_label: str = "bar chart",
    width: int = WIDTH,
    value_format: Callable[[float], str] = fmt_usd,
) -> Markup:
    """Horizontal bars: items are (label, value, note); drawn in the given order."""
    items = [(lab, float(v), note) for lab, v, note in items if isnum(v)]
    if not items:
        return render_fragment("note.html.j2", text="nothing to plot.", nodata=True)
    left, right, top, row_h = 170.0, 250.0, 6.0, 22.0
    plot_w = width - left - right
    ticks = nice_ticks(
        min(0.0, min(v for _, v, _ in items)), max(max(v for _, v, _ in items), 1e-9)
    )
    lo, hi = ticks[0], ticks[-1]
    fmt = money_tick(ticks)

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * plot_w

    bars = []
    for i, (label, v, note) in enumerate(items):
        text = f"{value_format(v)} \u00b7 {note}" if note else value_format(v)
        bars.append(
            {
                "y": top + i * row_h,
                "x0": x(min(0.0, v)),
                "w": max(x(max(0.0, v)) - x(min(0.0, v)), 1.0),
                "x1": x(max(0.0, v)),
                "label": _label(label, 26),
                "value": _label(text, 40),
                "title": f"{label}: {value_format(v)} {note}",
            }
        )
    base = top + row_h * len(items)
    return render_fragment(
        "bar_chart.svg.j2",
        width=width,
        height=base + 22,
        aria_label=aria_label,
        left=left,
        top=top,
        base=base,
        zero=x(0.0),
        ticks=[{"x": x(t), "label": fmt(t)} for t in ticks],
        bars=bars,
        color=PALETTE[0],
    )
