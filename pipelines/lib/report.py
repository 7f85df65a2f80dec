"""The static HTML report of the GPU rental market: pure functions, no I/O.

``render_report(frames, as_of)`` turns the published marts (full history, polars frames keyed
by table name) into ONE self-contained HTML page: CSS in a ``<style>`` block, charts as inline
SVG drawn here, no JavaScript, no fonts, images or anything else fetched from a network. It
opens from disk in any browser.

Safety: every string that comes from data (provider names, GPU ids, tiers, ...) goes through
``html.escape(..., quote=True)`` before it reaches the page, in HTML text, SVG text and
attributes alike. Class names are picked from fixed whitelists, never built from data.

Robustness: a missing, empty or malformed frame, or a day with no rows, gives a "No data"
note in that section; nothing is dropped silently (a chart that shows a subset says so).

Sections: header, today's market, price history per GPU and provider, spreads over time,
cost per FLOP ranking, what moved today, footer. Only rows dated on or before ``as_of`` are
used, so re-rendering an old day gives that day's report.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import polars as pl

POPULAR_GPUS = (
    "H100-SXM-80GB",
    "H200-SXM-141GB",
    "B200-180GB",
    "A100-SXM-80GB",
    "MI300X-192GB",
    "L40S-48GB",
    "RTX4090-24GB",
)
PRICING_ORDER = ("on_demand", "spot", "reserved")
PRICING_LABELS = {"on_demand": "on-demand", "spot": "spot", "reserved": "reserved"}
CONFIDENCE_CLASSES = {"high": "conf-high", "medium": "conf-medium", "low": "conf-low"}
TOP_GPUS = 6  # charts drawn in the history and spread sections
MAX_PROVIDERS_PER_CHART = 8
RECENT_DAYS = 30  # history charts prefer providers seen this recently
GAP_DAYS = 7  # a line is broken where consecutive observations are further apart than this
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
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DASH = "\u2014"  # shown for a missing number

# Column kinds per mart; missing optional columns are added as nulls, missing required ones
# turn the section into a "No data" note.
_NUM, _INT, _STR, _BOOL, _DATE = "num", "int", "str", "bool", "date"
SCHEMAS: dict[str, dict[str, str]] = {
    "gpu_price_daily": {
        "date": _DATE,
        "gpu_model": _STR,
        "provider": _STR,
        "provider_tier": _STR,
        "pricing": _STR,
        "price_min": _NUM,
        "price_median": _NUM,
        "n_offers": _INT,
    },
    "daily_summary": {
        "date": _DATE,
        "gpu_model": _STR,
        "pricing": _STR,
        "market_median": _NUM,
        "p25_price": _NUM,
        "p75_price": _NUM,
        "lowest_price": _NUM,
        "lowest_provider": _STR,
        "change_1d_pct": _NUM,
        "change_7d_pct": _NUM,
        "change_30d_pct": _NUM,
        "n_providers": _INT,
        "n_offers": _INT,
        "available_gpus": _INT,
        "coverage": _NUM,
        "confidence": _STR,
        "methodology_version": _STR,
        "change_1d_like_for_like_pct": _NUM,
        "change_7d_like_for_like_pct": _NUM,
        "change_30d_like_for_like_pct": _NUM,
    },
    "provider_spreads": {
        "date": _DATE,
        "gpu_model": _STR,
        "pricing": _STR,
        "n_providers": _INT,
        "cheapest_provider": _STR,
        "cheapest_price": _NUM,
        "dearest_provider": _STR,
        "dearest_price": _NUM,
        "median_price": _NUM,
        "hyperscaler_median": _NUM,
        "neocloud_median": _NUM,
        "marketplace_median": _NUM,
        "max_min_ratio": _NUM,
        "hyperscaler_premium": _NUM,
    },
    "cost_per_flop": {
        "date": _DATE,
        "gpu_model": _STR,
        "provider": _STR,
        "pricing": _STR,
        "usd_per_gpu_hour": _NUM,
        "usd_per_pflop_hour_bf16": _NUM,
        "usd_per_gb_vram_hour": _NUM,
        "bf16_is_fp16": _BOOL,
    },
    "price_changes": {
        "date": _DATE,
        "gpu_model": _STR,
        "provider": _STR,
        "pricing": _STR,
        "kind": _STR,
        "prev_date": _DATE,
        "days_since_prev": _INT,
        "price_prev": _NUM,
        "price_now": _NUM,
        "change_abs": _NUM,
        "change_pct": _NUM,
    },
}
SCHEMAS["api_price_families"] = {
    "date": _DATE,
    "family": _STR,
    "cheapest_output_usd_per_mtok": _NUM,
    "cheapest_input_usd_per_mtok": _NUM,
    "cheapest_model_id": _STR,
    "cheapest_source": _STR,
}
SCHEMAS["serving_cost_daily"] = {
    "date": _DATE,
    "model": _STR,
    "gpu_model": _STR,
    "pricing": _STR,
    "usd_per_gpu_hour": _NUM,
    "tokens_per_second_per_gpu": _NUM,
    "usd_per_million_output_tokens": _NUM,
    "usd_per_gpu_hour_cheapest": _NUM,
    "cheapest_provider": _STR,
    "usd_per_million_output_tokens_cheapest": _NUM,
    "cost_rank": _INT,
    "api_output_usd_per_mtok": _NUM,
    "serving_margin": _NUM,
    "benchmark_round": _STR,
    "benchmark_system": _STR,
    "scenario": _STR,
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "serving_cost_daily": (
        "date",
        "model",
        "gpu_model",
        "pricing",
        "usd_per_million_output_tokens",
    ),
    "api_price_families": ("date", "family", "cheapest_output_usd_per_mtok"),
    "gpu_price_daily": ("date", "gpu_model", "provider", "pricing", "price_min"),
    "daily_summary": ("date", "gpu_model", "pricing", "market_median"),
    "provider_spreads": ("date", "gpu_model", "pricing"),
    "cost_per_flop": ("date", "gpu_model", "provider", "pricing", "usd_per_pflop_hour_bf16"),
    "price_changes": ("date", "gpu_model", "provider", "pricing", "kind"),
}
_DTYPES = {_NUM: pl.Float64, _INT: pl.Int64, _STR: pl.String, _BOOL: pl.Boolean, _DATE: pl.Date}


# ---------------------------------------------------------------------------- escaping, formats


class Markup(str):
    """A string that is already safe HTML (built here from escaped parts and numbers)."""

    __slots__ = ()


def esc(value: object) -> str:
    """HTML-escape anything for text or attribute context (quotes included)."""
    if isinstance(value, Markup):
        return str(value)
    return html.escape("" if value is None else str(value), quote=True)


def _isnum(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def fmt_usd(v: object) -> str:
    """$2.69, $1,234, $0.0312, $0.07 (3 significant digits under ten cents); a dash if missing."""
    if not _isnum(v):
        return DASH
    a = abs(float(v))
    if a >= 1000:
        s = f"{a:,.0f}"
    elif a >= 0.1 or a == 0:
        s = f"{a:,.2f}"
    else:  # three significant digits, trailing zeros past the cents dropped
        whole, frac = f"{a:.{min(8, 2 - math.floor(math.log10(a)))}f}".split(".")
        s = f"{whole}.{frac.rstrip('0').ljust(2, '0')}"
    return ("-" if v < 0 else "") + "$" + s


def fmt_pct(v: object) -> str:
    """+12.3% / -4.0%; a dash if missing."""
    return f"{v:+.1f}%" if _isnum(v) else DASH


def fmt_ratio(v: object) -> str:
    return f"{v:.2f}\u00d7" if _isnum(v) else DASH


def fmt_int(v: object) -> str:
    return f"{int(v):,d}" if _isnum(v) else DASH


def fmt_date(d: object) -> str:
    return d.isoformat() if isinstance(d, dt.date) else DASH


def _pricing_label(p: object) -> str:
    return PRICING_LABELS.get(p, str(p)) if isinstance(p, str) else DASH


def _pricing_rank(p: object) -> tuple[int, str]:
    return (PRICING_ORDER.index(p), "") if p in PRICING_ORDER else (len(PRICING_ORDER), str(p))


def _change_html(v: object, arrows: bool = False) -> Markup:
    if not _isnum(v):
        return Markup(f'<span class="muted">{DASH}</span>')
    r = round(float(v), 1)
    cls, arrow = ("up", "\u25b2 ") if r > 0 else ("down", "\u25bc ") if r < 0 else ("flat", "")
    return Markup(f'<span class="{cls}">{arrow if arrows else ""}{esc(fmt_pct(v))}</span>')


def _truncate(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "\u2026"


def _svg_label(label: str, n: int) -> str:
    """Escaped SVG text content, cut to ``n`` characters; the full text as a tooltip if cut."""
    short = _truncate(label, n)
    return esc(short) if short == label else f"<title>{esc(label)}</title>{esc(short)}"


def _note(text: str, nodata: bool = True) -> str:
    cls = "nodata" if nodata else "note"
    prefix = "No data: " if nodata else ""
    return f'<p class="{cls}">{esc(prefix + text)}</p>'


# ---------------------------------------------------------------------------- frames


@dataclass
class _Frame:
    df: pl.DataFrame | None
    note: str = ""  # why df is None


def _prepare(frames: dict[str, pl.DataFrame] | None, name: str, as_of: dt.date) -> _Frame:
    """The mart with known dtypes, rows up to ``as_of``; or None and a reason."""
    df = (frames or {}).get(name)
    if not isinstance(df, pl.DataFrame):
        return _Frame(None, f"marts.{name} is not available.")
    missing = [c for c in REQUIRED[name] if c not in df.columns]
    if missing:
        return _Frame(None, f"marts.{name} lacks column(s) {', '.join(missing)}.")
    if df.height == 0:
        return _Frame(None, f"marts.{name} is empty.")
    exprs = []
    for col, kind in SCHEMAS[name].items():
        dtype = _DTYPES[kind]
        if col not in df.columns:
            exprs.append(pl.lit(None, dtype=dtype).alias(col))
        elif kind == _DATE and df.schema[col] == pl.String:
            exprs.append(pl.col(col).str.to_date(strict=False).alias(col))
        elif df.schema[col] != dtype:
            exprs.append(pl.col(col).cast(dtype, strict=False).alias(col))
    if exprs:
        df = df.with_columns(exprs)
    df = df.filter(pl.col("date").is_not_null() & (pl.col("date") <= as_of))
    if df.height == 0:
        return _Frame(None, f"marts.{name} has no rows on or before {as_of.isoformat()}.")
    return _Frame(df)


def _day(f: _Frame, as_of: dt.date) -> pl.DataFrame | None:
    if f.df is None:
        return None
    day = f.df.filter(pl.col("date") == as_of)
    return day if day.height else None


def _latest(f: _Frame) -> dt.date | None:
    return None if f.df is None else f.df["date"].max()


def _no_day(name: str, f: _Frame, as_of: dt.date, what: str = "") -> str:
    latest = _latest(f)
    tail = f" Latest date in marts.{name}: {latest.isoformat()}." if latest else ""
    return _note(f"marts.{name} has no {what}rows for {as_of.isoformat()}.{tail}")


def _gpu_sort_key(gpu: str, value: float | None = None) -> tuple:
    """Popular GPUs first in their fixed order, then by ``value`` descending, then by name."""
    pop = POPULAR_GPUS.index(gpu) if gpu in POPULAR_GPUS else len(POPULAR_GPUS)
    v = -float(value) if _isnum(value) else math.inf
    return (pop, v, gpu)


def _rank_by_providers(today: dict[str, int], history: dict[str, int], n: int) -> list[str]:
    """The ``n`` GPUs with most providers today, then in history, then popular, then name."""
    gpus = sorted(
        set(today) | set(history),
        key=lambda g: (
            -today.get(g, 0),
            -history.get(g, 0),
            POPULAR_GPUS.index(g) if g in POPULAR_GPUS else len(POPULAR_GPUS),
            g,
        ),
    )
    return gpus[:n]


# ---------------------------------------------------------------------------- tables


def _table(
    columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[object]], caption: str | None = None
) -> str:
    """columns: (header, 'l'|'r'); cells are escaped unless they are ``Markup``."""
    head = "".join(f'<th class="{a}">{esc(h)}</th>' for h, a in columns)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="{a}">{esc(v)}</td>' for (_, a), v in zip(columns, row, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return (
        f'<div class="tablewrap"><table>{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


# ---------------------------------------------------------------------------- SVG charts


@dataclass
class LineSeries:
    name: str
    points: list[tuple[dt.date, float]]
    color: str
    dashed: bool = False
    label: str | None = None  # legend text; defaults to name


@dataclass
class BandSeries:
    name: str
    points: list[tuple[dt.date, float, float]]  # (date, low, high)
    color: str
    label: str | None = None


@dataclass
class _Scale:
    x0: int  # date ordinals
    x1: int
    y0: float
    y1: float
    left: float
    top: float
    width: float
    height: float
    yticks: list[float] = field(default_factory=list)

    def x(self, d: dt.date) -> float:
        return self.left + (d.toordinal() - self.x0) / (self.x1 - self.x0) * self.width

    def y(self, v: float) -> float:
        return self.top + self.height - (v - self.y0) / (self.y1 - self.y0) * self.height


def _nice_step(span: float, target: int = 5) -> float:
    raw = max(span, 1e-12) / target
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= m * mag * (1 + 1e-9):
            return m * mag
    return 10.0 * mag


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (lo included, hi rounded up to a tick)."""
    if not (_isnum(lo) and _isnum(hi)) or hi <= lo:
        hi = lo + 1.0 if _isnum(lo) else 1.0
        lo = lo if _isnum(lo) else 0.0
    step = _nice_step(hi - lo, target)
    start = math.floor(lo / step + 1e-9)
    ticks = []
    i = start
    while True:
        t = round(i * step, 10)
        ticks.append(t)
        if t >= hi - 1e-9 or len(ticks) > 50:
            break
        i += 1
    return ticks


def _tick_decimals(ticks: Sequence[float]) -> int:
    for d in range(6):
        if all(abs(round(t, d) - t) < 1e-9 for t in ticks):
            return d
    return 6


def _money_tick(ticks: Sequence[float]) -> Callable[[float], str]:
    d = _tick_decimals(ticks)
    return lambda v: f"${v:,.{d}f}"


def _date_ticks(x0: dt.date, x1: dt.date) -> list[dt.date]:
    span = (x1 - x0).days
    if span <= 62:
        step = next(s for s in (1, 2, 7, 14, 21, 28) if span / s <= 7)
        return [x0 + dt.timedelta(days=k) for k in range(0, span + 1, step)]
    months = span / 30.44
    mstep = next((m for m in (1, 2, 3, 6, 12) if months / m <= 7), 12 * math.ceil(months / 84))
    ticks = []
    y, m = x0.year, x0.month
    if x0.day != 1:
        m += 1
    while True:
        y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
        d = dt.date(y, m, 1)
        if d > x1:
            break
        if (y * 12 + m - 1) % mstep == 0:
            ticks.append(d)
        m += 1
    return ticks or [x0, x1]


def _date_label(d: dt.date, with_year: bool) -> str:
    s = f"{_MONTHS[d.month - 1]} {d.day}"
    return f"{s} {d.year}" if with_year else s


def _segments(points: Sequence[tuple], gap_days: int = GAP_DAYS) -> list[list[tuple]]:
    """Split date-sorted points where consecutive dates are more than ``gap_days`` apart."""
    segs: list[list[tuple]] = []
    for p in points:
        if segs and (p[0] - segs[-1][-1][0]).days <= gap_days:
            segs[-1].append(p)
        else:
            segs.append([p])
    return segs


def _clean(points: Iterable[tuple]) -> list[tuple]:
    """Drop points with a missing date or a non-finite value; sort by date."""
    return sorted(
        (p for p in points if isinstance(p[0], dt.date) and all(_isnum(v) for v in p[1:])),
        key=lambda p: p[0],
    )


def xy_chart(
    lines: Sequence[LineSeries],
    bands: Sequence[BandSeries] = (),
    *,
    aria_label: str = "chart",
    width: int = 760,
    height: int = 260,
    y_format: Callable[[Sequence[float]], Callable[[float], str]] = _money_tick,
) -> str:
    """An SVG time chart: bands (filled low..high), then lines, axes with ticks, a legend below.

    Lines break over gaps longer than ``GAP_DAYS``; a lone point is drawn as a dot.
    """
    lines = [LineSeries(s.name, _clean(s.points), s.color, s.dashed, s.label) for s in lines]
    bands = [BandSeries(b.name, _clean(b.points), b.color, b.label) for b in bands]
    dates = [p[0] for s in lines for p in s.points] + [p[0] for b in bands for p in b.points]
    values = [p[1] for s in lines for p in s.points] + [
        v for b in bands for p in b.points for v in p[1:]
    ]
    if not dates:
        return _note("nothing to plot.")
    left, right, top, bottom = 60.0, 16.0, 10.0, 26.0
    x0, x1 = min(dates), max(dates)
    if x0 == x1:
        x0, x1 = x0 - dt.timedelta(days=1), x1 + dt.timedelta(days=1)
    lo = min(0.0, min(values))
    ticks = nice_ticks(lo, max(values) * 1.04 if max(values) > 0 else 1.0)
    sc = _Scale(
        x0.toordinal(),
        x1.toordinal(),
        ticks[0],
        ticks[-1],
        left,
        top,
        width - left - right,
        height - top - bottom,
        ticks,
    )
    fmt = y_format(ticks)

    out: list[str] = []
    # grid and y ticks
    for t in ticks:
        y = sc.y(t)
        out.append(
            f'<line class="grid" x1="{left:.1f}" y1="{y:.1f}" x2="{left + sc.width:.1f}" y2="{y:.1f}"/>'
        )
        out.append(
            f'<text class="tick" x="{left - 6:.1f}" y="{y + 3.5:.1f}" text-anchor="end">{esc(fmt(t))}</text>'
        )
    # x ticks
    base = top + sc.height
    with_year = x0.year != x1.year
    for d in _date_ticks(x0, x1):
        x = sc.x(d)
        out.append(
            f'<line class="axis" x1="{x:.1f}" y1="{base:.1f}" x2="{x:.1f}" y2="{base + 4:.1f}"/>'
        )
        out.append(
            f'<text class="tick" x="{x:.1f}" y="{base + 16:.1f}" text-anchor="middle">'
            f"{esc(_date_label(d, with_year))}</text>"
        )
    out.append(
        f'<line class="axis" x1="{left:.1f}" y1="{base:.1f}" x2="{left + sc.width:.1f}" y2="{base:.1f}"/>'
    )
    out.append(
        f'<line class="axis" x1="{left:.1f}" y1="{top:.1f}" x2="{left:.1f}" y2="{base:.1f}"/>'
    )

    for b in bands:
        for seg in _segments(b.points):
            if len(seg) == 1:
                d, low, high = seg[0]
                out.append(
                    f'<line x1="{sc.x(d):.1f}" y1="{sc.y(low):.1f}" x2="{sc.x(d):.1f}" '
                    f'y2="{sc.y(high):.1f}" stroke="{b.color}" stroke-opacity="0.5" '
                    f'stroke-width="4"><title>{esc(b.name)}</title></line>'
                )
                continue
            upper = [f"{sc.x(d):.1f},{sc.y(h):.1f}" for d, _, h in seg]
            lower = [f"{sc.x(d):.1f},{sc.y(lw):.1f}" for d, lw, _ in reversed(seg)]
            out.append(
                f'<path d="M{"L".join(upper + lower)}Z" fill="{b.color}" fill-opacity="0.22" '
                f'stroke="none"><title>{esc(b.name)}</title></path>'
            )
    for s in lines:
        dash = ' stroke-dasharray="5 3"' if s.dashed else ""
        for seg in _segments(s.points):
            if len(seg) == 1:
                d, v = seg[0]
                out.append(
                    f'<circle cx="{sc.x(d):.1f}" cy="{sc.y(v):.1f}" r="2.5" fill="{s.color}">'
                    f"<title>{esc(s.name)} {esc(fmt_date(d))}: {esc(fmt_usd(v))}</title></circle>"
                )
                continue
            d_attr = "M" + "L".join(f"{sc.x(d):.1f},{sc.y(v):.1f}" for d, v in seg)
            out.append(
                f'<path d="{d_attr}" fill="none" stroke="{s.color}" stroke-width="1.7" '
                f'stroke-linejoin="round"{dash}><title>{esc(s.name)}</title></path>'
            )

    # legend below the plot
    items = [(b.label or b.name, b.color, "band") for b in bands]
    items += [(s.label or s.name, s.color, "dash" if s.dashed else "line") for s in lines]
    col_w = 232.0
    per_row = max(1, int((width - left) // col_w))
    leg_top = height + 4
    for i, (label, color, kind) in enumerate(items):
        lx = left + (i % per_row) * col_w
        ly = leg_top + (i // per_row) * 18
        if kind == "band":
            out.append(
                f'<rect x="{lx:.1f}" y="{ly + 3:.1f}" width="16" height="9" fill="{color}" fill-opacity="0.3"/>'
            )
        else:
            dash = ' stroke-dasharray="5 3"' if kind == "dash" else ""
            out.append(
                f'<line x1="{lx:.1f}" y1="{ly + 8:.1f}" x2="{lx + 16:.1f}" y2="{ly + 8:.1f}" '
                f'stroke="{color}" stroke-width="2.5"{dash}/>'
            )
        out.append(
            f'<text class="legend" x="{lx + 21:.1f}" y="{ly + 12:.1f}">'
            f"{_svg_label(label, 32)}</text>"
        )
    total_h = leg_top + math.ceil(len(items) / per_row) * 18 + 4
    return (
        f'<svg class="chart" viewBox="0 0 {width} {total_h:.0f}" width="{width}" '
        f'height="{total_h:.0f}" role="img" aria-label="{esc(aria_label)}">'
        + "".join(out)
        + "</svg>"
    )


def line_chart(series: Sequence[LineSeries], *, aria_label: str = "line chart", **kw) -> str:
    """A multi-series line chart (prices over time) with axes, tick labels and a legend."""
    return xy_chart(series, (), aria_label=aria_label, **kw)


def band_chart(
    rows: Iterable[tuple[dt.date, object, object, object, object]],
    *,
    aria_label: str = "band chart",
    **kw,
) -> str:
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
    width: int = 760,
    value_format: Callable[[float], str] = fmt_usd,
) -> str:
    """Horizontal bars: items are (label, value, note); drawn in the given order."""
    items = [(lab, float(v), note) for lab, v, note in items if _isnum(v)]
    if not items:
        return _note("nothing to plot.")
    left, right, top, row_h = 170.0, 250.0, 6.0, 22.0
    plot_w = width - left - right
    ticks = nice_ticks(
        min(0.0, min(v for _, v, _ in items)), max(max(v for _, v, _ in items), 1e-9)
    )
    lo, hi = ticks[0], ticks[-1]
    fmt = _money_tick(ticks)

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * plot_w

    out: list[str] = []
    base = top + row_h * len(items)
    for t in ticks:
        out.append(
            f'<line class="grid" x1="{x(t):.1f}" y1="{top:.1f}" x2="{x(t):.1f}" y2="{base:.1f}"/>'
        )
        out.append(
            f'<text class="tick" x="{x(t):.1f}" y="{base + 14:.1f}" text-anchor="middle">{esc(fmt(t))}</text>'
        )
    for i, (label, v, note) in enumerate(items):
        y = top + i * row_h
        x_start, x_end = x(min(0.0, v)), x(max(0.0, v))
        out.append(
            f'<text class="barlabel" x="{left - 8:.1f}" y="{y + 15:.1f}" text-anchor="end">'
            f"{_svg_label(label, 26)}</text>"
        )
        out.append(
            f'<rect x="{x_start:.1f}" y="{y + 4:.1f}" width="{max(x_end - x_start, 1.0):.1f}" '
            f'height="14" fill="{PALETTE[0]}"><title>{esc(label)}: {esc(value_format(v))} '
            f"{esc(note)}</title></rect>"
        )
        text = f"{value_format(v)} \u00b7 {note}" if note else value_format(v)
        out.append(
            f'<text class="barvalue" x="{x_end + 6:.1f}" y="{y + 15:.1f}">'
            f"{_svg_label(text, 40)}</text>"
        )
    out.append(
        f'<line class="axis" x1="{x(0.0):.1f}" y1="{top:.1f}" x2="{x(0.0):.1f}" y2="{base:.1f}"/>'
    )
    total_h = base + 22
    return (
        f'<svg class="chart" viewBox="0 0 {width} {total_h:.0f}" width="{width}" '
        f'height="{total_h:.0f}" role="img" aria-label="{esc(aria_label)}">'
        + "".join(out)
        + "</svg>"
    )


# ---------------------------------------------------------------------------- sections


def _section(anchor: str, heading: str, body: str, intro: str = "") -> str:
    intro_html = f'<p class="intro">{esc(intro)}</p>' if intro else ""
    return f'<section id="{anchor}"><h2>{esc(heading)}</h2>{intro_html}{body}</section>'


def _header(
    title: str, as_of: dt.date, generated_at: dt.datetime | None, prices: _Frame, summary: _Frame
) -> str:
    p_day, s_day = _day(prices, as_of), _day(summary, as_of)
    n_gpus = n_providers = n_offers = None
    if p_day is not None:
        n_gpus = p_day["gpu_model"].n_unique()
        n_providers = p_day["provider"].n_unique()
        n_offers = (
            p_day["n_offers"].sum() if p_day["n_offers"].null_count() < p_day.height else None
        )
    elif s_day is not None:
        n_gpus = s_day["gpu_model"].n_unique()
        n_offers = (
            s_day["n_offers"].sum() if s_day["n_offers"].null_count() < s_day.height else None
        )
    versions: list[str] = []
    for frame in (s_day, summary.df):
        if frame is not None:
            versions = sorted({v for v in frame["methodology_version"].to_list() if v})
            if versions:
                break
    gen = generated_at.isoformat(timespec="seconds") if generated_at else "not recorded"
    facts = [
        ("As of", fmt_date(as_of)),
        ("Generated", gen),
        ("Methodology", ", ".join(versions) or DASH),
        ("GPU models", fmt_int(n_gpus)),
        ("Providers", fmt_int(n_providers)),
        ("Offers", fmt_int(n_offers)),
    ]
    dl = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in facts)
    warn = ""
    if p_day is None and s_day is None:
        latest = max((d for d in (_latest(prices), _latest(summary)) if d), default=None)
        tail = f" The latest date with data is {latest.isoformat()}." if latest else ""
        warn = _note(f"no market data for {as_of.isoformat()}.{tail}")
    nav = "".join(f'<a href="#{a}">{esc(h)}</a>' for a, h in _SECTIONS)
    return (
        f'<header><h1>{esc(title)}</h1><dl class="facts">{dl}</dl>{warn}<nav>{nav}</nav></header>'
    )


_SECTIONS = (
    ("market", "Today's market"),
    ("history", "Price history per GPU and provider"),
    ("spreads", "Spreads over time"),
    ("flops", "Cost per FLOP ranking"),
    ("moves", "What moved today"),
    ("api", "API prices per 1M tokens"),
    ("serving", "Cost per 1M tokens"),
)


def _market_section(summary: _Frame, as_of: dt.date) -> str:
    a, h = _SECTIONS[0]
    intro = (
        "Per GPU and price type: the median of the providers' lowest prices (USD per "
        "GPU-hour), the p25\u2013p75 range across providers, the cheapest provider, and "
        "the like-for-like price change vs 1, 7 and 30 days earlier (the index of "
        "METHODOLOGY.md: only providers present on both dates count, so a provider joining "
        "or leaving is not a price move)."
    )
    if summary.df is None:
        return _section(a, h, _note(summary.note), intro)
    day = _day(summary, as_of)
    if day is None:
        return _section(a, h, _no_day("daily_summary", summary, as_of), intro)
    od_median = {
        r["gpu_model"]: r["market_median"]
        for r in day.filter(pl.col("pricing") == "on_demand").iter_rows(named=True)
    }
    rows = sorted(
        day.iter_rows(named=True),
        key=lambda r: (
            _gpu_sort_key(r["gpu_model"] or "", od_median.get(r["gpu_model"], r["market_median"])),
            _pricing_rank(r["pricing"]),
        ),
    )
    cols = [
        ("GPU", "l"),
        ("Pricing", "l"),
        ("Market median", "r"),
        ("p25\u2013p75", "r"),
        ("Lowest", "r"),
        ("Lowest provider", "l"),
        ("1d", "r"),
        ("7d", "r"),
        ("30d", "r"),
        ("Providers", "r"),
        ("Offers", "r"),
        ("Available GPUs", "r"),
        ("Coverage", "r"),
        ("Confidence", "l"),
    ]
    # methodology 2.0 marts carry like-for-like changes; an older daily_summary only the
    # cross-sectional ones, shown as they are (the legend says which)
    lfl = (
        summary.df is not None
        and "change_30d_like_for_like_pct" in summary.df.columns
        and summary.df.get_column("change_30d_like_for_like_pct").is_not_null().any()
        or any(r["change_1d_like_for_like_pct"] is not None for r in rows)
    )

    def change(r: dict, horizon: int) -> Markup:
        cross = r[f"change_{horizon}d_pct"]
        if not lfl:
            return _change_html(cross)
        cell = _change_html(r[f"change_{horizon}d_like_for_like_pct"])
        title = f"cross-sectional median: {fmt_pct(cross) if _isnum(cross) else DASH}"
        return Markup(str(cell).replace("<span ", f'<span title="{esc(title)}" ', 1))

    body = []
    for r in rows:
        conf = r["confidence"]
        conf_html = Markup(
            f'<span class="conf {CONFIDENCE_CLASSES.get(conf, "conf-other")}">'
            f"{esc(conf if conf is not None else DASH)}</span>"
        )
        cov = r["coverage"]
        body.append(
            [
                r["gpu_model"],
                _pricing_label(r["pricing"]),
                fmt_usd(r["market_median"]),
                f"{fmt_usd(r['p25_price'])}\u2013{fmt_usd(r['p75_price'])}",
                fmt_usd(r["lowest_price"]),
                r["lowest_provider"] or DASH,
                change(r, 1),
                change(r, 7),
                change(r, 30),
                fmt_int(r["n_providers"]),
                fmt_int(r["n_offers"]),
                fmt_int(r["available_gpus"]),
                f"{cov * 100:.0f}%" if _isnum(cov) else DASH,
                conf_html,
            ]
        )
    legend = _note(
        (
            "Changes are like for like (the cross-sectional median's change is in each "
            "cell's tooltip): "
            if lfl
            else "Changes of the cross-sectional median: "
        )
        + "red = prices went up, green = they went down. Coverage = providers "
        "today / providers seen in the trailing 30 days.",
        nodata=False,
    )
    return _section(a, h, _table(cols, body) + legend, intro)


def _history_section(prices: _Frame, as_of: dt.date) -> str:
    a, h = _SECTIONS[1]
    intro = (
        f"On-demand: each provider's lowest price per GPU-hour over time, for the "
        f"{TOP_GPUS} GPU models with the most providers; at most "
        f"{MAX_PROVIDERS_PER_CHART} providers per chart (recently seen ones with the lowest "
        "median price)."
    )
    if prices.df is None:
        return _section(a, h, _note(prices.note), intro)
    od = prices.df.filter((pl.col("pricing") == "on_demand") & pl.col("price_min").is_finite())
    if od.height == 0:
        return _section(
            a,
            h,
            _note(f"marts.gpu_price_daily has no on-demand prices up to {as_of.isoformat()}."),
            intro,
        )
    today = dict(
        od.filter(pl.col("date") == as_of)
        .group_by("gpu_model")
        .agg(pl.col("provider").n_unique())
        .iter_rows()
    )
    hist = dict(od.group_by("gpu_model").agg(pl.col("provider").n_unique()).iter_rows())
    parts = []
    if not today:
        parts.append(_no_day("gpu_price_daily", prices, as_of, "on-demand "))
    for gpu in _rank_by_providers(today, hist, TOP_GPUS):
        g = od.filter(pl.col("gpu_model") == gpu).sort(["provider", "date"])
        # providers seen in the last RECENT_DAYS first, each group by median price over history
        recent_from = as_of - dt.timedelta(days=RECENT_DAYS)
        ranked = (
            g.group_by("provider")
            .agg(
                pl.col("price_min").median().alias("med"),
                (pl.col("date").max() < recent_from).alias("stale"),
            )
            .sort(["stale", "med", "provider"])
        )
        providers = ranked["provider"].to_list()
        shown = providers[:MAX_PROVIDERS_PER_CHART]
        series = []
        for i, prov in enumerate(shown):
            pts = g.filter(pl.col("provider") == prov).select("date", "price_min").rows()
            last = pts[-1]
            label = f"{prov} {fmt_usd(last[1])}"
            if last[0] != as_of:
                label += f" ({_date_label(last[0], last[0].year != as_of.year)})"
            series.append(LineSeries(prov, pts, PALETTE[i % len(PALETTE)], label=label))
        first, last_d = g["date"].min(), g["date"].max()
        cap = (
            f"{gpu}: lowest on-demand price per provider, USD per GPU-hour, "
            f"{first.isoformat()} to {last_d.isoformat()}. Showing {len(shown)} of "
            f"{len(providers)} providers"
            + (
                f" (those seen in the last {RECENT_DAYS} days first, then by lowest median price)."
                if len(shown) < len(providers)
                else "."
            )
            + " Legend: each provider's latest price (and its date if not the as-of day)."
        )
        chart = line_chart(series, aria_label=f"{gpu} price history by provider")
        parts.append(
            f"<figure><h3>{esc(gpu)}</h3>{chart}<figcaption>{esc(cap)}</figcaption></figure>"
        )
    return _section(a, h, "".join(parts), intro)


def _spreads_section(summary: _Frame, spreads: _Frame, as_of: dt.date) -> str:
    a, h = _SECTIONS[2]
    intro = (
        "On-demand: the market median, the p25\u2013p75 band of provider prices and the "
        "lowest price over time (marts.daily_summary), then the as-of day's spread between "
        "the cheapest and the dearest provider (marts.provider_spreads)."
    )
    parts = []
    if summary.df is None:
        parts.append(_note(summary.note))
    else:
        od = summary.df.filter(pl.col("pricing") == "on_demand")
        if od.height == 0:
            parts.append(
                _note(f"marts.daily_summary has no on-demand rows up to {as_of.isoformat()}.")
            )
        else:
            today = {
                g: int(n or 0)
                for g, n in od.filter(pl.col("date") == as_of)
                .select("gpu_model", "n_providers")
                .iter_rows()
            }
            hist = {
                g: int(n or 0)
                for g, n in od.group_by("gpu_model").agg(pl.col("n_providers").max()).iter_rows()
            }
            if not today:
                parts.append(_no_day("daily_summary", summary, as_of, "on-demand "))
            for gpu in _rank_by_providers(today, hist, TOP_GPUS):
                g = od.filter(pl.col("gpu_model") == gpu).sort("date")
                rows = g.select(
                    "date", "p25_price", "p75_price", "market_median", "lowest_price"
                ).rows()
                chart = band_chart(rows, aria_label=f"{gpu} market spread over time")
                cap = (
                    f"{gpu}: on-demand market median, p25\u2013p75 band and lowest price, USD "
                    f"per GPU-hour, {g['date'].min().isoformat()} to {g['date'].max().isoformat()}."
                )
                parts.append(
                    f"<figure><h3>{esc(gpu)}</h3>{chart}<figcaption>{esc(cap)}</figcaption></figure>"
                )
    parts.append(f"<h3>Provider spreads on {esc(as_of.isoformat())} (on-demand)</h3>")
    if spreads.df is None:
        parts.append(_note(spreads.note))
    else:
        day = _day(spreads, as_of)
        day = day.filter(pl.col("pricing") == "on_demand") if day is not None else None
        if day is None or day.height == 0:
            parts.append(_no_day("provider_spreads", spreads, as_of, "on-demand "))
        else:
            rows = sorted(
                day.iter_rows(named=True),
                key=lambda r: _gpu_sort_key(r["gpu_model"] or "", r["median_price"]),
            )
            cols = [
                ("GPU", "l"),
                ("Providers", "r"),
                ("Cheapest", "l"),
                ("Dearest", "l"),
                ("Max/min", "r"),
                ("Hyperscaler median", "r"),
                ("Neocloud median", "r"),
                ("Marketplace median", "r"),
                ("Hyperscaler premium", "r"),
            ]
            body = [
                [
                    r["gpu_model"],
                    fmt_int(r["n_providers"]),
                    f"{r['cheapest_provider'] or DASH} {fmt_usd(r['cheapest_price'])}",
                    f"{r['dearest_provider'] or DASH} {fmt_usd(r['dearest_price'])}",
                    fmt_ratio(r["max_min_ratio"]),
                    fmt_usd(r["hyperscaler_median"]),
                    fmt_usd(r["neocloud_median"]),
                    fmt_usd(r["marketplace_median"]),
                    fmt_ratio(r["hyperscaler_premium"]),
                ]
                for r in rows
            ]
            parts.append(_table(cols, body))
            parts.append(
                _note(
                    "Hyperscaler premium = hyperscaler median / median of neocloud and "
                    "marketplace providers.",
                    nodata=False,
                )
            )
    return _section(a, h, "".join(parts), intro)


def _flops_section(cpf: _Frame, as_of: dt.date) -> str:
    a, h = _SECTIONS[3]
    intro = (
        "On-demand, as-of day: per GPU model the cheapest USD per dense BF16 PFLOP-hour "
        "(provider's lowest price / dense BF16 peak), and who offers it. Figures are dense "
        "BF16; FP16 where the GPU has no BF16 (bf16_is_fp16, marked *)."
    )
    if cpf.df is None:
        return _section(a, h, _note(cpf.note), intro)
    day = _day(cpf, as_of)
    if day is None:
        return _section(a, h, _no_day("cost_per_flop", cpf, as_of), intro)
    best = (
        day.filter(
            (pl.col("pricing") == "on_demand") & pl.col("usd_per_pflop_hour_bf16").is_finite()
        )
        .sort(["gpu_model", "usd_per_pflop_hour_bf16", "provider"])
        .group_by("gpu_model", maintain_order=True)
        .first()
        .sort(["usd_per_pflop_hour_bf16", "gpu_model"])
    )
    if best.height == 0:
        return _section(
            a, h, _note(f"no on-demand BF16 cost per FLOP for {as_of.isoformat()}."), intro
        )
    items, body = [], []
    for r in best.iter_rows(named=True):
        label = r["gpu_model"] + (" *" if r["bf16_is_fp16"] else "")
        items.append((label, r["usd_per_pflop_hour_bf16"], r["provider"] or ""))
        body.append(
            [
                label,
                r["provider"] or DASH,
                fmt_usd(r["usd_per_pflop_hour_bf16"]),
                fmt_usd(r["usd_per_gpu_hour"]),
                fmt_usd(r["usd_per_gb_vram_hour"]),
            ]
        )
    chart = bar_chart(items, aria_label="cheapest USD per dense BF16 PFLOP-hour by GPU")
    cols = [
        ("GPU", "l"),
        ("Provider", "l"),
        ("USD / PFLOP-hour (BF16)", "r"),
        ("USD / GPU-hour", "r"),
        ("USD / GB VRAM-hour", "r"),
    ]
    return _section(a, h, f"<figure>{chart}</figure>" + _table(cols, body), intro)


def _moves_section(changes: _Frame, as_of: dt.date) -> str:
    a, h = _SECTIONS[4]
    intro = (
        "Providers whose lowest price for a GPU and price type changed since their "
        "previous observation, largest relative moves first."
    )
    if changes.df is None:
        return _section(a, h, _note(changes.note), intro)
    day = _day(changes, as_of)
    if day is None:
        latest = _latest(changes)
        tail = f" (latest recorded change: {latest.isoformat()})" if latest else ""
        return _section(
            a,
            h,
            _note(f"no price changes recorded for {as_of.isoformat()}{tail}.", nodata=False),
            intro,
        )
    n_new = day.filter(pl.col("kind") == "new").height
    moved = (
        day.filter(pl.col("kind").is_in(["up", "down"]))
        .with_columns(pl.col("change_pct").abs().fill_nan(None).alias("_abs"))
        .sort(
            ["_abs", "gpu_model", "provider", "pricing"],
            descending=[True, False, False, False],
            nulls_last=True,
        )
    )
    parts = []
    if moved.height == 0:
        parts.append(_note(f"no provider changed a price on {as_of.isoformat()}.", nodata=False))
    else:
        cols = [
            ("GPU", "l"),
            ("Provider", "l"),
            ("Pricing", "l"),
            ("From \u2192 to", "r"),
            ("Change", "r"),
            ("Change $", "r"),
            ("Since", "l"),
        ]
        body = []
        for r in moved.iter_rows(named=True):
            days = r["days_since_prev"]
            since = fmt_date(r["prev_date"]) + (f" ({int(days)} d)" if _isnum(days) else "")
            chg_abs = r["change_abs"]
            body.append(
                [
                    r["gpu_model"],
                    r["provider"],
                    _pricing_label(r["pricing"]),
                    f"{fmt_usd(r['price_prev'])} \u2192 {fmt_usd(r['price_now'])}",
                    _change_html(r["change_pct"], arrows=True),
                    ("+" if _isnum(chg_abs) and chg_abs > 0 else "") + fmt_usd(chg_abs),
                    since,
                ]
            )
        n_up = moved.filter(pl.col("kind") == "up").height
        parts.append(
            _note(
                f"{moved.height} price changes: {n_up} up, {moved.height - n_up} down.",
                nodata=False,
            )
        )
        parts.append(_table(cols, body))
    parts.append(
        _note(
            f"{n_new} new series (provider \u00d7 GPU \u00d7 price type first seen on "
            f"{as_of.isoformat()}).",
            nodata=False,
        )
    )
    return _section(a, h, "".join(parts), intro)


def _footer(versions_note: str) -> str:
    return (
        "<footer><h2>About the data</h2>"
        "<p>Sources: marts.gpu_price_daily (per day, GPU model, provider and price type: lowest, "
        "median and highest price), marts.daily_summary, marts.provider_spreads, "
        "marts.cost_per_flop and marts.price_changes, all derived from it.</p>"
        "<p>Prices are USD per GPU-hour. A provider's price for a day is its lowest price for that "
        "GPU and price type; market statistics weigh every provider once, whatever its number of "
        "offers. On-demand, spot and reserved prices are separate series and never mixed. Cost per "
        "FLOP divides that price by the dense (non-sparse) peak throughput.</p>"
        f"<p>{esc(versions_note)} This page is self-contained: no scripts, no external resources."
        "</p></footer>"
    )


_CSS = """
:root{--fg:#1d2330;--muted:#667085;--line:#d0d5dd;--bg:#fff;--alt:#f6f7f9;--up:#b42318;--down:#067647}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1100px;padding:24px 20px 48px;color:var(--fg);background:var(--bg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
h1{font-size:26px;margin:0 0 12px}
h2{font-size:20px;margin:36px 0 8px;padding-bottom:4px;border-bottom:2px solid var(--line)}
h3{font-size:15px;margin:18px 0 4px}
.facts{display:flex;flex-wrap:wrap;gap:8px 28px;margin:0 0 12px}
.facts div{min-width:90px}.facts dt{color:var(--muted);font-size:12px}.facts dd{margin:0;font-weight:600}
nav{display:flex;flex-wrap:wrap;gap:6px 16px;font-size:13px}
nav a{color:#175cd3;text-decoration:none}
.intro{color:var(--muted);margin:0 0 10px}
.nodata{background:#fef3f2;border-left:4px solid var(--up);padding:6px 10px;margin:8px 0}
.note{color:var(--muted);font-size:13px;margin:6px 0}
.tablewrap{overflow-x:auto}
table{border-collapse:collapse;font-size:13px;margin:6px 0 10px;width:100%}
caption{text-align:left;color:var(--muted);padding:4px 0}
th,td{padding:4px 8px;border-bottom:1px solid var(--line);white-space:nowrap}
th{background:var(--alt);font-weight:600}
td.r,th.r{text-align:right;font-variant-numeric:tabular-nums}td.l,th.l{text-align:left}
tbody tr:nth-child(even){background:#fbfbfc}
.up{color:var(--up)}.down{color:var(--down)}.flat,.muted{color:var(--muted)}
.conf{padding:1px 6px;border-radius:8px;font-size:12px}
.conf-high{background:#ecfdf3;color:var(--down)}.conf-medium{background:#fffaeb;color:#b54708}
.conf-low,.conf-other{background:#fef3f2;color:var(--up)}
figure{margin:10px 0 18px}figcaption{color:var(--muted);font-size:12px}
svg.chart{max-width:100%;height:auto;display:block}
svg .grid{stroke:#eaecf0;stroke-width:1}svg .axis{stroke:#98a2b3;stroke-width:1}
svg text{font-family:inherit;fill:#344054}svg .tick{font-size:11px;fill:var(--muted)}
svg .legend,svg .barvalue{font-size:12px}svg .barlabel{font-size:12px;font-weight:600}
footer{margin-top:40px;color:var(--muted);font-size:13px}
footer h2{color:var(--fg)}
"""


def _api_section(fams: _Frame, as_of: dt.date) -> str:
    a, h = _SECTIONS[5]
    intro = (
        "Cheapest listed price per 1M output tokens for well-known model families, across "
        "OpenRouter and LiteLLM and every route that serves them (marts.api_price_families)."
    )
    if fams.df is None:
        return _section(a, h, _note(fams.note), intro)
    df = fams.df.sort(["family", "date"])
    series, rows = [], []
    for i, fam in enumerate(sorted(set(df["family"].to_list()))):
        g = df.filter(pl.col("family") == fam)
        pts = g.select("date", "cheapest_output_usd_per_mtok").rows()
        series.append(
            LineSeries(fam, pts, PALETTE[i % len(PALETTE)], label=f"{fam} {fmt_usd(pts[-1][1])}")
        )
        first, last = g.row(0, named=True), g.row(-1, named=True)
        fell = (
            (1 - last["cheapest_output_usd_per_mtok"] / first["cheapest_output_usd_per_mtok"]) * 100
            if first["cheapest_output_usd_per_mtok"]
            else None
        )
        rows.append(
            (
                fam,
                fmt_date(first["date"]),
                fmt_usd(first["cheapest_output_usd_per_mtok"]),
                fmt_date(last["date"]),
                fmt_usd(last["cheapest_output_usd_per_mtok"]),
                "" if fell is None else f"{fell:.0f}%",
                last["cheapest_model_id"] or "",
            )
        )
    chart = line_chart(series, aria_label="cheapest API output price per model family")
    table = _table(
        [
            ("Family", "l"),
            ("First seen", "l"),
            ("USD / 1M out", "r"),
            ("Latest", "l"),
            ("USD / 1M out", "r"),
            ("Fell", "r"),
            ("Cheapest listing", "l"),
        ],
        rows,
    )
    return _section(
        a,
        h,
        f"<figure>{chart}<figcaption>USD per 1M output tokens, cheapest listing per "
        f"day observed.</figcaption></figure>{table}",
        intro,
    )


SERVING_MODELS_CHARTED = 4  # models with a cost-over-time chart
SERVING_GPUS_PER_CHART = 5


def _fmt_mtok(v: object) -> str:
    """USD per 1M tokens to three decimals under $1 ($0.187): GPUs a few percent apart differ
    in the third digit, which ``fmt_usd``'s cents would hide."""
    return f"${float(v):.3f}" if _isnum(v) and abs(float(v)) < 1 else fmt_usd(v)


def _serving_section(serving: _Frame, as_of: dt.date) -> str:
    """Cost per 1M output tokens per model: GPUs ranked on the newest day (on-demand market
    level and the cheapest provider), the API price of the same model beside it, and the cost
    of the cheapest GPUs over time (marts.serving_cost_daily)."""
    a, h = _SECTIONS[6]
    intro = (
        "USD per 1M output tokens = USD per GPU-hour / (measured output tokens/s per GPU x 3600) "
        "x 1e6: the best closed-division, available MLPerf Inference Offline result per GPU "
        "(newest round that has it) priced at the day's on-demand market median and at the "
        "cheapest provider; margin = API price / serving cost. Throughput is sustained peak "
        "batch throughput: idle time, networking and staff are excluded, so this is a floor. "
        "Per-GPU figures are derived from published MLPerf results, not official results."
    )
    if serving.df is None:
        return _section(a, h, _note(serving.note), intro)
    df = serving.df.filter(pl.col("pricing") == "on_demand")
    if df.height == 0:
        return _section(a, h, _note("marts.serving_cost_daily has no on-demand rows."), intro)
    day = df["date"].max()
    today = df.filter(pl.col("date") == day)
    parts = []
    if day != as_of:
        parts.append(
            _note(
                f"Newest serving-cost date is {day.isoformat()} (report date {as_of.isoformat()}).",
                nodata=False,
            )
        )
    # models ordered by how many GPUs price them, then name
    counts = today.group_by("model").len().sort(["len", "model"], descending=[True, False])
    models = counts["model"].to_list()
    for i, model in enumerate(models):
        rows_m = today.filter(pl.col("model") == model).sort(
            ["usd_per_million_output_tokens", "gpu_model"]
        )
        api = rows_m["api_output_usd_per_mtok"].drop_nulls()
        api_txt = (
            f"API price (cheapest paid listing): {fmt_usd(api[0])} per 1M output tokens."
            if api.len()
            else "No API price listed for this model."
        )
        rows = [
            (
                r["cost_rank"],
                r["gpu_model"],
                fmt_usd(r["usd_per_gpu_hour"]),
                f"{r['tokens_per_second_per_gpu']:,.0f}",
                _fmt_mtok(r["usd_per_million_output_tokens"]),
                _fmt_mtok(r["usd_per_million_output_tokens_cheapest"]),
                r["cheapest_provider"] or DASH,
                fmt_ratio(r["serving_margin"]),
                f"{r['benchmark_round'] or ''} {r['benchmark_system'] or ''}".strip(),
            )
            for r in rows_m.iter_rows(named=True)
        ]
        table = _table(
            [
                ("#", "r"),
                ("GPU", "l"),
                ("USD / GPU-h", "r"),
                ("tok/s per GPU", "r"),
                ("USD / 1M out", "r"),
                ("at cheapest", "r"),
                ("cheapest provider", "l"),
                ("API / cost", "r"),
                ("benchmark", "l"),
            ],
            rows,
        )
        chart = ""
        if i < SERVING_MODELS_CHARTED:
            gpus = rows_m["gpu_model"].to_list()[:SERVING_GPUS_PER_CHART]
            hist = df.filter((pl.col("model") == model) & pl.col("gpu_model").is_in(gpus)).sort(
                "date"
            )
            series = [
                LineSeries(
                    g,
                    hist.filter(pl.col("gpu_model") == g)
                    .select("date", "usd_per_million_output_tokens")
                    .rows(),
                    PALETTE[j % len(PALETTE)],
                )
                for j, g in enumerate(gpus)
            ]
            api_pts = (
                df.filter(
                    (pl.col("model") == model) & pl.col("api_output_usd_per_mtok").is_not_null()
                )
                .group_by("date")
                .agg(pl.col("api_output_usd_per_mtok").min())
                .sort("date")
                .rows()
            )
            if api_pts:
                series.append(LineSeries("API price", api_pts, "#667085", dashed=True))
            chart = (
                f"<figure>{line_chart(series, aria_label=f'cost per 1M tokens of {model}')}"
                f"<figcaption>USD per 1M output tokens over time at the on-demand market median"
                f"{' (dashed: API price)' if api_pts else ''}.</figcaption></figure>"
            )
        parts.append(f'<h3>{esc(model)}</h3><p class="note">{esc(api_txt)}</p>{chart}{table}')
    return _section(a, h, "".join(parts), intro)


def render_report(
    frames: dict[str, pl.DataFrame],
    as_of: dt.date,
    generated_at: dt.datetime | None = None,
    title: str = "GPU market report",
) -> str:
    """The whole report as one HTML string (deterministic for the same inputs)."""
    if isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    prices = _prepare(frames, "gpu_price_daily", as_of)
    summary = _prepare(frames, "daily_summary", as_of)
    spreads = _prepare(frames, "provider_spreads", as_of)
    cpf = _prepare(frames, "cost_per_flop", as_of)
    changes = _prepare(frames, "price_changes", as_of)
    api_families = _prepare(frames, "api_price_families", as_of)
    versions = []
    if summary.df is not None:
        versions = sorted({v for v in summary.df["methodology_version"].to_list() if v})
    versions_note = (
        f"Methodology version {', '.join(versions)}."
        if versions
        else "Methodology version not recorded."
    )
    body = [
        _header(title, as_of, generated_at, prices, summary),
        "<main>",
        _market_section(summary, as_of),
        _history_section(prices, as_of),
        _spreads_section(summary, spreads, as_of),
        _flops_section(cpf, as_of),
        _moves_section(changes, as_of),
        _api_section(api_families, as_of),
        _serving_section(_prepare(frames, "serving_cost_daily", as_of), as_of),
        "</main>",
        _footer(versions_note),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} \u2014 {esc(as_of.isoformat())}</title>"
        f"<style>{_CSS}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
