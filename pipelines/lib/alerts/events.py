"""Alert rules for things that happen rather than move: a new GPU model, provider or watched
release, an API price cut, a source that failed or went stale, and a serving cost or margin
that moved. Pure functions of the marts' frames, one list of alert rows each."""

from __future__ import annotations

import datetime as dt

import polars as pl

from pipelines.lib.alerts.config import _alert, _usd


def rule_new(frames, day, cfg) -> list[dict]:
    out = []
    rcfg = cfg["rules"]["new"]
    prices = frames.get("gpu_price_daily")
    if prices is not None and prices.height and prices["date"].min() < day:
        for col, what in (("gpu_model", "GPU model"), ("provider", "provider")):
            first = prices.group_by(col).agg(pl.col("date").min().alias("first"))
            for name, _first in first.filter(pl.col("first") == day).iter_rows():
                rows = prices.filter((pl.col(col) == name) & (pl.col("date") == day))
                low = rows.sort("price_min").row(0, named=True)
                out.append(
                    _alert(
                        "new",
                        f"{what}/{name}",
                        day,
                        "info",
                        f"new {what} {name} seen for the first time on {day}: {rows.height} series, "
                        f"lowest {_usd(low['price_min'])} per GPU-hour ({low['provider']} "
                        f"{low['gpu_model']} {low['pricing']})",
                        {"kind": col, "name": name},
                    )
                )
    releases = frames.get("model_releases")
    watched = {o.lower() for o in rcfg.get("watched_organizations", [])}
    if releases is not None and releases.height:
        for r in releases.filter(
            (pl.col("first_seen") == day)
            & pl.col("organization").str.to_lowercase().is_in(list(watched))
        ).iter_rows(named=True):
            out.append(
                _alert(
                    "new",
                    f"model/{r['model_key']}",
                    day,
                    "info",
                    f"new model from {r['organization']}: {r['model_id']} first seen {day} "
                    f"(via {r['first_seen_source']})",
                    {"model_key": r["model_key"]},
                )
            )
    api = frames.get("api_prices_daily")
    cut = float(rcfg.get("api_price_cut_pct", 20))
    if api is not None and api.height:
        s = api.sort(["source", "model_id", "date"]).with_columns(
            pl.col("output_usd_per_mtok").shift(1).over(["source", "model_id"]).alias("prev_out"),
            pl.col("date").shift(1).over(["source", "model_id"]).alias("prev_date"),
        )
        hits = s.filter(
            (pl.col("date") == day)
            & (pl.col("prev_out") > 0)
            & ((1 - pl.col("output_usd_per_mtok") / pl.col("prev_out")) * 100 >= cut)
        )
        for r in hits.iter_rows(named=True):
            pct = (1 - r["output_usd_per_mtok"] / r["prev_out"]) * 100
            out.append(
                _alert(
                    "new",
                    f"api_price_cut/{r['source']}/{r['model_id']}",
                    day,
                    "info",
                    f"API price cut: {r['model_id']} ({r['source']}) output price fell {pct:.0f}% from "
                    f"{_usd(r['prev_out'])} ({r['prev_date']}) to {_usd(r['output_usd_per_mtok'])} "
                    f"per 1M tokens on {day}",
                    {"prev": r["prev_out"], "now": r["output_usd_per_mtok"]},
                )
            )
    return out


def rule_source_health(frames, day, cfg) -> list[dict]:
    loads = frames.get("load_log")
    if loads is None or loads.height == 0:
        return []
    rcfg = cfg["rules"]["source_health"]
    ignore = set(rcfg.get("ignore_modes", []))
    loads = loads.filter(~pl.col("mode").is_in(list(ignore)))
    out = []
    latest = (
        loads.filter(pl.col("date") == day)
        .sort("loaded_at")
        .group_by("source")
        .agg(pl.all().last())
    )
    for r in latest.filter(pl.col("status").is_in(["failed", "empty"])).iter_rows(named=True):
        out.append(
            _alert(
                "source_health",
                f"source/{r['source']}",
                day,
                "critical",
                f"source {r['source']} {r['status']} for {day}: {(r['error'] or 'no rows')[:300]}",
                {"status": r["status"], "payloads": r["payloads"]},
            )
        )
    end_of_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    max_age = dt.timedelta(hours=float(rcfg["max_age_hours"]))
    good = (
        loads.filter(pl.col("status").is_in(["ok", "partial"]) & (pl.col("date") <= day))
        .group_by("source")
        .agg(pl.col("date").max().alias("newest"))
    )
    failing_today = {a["subject"] for a in out}
    for source, newest in good.iter_rows():
        age = end_of_day - dt.datetime.combine(
            newest + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC
        )
        if age > max_age and f"source/{source}" not in failing_today:
            out.append(
                _alert(
                    "source_health",
                    f"source/{source}",
                    day,
                    "warning",
                    f"source {source}: newest good data is for {newest}, {age.days} day(s) old at the "
                    f"end of {day} (limit {rcfg['max_age_hours']} h)",
                    {"newest": newest, "age_hours": age.total_seconds() / 3600},
                )
            )
    return out


def rule_serving_cost_move(frames, day, cfg) -> list[dict]:
    """A model's cheapest serving cost (``marts.serving_cost_daily``: USD per 1M output tokens on
    its cheapest GPU at the market level) moved >= ``threshold_pct`` against the model's previous
    date, or the serving margin of that cheapest row (API price / serving cost) moved >=
    ``margin_threshold_pct``. Per model x price type; either direction."""
    serving = frames.get("serving_cost_daily")
    need = {
        "date",
        "model",
        "gpu_model",
        "pricing",
        "usd_per_million_output_tokens",
        "serving_margin",
    }
    if serving is None or serving.height == 0 or not need <= set(serving.columns):
        return []
    rcfg = cfg["rules"]["serving_cost_move"]
    thr, mthr = float(rcfg["threshold_pct"]), float(rcfg["margin_threshold_pct"])
    best = serving.filter(
        (pl.col("date") <= day) & pl.col("usd_per_million_output_tokens").is_not_null()
    )
    best = (
        best.sort(["usd_per_million_output_tokens", "gpu_model"])
        .group_by(["model", "pricing", "date"], maintain_order=True)
        .first()
    )
    today = best.filter(pl.col("date") == day)
    before = best.filter(pl.col("date") < day).sort("date").group_by(["model", "pricing"]).last()
    both = today.join(before, on=["model", "pricing"], suffix="_prev")
    out = []
    for r in both.iter_rows(named=True):
        cost, prev = r["usd_per_million_output_tokens"], r["usd_per_million_output_tokens_prev"]
        subject = f"{r['model']}/{r['pricing']}"
        pct = (cost / prev - 1) * 100 if prev else None
        if pct is not None and abs(pct) >= thr:
            verb = "rose" if pct > 0 else "fell"
            out.append(
                _alert(
                    "serving_cost_move",
                    f"serving_cost/{subject}",
                    day,
                    "info",
                    f"{r['model']} {r['pricing']}: cheapest serving cost {verb} {abs(pct):.1f}% to "
                    f"{_usd(cost)} per 1M output tokens on {r['gpu_model']} ({day}), from "
                    f"{_usd(prev)} on {r['gpu_model_prev']} ({r['date_prev']})",
                    {
                        "model": r["model"],
                        "pricing": r["pricing"],
                        "gpu_model": r["gpu_model"],
                        "gpu_model_prev": r["gpu_model_prev"],
                        "usd_per_mtok": cost,
                        "usd_per_mtok_prev": prev,
                        "prev_date": r["date_prev"],
                        "change_pct": pct,
                    },
                )
            )
        margin, mprev = r["serving_margin"], r["serving_margin_prev"]
        mpct = (margin / mprev - 1) * 100 if margin is not None and mprev else None
        if mpct is not None and abs(mpct) >= mthr:
            verb = "rose" if mpct > 0 else "fell"
            out.append(
                _alert(
                    "serving_cost_move",
                    f"serving_margin/{subject}",
                    day,
                    "info",
                    f"{r['model']} {r['pricing']}: serving margin (API price / serving cost) {verb} "
                    f"{abs(mpct):.1f}% to {margin:.1f}x on {r['gpu_model']} ({day}), from "
                    f"{mprev:.1f}x ({r['date_prev']})",
                    {
                        "model": r["model"],
                        "pricing": r["pricing"],
                        "gpu_model": r["gpu_model"],
                        "serving_margin": margin,
                        "serving_margin_prev": mprev,
                        "prev_date": r["date_prev"],
                        "change_pct": mpct,
                    },
                )
            )
    return out
