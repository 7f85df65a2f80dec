"""The sections over time: each provider's price history per GPU (with the prices the index
leaves out marked), and the market's p25-p75 spread with the day's provider spreads. Each
takes prepared frames (``data.Frame``) and returns a ``blocks.Section``; no HTML here."""

from __future__ import annotations

import datetime as dt

import polars as pl

from pipelines.lib.report import data as D
from pipelines.lib.report.blocks import Column, Figure, Heading, Note, Section, Table
from pipelines.lib.report.charts import PALETTE, LineSeries, MarkSeries, band_chart, line_chart
from pipelines.lib.report.fmt import DASH, date_label, fmt_date, fmt_int, fmt_ratio, fmt_usd

TOP_GPUS = 6  # charts drawn in the history and spread sections
MAX_PROVIDERS_PER_CHART = 8
RECENT_DAYS = 30  # history charts prefer providers seen this recently


def _provider_order(g: pl.DataFrame, as_of: dt.date) -> list[str]:
    """Providers seen in the last RECENT_DAYS first, each group by median price over history."""
    recent_from = as_of - dt.timedelta(days=RECENT_DAYS)
    ranked = (
        g.group_by("provider")
        .agg(
            pl.col("price_min").median().alias("med"),
            (pl.col("date").max() < recent_from).alias("stale"),
        )
        .sort(["stale", "med", "provider"])
    )
    return ranked["provider"].to_list()


def _flag_marks(series: list[LineSeries], flags: dict) -> list[MarkSeries]:
    """One legend entry per reason the index left a shown point out."""
    marks: dict[str, MarkSeries] = {}
    for s in series:
        for d, v in s.points:
            reason = flags.get((s.name, d))
            if reason:
                mark = marks.setdefault(reason, MarkSeries(f"not in the index: {reason}"))
                mark.points.append((d, v, f"{s.name} {fmt_date(d)}: {fmt_usd(v)} ({reason})"))
    return [marks[k] for k in sorted(marks)]


def _history_figure(g: pl.DataFrame, gpu: str, as_of: dt.date, constituents: D.Frame) -> Figure:
    providers = _provider_order(g, as_of)
    shown = providers[:MAX_PROVIDERS_PER_CHART]
    series = []
    for i, prov in enumerate(shown):
        pts = g.filter(pl.col("provider") == prov).select("date", "price_min").rows()
        last = pts[-1]
        label = f"{prov} {fmt_usd(last[1])}"
        if last[0] != as_of:
            label += f" ({date_label(last[0], last[0].year != as_of.year)})"
        series.append(LineSeries(prov, pts, PALETTE[i % len(PALETTE)], label=label))
    marks = _flag_marks(series, D.flagged_observations(constituents, gpu))
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
        + (
            " Diamonds: prices kept here but left out of the index (marts.index_constituents)."
            if marks
            else ""
        )
    )
    chart = line_chart(series, marks=marks, aria_label=f"{gpu} price history by provider")
    return Figure(chart, heading=gpu, caption=cap)


def history_section(prices: D.Frame, as_of: dt.date, constituents: D.Frame) -> Section:
    """Each provider's lowest on-demand price over time for the most-covered GPUs."""
    sec = Section(
        "history",
        "Price history per GPU and provider",
        f"On-demand: each provider's lowest price per GPU-hour over time, for the "
        f"{TOP_GPUS} GPU models with the most providers; at most "
        f"{MAX_PROVIDERS_PER_CHART} providers per chart (recently seen ones with the lowest "
        "median price).",
    )
    if prices.df is None:
        sec.blocks.append(Note(prices.note))
        return sec
    od = prices.df.filter((pl.col("pricing") == "on_demand") & pl.col("price_min").is_finite())
    if od.height == 0:
        text = f"marts.gpu_price_daily has no on-demand prices up to {as_of.isoformat()}."
        sec.blocks.append(Note(text))
        return sec
    today = dict(
        od.filter(pl.col("date") == as_of)
        .group_by("gpu_model")
        .agg(pl.col("provider").n_unique())
        .iter_rows()
    )
    hist = dict(od.group_by("gpu_model").agg(pl.col("provider").n_unique()).iter_rows())
    if not today:
        sec.blocks.append(Note(D.no_day_text("gpu_price_daily", prices, as_of, "on-demand ")))
    for gpu in D.rank_by_providers(today, hist, TOP_GPUS):
        g = od.filter(pl.col("gpu_model") == gpu).sort(["provider", "date"])
        sec.blocks.append(_history_figure(g, gpu, as_of, constituents))
    return sec


def _spread_figures(summary: D.Frame, as_of: dt.date) -> list:
    if summary.df is None:
        return [Note(summary.note)]
    od = summary.df.filter(pl.col("pricing") == "on_demand")
    if od.height == 0:
        return [Note(f"marts.daily_summary has no on-demand rows up to {as_of.isoformat()}.")]
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
    out: list = []
    if not today:
        out.append(Note(D.no_day_text("daily_summary", summary, as_of, "on-demand ")))
    for gpu in D.rank_by_providers(today, hist, TOP_GPUS):
        g = od.filter(pl.col("gpu_model") == gpu).sort("date")
        rows = g.select("date", "p25_price", "p75_price", "market_median", "lowest_price").rows()
        cap = (
            f"{gpu}: on-demand market median, p25\u2013p75 band and lowest price, USD "
            f"per GPU-hour, {g['date'].min().isoformat()} to {g['date'].max().isoformat()}."
        )
        chart = band_chart(rows, aria_label=f"{gpu} market spread over time")
        out.append(Figure(chart, heading=gpu, caption=cap))
    return out


SPREAD_COLUMNS = [
    Column("GPU"),
    Column("Providers", "r"),
    Column("Cheapest"),
    Column("Dearest"),
    Column("Max/min", "r"),
    Column("Hyperscaler median", "r", "sm"),
    Column("Neocloud median", "r", "sm"),
    Column("Marketplace median", "r", "sm"),
    Column("Hyperscaler premium", "r"),
]


def _spread_table(spreads: D.Frame, as_of: dt.date) -> list:
    if spreads.df is None:
        return [Note(spreads.note)]
    day = D.day_rows(spreads, as_of)
    day = day.filter(pl.col("pricing") == "on_demand") if day is not None else None
    if day is None or day.height == 0:
        return [Note(D.no_day_text("provider_spreads", spreads, as_of, "on-demand "))]
    rows = sorted(
        day.iter_rows(named=True),
        key=lambda r: D.gpu_sort_key(r["gpu_model"] or "", r["median_price"]),
    )
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
    note = (
        "Hyperscaler premium = hyperscaler median / median of neocloud and marketplace providers."
    )
    return [Table(SPREAD_COLUMNS, body), Note(note, nodata=False)]


def spreads_section(summary: D.Frame, spreads: D.Frame, as_of: dt.date) -> Section:
    """Market median, p25-p75 band and lowest price over time; the day's provider spreads."""
    sec = Section(
        "spreads",
        "Spreads over time",
        "On-demand: the market median, the p25\u2013p75 band of provider prices and the "
        "lowest price over time (marts.daily_summary), then the as-of day's spread between "
        "the cheapest and the dearest provider (marts.provider_spreads).",
    )
    sec.blocks += _spread_figures(summary, as_of)
    sec.blocks.append(Heading(f"Provider spreads on {as_of.isoformat()} (on-demand)"))
    sec.blocks += _spread_table(spreads, as_of)
    return sec
