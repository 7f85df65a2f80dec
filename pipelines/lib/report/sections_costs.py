"""The sections on what compute costs: cheapest USD per dense BF16 PFLOP-hour per GPU, the
cheapest API price per 1M output tokens per model family, and the measured cost of serving
1M output tokens beside the API price. Each returns a ``blocks.Section``; no HTML here."""

from __future__ import annotations

import datetime as dt

import polars as pl

from pipelines.lib.report import data as D
from pipelines.lib.report.blocks import Column, Figure, Heading, Note, Section, Table
from pipelines.lib.report.charts import PALETTE, LineSeries, bar_chart, line_chart
from pipelines.lib.report.fmt import DASH, fmt_date, fmt_mtok, fmt_ratio, fmt_usd

SERVING_MODELS_CHARTED = 4  # models with a cost-over-time chart
SERVING_GPUS_PER_CHART = 5
# a listed API price stands until the next price-map version: marts.api_prices_daily carries
# a listing forward this long (market.api_prices_daily max_gap_days), so the chart joins it too
API_LISTING_DAYS = 120


def flops_section(cpf: D.Frame, as_of: dt.date) -> Section:
    """The cheapest USD per dense BF16 PFLOP-hour per GPU, on-demand, as-of day."""
    sec = Section(
        "flops",
        "Cost per FLOP ranking",
        "On-demand, as-of day: per GPU model the cheapest USD per dense BF16 PFLOP-hour "
        "(provider's lowest price / dense BF16 peak), and who offers it. Figures are dense "
        "BF16; FP16 where the GPU has no BF16 (bf16_is_fp16, marked *).",
    )
    day, why = D.day_or_why("cost_per_flop", cpf, as_of)
    if day is None:
        sec.blocks.append(Note(why))
        return sec
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
        sec.blocks.append(Note(f"no on-demand BF16 cost per FLOP for {as_of.isoformat()}."))
        return sec
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
        Column("GPU"),
        Column("Provider"),
        Column("USD / PFLOP-hour (BF16)", "r"),
        Column("USD / GPU-hour", "r"),
        Column("USD / GB VRAM-hour", "r"),
    ]
    sec.blocks += [Figure(chart), Table(cols, body)]
    return sec


API_COLUMNS = [
    Column("Family"),
    Column("First seen", "l", "sm"),
    Column("USD / 1M out", "r", "sm"),
    Column("Latest"),
    Column("USD / 1M out", "r"),
    Column("Fell", "r"),
    Column("Cheapest listing", "l", "md"),
]


def _family_row(g: pl.DataFrame, fam: str) -> tuple:
    first, last = g.row(0, named=True), g.row(-1, named=True)
    was, now = first["cheapest_output_usd_per_mtok"], last["cheapest_output_usd_per_mtok"]
    fell = (1 - now / was) * 100 if was else None
    return (
        fam,
        fmt_date(first["date"]),
        fmt_usd(was),
        fmt_date(last["date"]),
        fmt_usd(now),
        "" if fell is None else f"{fell:.0f}%",
        last["cheapest_model_id"] or "",
    )


def api_section(fams: D.Frame, as_of: dt.date) -> Section:
    """The cheapest listed output price per model family over time, on a log axis when the
    families span orders of magnitude (a $0.03 model beside a $15 one)."""
    sec = Section(
        "api",
        "API prices per 1M tokens",
        "Cheapest listed price per 1M output tokens for well-known model families, across "
        "OpenRouter and LiteLLM and every route that serves them (marts.api_price_families).",
    )
    if fams.df is None:
        sec.blocks.append(Note(fams.note))
        return sec
    df = fams.df.sort(["family", "date"])
    series, rows = [], []
    for i, fam in enumerate(sorted(set(df["family"].to_list()))):
        g = df.filter(pl.col("family") == fam)
        pts = g.select("date", "cheapest_output_usd_per_mtok").rows()
        label = f"{fam} {fmt_usd(pts[-1][1])}"
        series.append(LineSeries(fam, pts, PALETTE[i % len(PALETTE)], label=label))
        rows.append(_family_row(g, fam))
    chart = line_chart(
        series,
        aria_label="cheapest API output price per model family",
        log_y="auto",
        gap_days=API_LISTING_DAYS,
    )
    caption = (
        "USD per 1M output tokens, cheapest listing per day observed (price-map versions "
        f"are weeks apart: a line joins listings up to {API_LISTING_DAYS} days apart)."
    )
    sec.blocks += [Figure(chart, caption=caption), Table(API_COLUMNS, rows)]
    return sec


SERVING_COLUMNS = [
    Column("#", "r"),
    Column("GPU"),
    Column("USD / GPU-h", "r", "sm"),
    Column("tok/s per GPU", "r", "sm"),
    Column("USD / 1M out", "r"),
    Column("at cheapest", "r"),
    Column("cheapest provider", "l", "md"),
    Column("API / cost", "r"),
    Column("benchmark", "l", "md"),
]


def _serving_table(rows_m: pl.DataFrame) -> Table:
    rows = [
        (
            r["cost_rank"],
            r["gpu_model"],
            fmt_usd(r["usd_per_gpu_hour"]),
            f"{r['tokens_per_second_per_gpu']:,.0f}",
            fmt_mtok(r["usd_per_million_output_tokens"]),
            fmt_mtok(r["usd_per_million_output_tokens_cheapest"]),
            r["cheapest_provider"] or DASH,
            fmt_ratio(r["serving_margin"]),
            f"{r['benchmark_round'] or ''} {r['benchmark_system'] or ''}".strip(),
        )
        for r in rows_m.iter_rows(named=True)
    ]
    return Table(SERVING_COLUMNS, rows)


def _serving_figure(df: pl.DataFrame, model: str, gpus: list[str]) -> Figure:
    hist = df.filter((pl.col("model") == model) & pl.col("gpu_model").is_in(gpus)).sort("date")
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
        df.filter((pl.col("model") == model) & pl.col("api_output_usd_per_mtok").is_not_null())
        .group_by("date")
        .agg(pl.col("api_output_usd_per_mtok").min())
        .sort("date")
        .rows()
    )
    if api_pts:
        series.append(LineSeries("API price", api_pts, "#667085", dashed=True))
    chart = line_chart(series, aria_label=f"cost per 1M tokens of {model}", log_y="auto")
    caption = (
        "USD per 1M output tokens over time at the on-demand market median"
        f"{' (dashed: API price)' if api_pts else ''}."
    )
    return Figure(chart, caption=caption)


def serving_section(serving: D.Frame, as_of: dt.date) -> Section:
    """Cost per 1M output tokens per model: GPUs ranked on the newest day (on-demand market
    level and the cheapest provider), the API price of the same model beside it, and the cost
    of the cheapest GPUs over time (marts.serving_cost_daily)."""
    sec = Section(
        "serving",
        "Cost per 1M tokens",
        "USD per 1M output tokens = USD per GPU-hour / (measured output tokens/s per GPU x 3600) "
        "x 1e6: the best closed-division, available MLPerf Inference Offline result per GPU "
        "(newest round that has it) priced at the day's on-demand market median and at the "
        "cheapest provider; margin = API price / serving cost. Throughput is sustained peak "
        "batch throughput: idle time, networking and staff are excluded, so this is a floor. "
        "Per-GPU figures are derived from published MLPerf results, not official results.",
    )
    if serving.df is None:
        sec.blocks.append(Note(serving.note))
        return sec
    df = serving.df.filter(pl.col("pricing") == "on_demand")
    if df.height == 0:
        sec.blocks.append(Note("marts.serving_cost_daily has no on-demand rows."))
        return sec
    day = df["date"].max()
    today = df.filter(pl.col("date") == day)
    if day != as_of:
        text = f"Newest serving-cost date is {day.isoformat()} (report date {as_of.isoformat()})."
        sec.blocks.append(Note(text, nodata=False))
    # models ordered by how many GPUs price them, then name
    counts = today.group_by("model").len().sort(["len", "model"], descending=[True, False])
    for i, model in enumerate(counts["model"].to_list()):
        rows_m = today.filter(pl.col("model") == model).sort(
            ["usd_per_million_output_tokens", "gpu_model"]
        )
        api = rows_m["api_output_usd_per_mtok"].drop_nulls()
        api_txt = (
            f"API price (cheapest paid listing): {fmt_usd(api[0])} per 1M output tokens."
            if api.len()
            else "No API price listed for this model."
        )
        sec.blocks += [Heading(model), Note(api_txt, nodata=False)]
        if i < SERVING_MODELS_CHARTED:
            gpus = rows_m["gpu_model"].to_list()[:SERVING_GPUS_PER_CHART]
            sec.blocks.append(_serving_figure(df, model, gpus))
        sec.blocks.append(_serving_table(rows_m))
    return sec
