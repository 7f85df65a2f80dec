"""The as-of day's sections: today's market per GPU and price type, and what moved today.
Each takes prepared frames (``data.Frame``) and returns a ``blocks.Section``; nothing here
writes HTML."""

from __future__ import annotations

import datetime as dt

import polars as pl

from pipelines.lib.report import data as D
from pipelines.lib.report.blocks import (
    Change,
    Column,
    Confidence,
    Note,
    Section,
    Table,
)
from pipelines.lib.report.fmt import (
    DASH,
    fmt_date,
    fmt_int,
    fmt_pct,
    fmt_share,
    fmt_usd,
    isnum,
    pricing_label,
    pricing_rank,
)

MARKET_COLUMNS = [
    Column("GPU"),
    Column("Pricing"),
    Column("Market median", "r"),
    Column("p25\u2013p75", "r", "md"),
    Column("Lowest", "r"),
    Column("Lowest provider", "l", "sm"),
    Column("1d", "r", "sm"),
    Column("7d", "r"),
    Column("30d", "r", "sm"),
    Column("Providers", "r", "sm"),
    Column("Offers", "r", "md"),
    Column("Available GPUs", "r", "md"),
    Column("Coverage", "r"),
    Column("Confidence"),
]


def _has_like_for_like(summary: D.Frame, rows: list[dict]) -> bool:
    """Methodology 2.0 marts carry like-for-like changes; an older daily_summary only the
    cross-sectional ones, shown as they are (the legend says which)."""
    df = summary.df
    return (
        df is not None
        and "change_30d_like_for_like_pct" in df.columns
        and df.get_column("change_30d_like_for_like_pct").is_not_null().any()
    ) or any(r["change_1d_like_for_like_pct"] is not None for r in rows)


def _market_row(r: dict, lfl: bool) -> list[object]:
    def change(horizon: int) -> Change:
        cross = r[f"change_{horizon}d_pct"]
        if not lfl:
            return Change(cross)
        title = f"cross-sectional median: {fmt_pct(cross) if isnum(cross) else DASH}"
        return Change(r[f"change_{horizon}d_like_for_like_pct"], title=title)

    return [
        r["gpu_model"],
        pricing_label(r["pricing"]),
        fmt_usd(r["market_median"]),
        f"{fmt_usd(r['p25_price'])}\u2013{fmt_usd(r['p75_price'])}",
        fmt_usd(r["lowest_price"]),
        r["lowest_provider"] or DASH,
        change(1),
        change(7),
        change(30),
        fmt_int(r["n_providers"]),
        fmt_int(r["n_offers"]),
        fmt_int(r["available_gpus"]),
        fmt_share(r["coverage"]),
        Confidence(r["confidence"]),
    ]


def market_section(summary: D.Frame, as_of: dt.date) -> Section:
    """Today's market: one row per GPU and price type from marts.daily_summary."""
    sec = Section(
        "market",
        "Today's market",
        "Per GPU and price type: the median of the providers' lowest prices (USD per "
        "GPU-hour), the p25\u2013p75 range across providers, the cheapest provider, and "
        "the like-for-like price change vs 1, 7 and 30 days earlier (the index of "
        "METHODOLOGY.md: only providers present on both dates count, so a provider joining "
        "or leaving is not a price move).",
    )
    day, why = D.day_or_why("daily_summary", summary, as_of)
    if day is None:
        sec.blocks.append(Note(why))
        return sec
    od_median = {
        r["gpu_model"]: r["market_median"]
        for r in day.filter(pl.col("pricing") == "on_demand").iter_rows(named=True)
    }
    rows = sorted(
        day.iter_rows(named=True),
        key=lambda r: (
            D.gpu_sort_key(r["gpu_model"] or "", od_median.get(r["gpu_model"], r["market_median"])),
            pricing_rank(r["pricing"]),
        ),
    )
    lfl = _has_like_for_like(summary, rows)
    legend = (
        (
            "Changes are like for like (the cross-sectional median's change is in each "
            "cell's tooltip): "
            if lfl
            else "Changes of the cross-sectional median: "
        )
        + "red = prices went up, green = they went down. Coverage = providers "
        "today / providers seen in the trailing 30 days. On narrow screens the columns that "
        "matter least are dropped."
    )
    sec.blocks += [
        Table(MARKET_COLUMNS, [_market_row(r, lfl) for r in rows], css="market"),
        Note(legend, nodata=False),
    ]
    return sec


MOVE_COLUMNS = [
    Column("GPU"),
    Column("Provider"),
    Column("Pricing"),
    Column("From \u2192 to", "r"),
    Column("Change", "r"),
    Column("Change $", "r", "sm"),
    Column("Since", "l", "sm"),
]


def _move_row(r: dict) -> list[object]:
    days = r["days_since_prev"]
    since = fmt_date(r["prev_date"]) + (f" ({int(days)} d)" if isnum(days) else "")
    chg_abs = r["change_abs"]
    return [
        r["gpu_model"],
        r["provider"],
        pricing_label(r["pricing"]),
        f"{fmt_usd(r['price_prev'])} \u2192 {fmt_usd(r['price_now'])}",
        Change(r["change_pct"], arrows=True),
        ("+" if isnum(chg_abs) and chg_abs > 0 else "") + fmt_usd(chg_abs),
        since,
    ]


def moves_section(changes: D.Frame, as_of: dt.date) -> Section:
    """Every provider price that moved since its previous observation, largest first."""
    sec = Section(
        "moves",
        "What moved today",
        "Providers whose lowest price for a GPU and price type changed since their "
        "previous observation, largest relative moves first.",
    )
    if changes.df is None:
        sec.blocks.append(Note(changes.note))
        return sec
    day = D.day_rows(changes, as_of)
    if day is None:
        newest = D.latest(changes)
        tail = f" (latest recorded change: {newest.isoformat()})" if newest else ""
        text = f"no price changes recorded for {as_of.isoformat()}{tail}."
        sec.blocks.append(Note(text, nodata=False))
        return sec
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
    if moved.height == 0:
        text = f"no provider changed a price on {as_of.isoformat()}."
        sec.blocks.append(Note(text, nodata=False))
    else:
        n_up = moved.filter(pl.col("kind") == "up").height
        summary = f"{moved.height} price changes: {n_up} up, {moved.height - n_up} down."
        sec.blocks += [
            Note(summary, nodata=False),
            Table(MOVE_COLUMNS, [_move_row(r) for r in moved.iter_rows(named=True)]),
        ]
    sec.blocks.append(
        Note(
            f"{n_new} new series (provider \u00d7 GPU \u00d7 price type first seen on "
            f"{as_of.isoformat()}).",
            nodata=False,
        )
    )
    return sec
