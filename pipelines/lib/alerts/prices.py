"""Alert rules over GPU prices and availability: a provider's price move (with the flap
guard: one alert per ISO week for a series that keeps reversing), the market's like-for-like
7-day move, and offers that vanished, dropped or came back. Pure functions of the marts'
frames, one list of alert rows each."""

from __future__ import annotations

import datetime as dt
import itertools

import polars as pl

from pipelines.lib.alerts.config import _alert, _usd


def _flapping(
    changes: pl.DataFrame, day: dt.date, threshold: float, window: int, min_rev: int
) -> dict:
    """subject -> (reversals, low, high) for series flapping in the window ending at ``day``."""
    recent = changes.filter(
        (pl.col("date") > day - dt.timedelta(days=window))
        & (pl.col("date") <= day)
        & pl.col("kind").is_in(["up", "down"])
        & (pl.col("change_pct").abs() >= threshold)
    )
    out = {}
    for (gpu, provider, pricing), g in recent.sort("date").group_by(
        ["gpu_model", "provider", "pricing"], maintain_order=True
    ):
        kinds = g["kind"].to_list()
        reversals = sum(1 for a, b in itertools.pairwise(kinds) if a != b)
        if reversals >= min_rev:
            levels = g["price_prev"].to_list() + g["price_now"].to_list()
            out[f"{provider}/{gpu}/{pricing}"] = (reversals, min(levels), max(levels))
    return out


def rule_provider_price_move(frames, day, cfg) -> list[dict]:
    changes = frames.get("price_changes")
    if changes is None or changes.height == 0:
        return []
    thr = float(cfg["rules"]["provider_price_move"]["threshold_pct"])
    flap = _flapping(
        changes, day, thr, int(cfg["flap"]["window_days"]), int(cfg["flap"]["min_reversals"])
    )
    out = []
    today = changes.filter(
        (pl.col("date") == day)
        & pl.col("kind").is_in(["up", "down"])
        & (pl.col("change_pct").abs() >= thr)
    )
    for r in today.iter_rows(named=True):
        subject = f"{r['provider']}/{r['gpu_model']}/{r['pricing']}"
        payload = {
            k: r[k]
            for k in (
                "provider",
                "gpu_model",
                "pricing",
                "price_prev",
                "price_now",
                "change_pct",
                "prev_date",
            )
        }
        if subject in flap:
            reversals, lo, hi = flap[subject]
            week = day - dt.timedelta(days=day.weekday())
            payload.update(flapping=True, reversals=reversals, low=lo, high=hi, week_of=week)
            out.append(
                _alert(
                    "provider_price_move",
                    subject,
                    day,
                    "info",
                    f"{r['provider']} {r['gpu_model']} {r['pricing']} is flapping between {_usd(lo)} "
                    f"and {_usd(hi)} per GPU-hour ({reversals} reversals in "
                    f"{cfg['flap']['window_days']} days; latest {_usd(r['price_prev'])} -> "
                    f"{_usd(r['price_now'])} on {day}); one alert per week while it flaps",
                    payload,
                    key=f"flap-week-{week.isoformat()}",
                )
            )
            continue
        verb = "rose" if r["kind"] == "up" else "fell"
        out.append(
            _alert(
                "provider_price_move",
                subject,
                day,
                "warning",
                f"{r['provider']} {r['gpu_model']} {r['pricing']}: lowest price {verb} "
                f"{abs(r['change_pct']):.1f}% from {_usd(r['price_prev'])} ({r['prev_date']}) to "
                f"{_usd(r['price_now'])} per GPU-hour on {day}",
                payload,
            )
        )
    return out


def rule_market_price_move(frames, day, cfg) -> list[dict]:
    """The market's like-for-like 7-day change (``daily_summary.change_7d_like_for_like_pct``:
    the index over providers present on both ends of each link, METHODOLOGY.md) moved >=
    ``threshold_pct``. The cross-sectional median is quoted beside it but never triggers:
    it moves when the set of reporting providers changes."""
    summary = frames.get("daily_summary")
    if (
        summary is None
        or summary.height == 0
        or "change_7d_like_for_like_pct" not in summary.columns
    ):
        return []
    thr = float(cfg["rules"]["market_price_move"]["threshold_pct"])
    prev = (
        summary.filter((pl.col("date") >= day - dt.timedelta(days=7)) & (pl.col("date") < day))
        .group_by(["gpu_model", "pricing"])
        .agg(pl.col("market_median").median().alias("median_7d"))
    )
    today = (
        summary.filter(pl.col("date") == day)
        .join(prev, on=["gpu_model", "pricing"], how="left")
        .with_columns(pl.col("change_7d_like_for_like_pct").alias("pct"))
    )
    out = []
    for r in today.filter(pl.col("pct").abs() >= thr).iter_rows(named=True):
        verb = "rose" if r["pct"] > 0 else "fell"
        cross = (
            f"; cross-sectional median {_usd(r['median_7d'])} (7-day) -> {_usd(r['market_median'])}"
            if r["median_7d"] is not None
            else ""
        )
        out.append(
            _alert(
                "market_price_move",
                f"market/{r['gpu_model']}/{r['pricing']}",
                day,
                "warning",
                f"{r['gpu_model']} {r['pricing']} market {verb} {abs(r['pct']):.1f}% like for like "
                f"in 7 days to {day} (providers present on both dates){cross}, "
                f"{r['n_providers']} providers",
                {
                    "gpu_model": r["gpu_model"],
                    "pricing": r["pricing"],
                    "median_7d": r["median_7d"],
                    "market_median": r["market_median"],
                    "change_pct": r["pct"],
                    "change_basis": "like_for_like_7d",
                },
            )
        )
    return out


def rule_availability(frames, day, cfg) -> list[dict]:
    prices = frames.get("gpu_price_daily")
    if prices is None or prices.height == 0:
        return []
    drop = float(cfg["rules"]["availability"]["drop_pct"])
    providers_today = set(prices.filter(pl.col("date") == day)["provider"].to_list())
    # each provider's previous observation date (any GPU)
    prov_days = prices.select("provider", "date").unique()
    prev_day = (
        prov_days.filter(pl.col("date") < day)
        .group_by("provider")
        .agg(pl.col("date").max().alias("prev"))
    )
    keys = ["provider", "gpu_model", "pricing"]
    today = prices.filter(pl.col("date") == day).select(*keys, "n_offers", "available_gpus")
    before = (
        prices.join(prev_day, on="provider")
        .filter(pl.col("date") == pl.col("prev"))
        .select(
            *keys,
            "prev",
            pl.col("n_offers").alias("n_prev"),
            pl.col("available_gpus").alias("avail_prev"),
        )
    )
    ever = prices.filter(pl.col("date") < day).select(keys).unique()
    out = []
    both = before.join(today, on=keys, how="full", coalesce=True)
    for r in both.iter_rows(named=True):
        subject = f"{r['provider']}/{r['gpu_model']}/{r['pricing']}"
        if r["n_offers"] is None and r["n_prev"] is not None and r["provider"] in providers_today:
            out.append(
                _alert(
                    "availability",
                    subject,
                    day,
                    "warning",
                    f"{r['provider']} {r['gpu_model']} {r['pricing']}: offers fell to zero on {day} "
                    f"(from {r['n_prev']} on {r['prev']}) while {r['provider']} still listed other GPUs",
                    {"n_prev": r["n_prev"], "n_now": 0, "prev_date": r["prev"]},
                )
            )
        elif r["n_offers"] is not None and r["n_prev"] is not None:
            now = (
                r["available_gpus"]
                if r["available_gpus"] is not None and r["avail_prev"]
                else r["n_offers"]
            )
            was = (
                r["avail_prev"]
                if r["available_gpus"] is not None and r["avail_prev"]
                else r["n_prev"]
            )
            what = "available GPUs" if now is r["available_gpus"] else "offers"
            if was and (1 - now / was) * 100 >= drop:
                out.append(
                    _alert(
                        "availability",
                        subject,
                        day,
                        "warning",
                        f"{r['provider']} {r['gpu_model']} {r['pricing']}: {what} fell "
                        f"{(1 - now / was) * 100:.0f}% from {was} ({r['prev']}) to {now} on {day}",
                        {"was": was, "now": now, "measure": what, "prev_date": r["prev"]},
                    )
                )
    back = today.join(before.select(keys), on=keys, how="anti").join(ever, on=keys, how="semi")
    for r in back.iter_rows(named=True):
        out.append(
            _alert(
                "availability",
                f"{r['provider']}/{r['gpu_model']}/{r['pricing']}",
                day,
                "info",
                f"{r['provider']} {r['gpu_model']} {r['pricing']} is back on {day} with "
                f"{r['n_offers']} offer(s) after being absent",
                {"n_now": r["n_offers"]},
            )
        )
    return out
