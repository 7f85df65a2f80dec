"""Alerts: rules over the marts, an outbox table, and delivery that never loses or repeats.

Rules (``[alerts.rules.*]`` in the config; defaults in ``DEFAULT_ALERT_CONFIG``):

* ``provider_price_move`` -- a provider's lowest price for a GPU and price type moved by >=
  ``threshold_pct`` against its previous observation (``marts.price_changes``), up or down;
* ``market_price_move``  -- the market's like-for-like 7-day change (``marts.daily_summary``,
  from the index of methodology 2.0) moved >= ``threshold_pct``;
* ``availability``       -- a provider's offers for a GPU x price type fell to zero (the
  provider still reported other GPUs that day), fell by >= ``drop_pct``, or came back;
* ``new``                -- a GPU model or provider seen for the first time (not on the first day
  of the history, when everything is new); a release from a watched organization
  (``marts.model_releases``); an API price cut >= ``api_price_cut_pct`` (``marts.api_prices_daily``);
* ``serving_cost_move``  -- a model's cheapest serving cost per 1M output tokens, or its serving
  margin (``marts.serving_cost_daily``), moved >= ``threshold_pct`` / ``margin_threshold_pct``;
* ``source_health``      -- a source failed or returned nothing for the date (``raw.load_log``), or
  its newest good data is older than ``max_age_hours`` at the end of the date.

Flap guard: a provider series whose moves of at least the threshold reversed direction
``min_reversals`` times in the last ``window_days`` is *flapping*; it gets one alert per
ISO week (its id is keyed by the week), saying between which levels it flaps.

Outbox: ``marts.alerts``. ``alert_id`` = hash of rule, subject and date (or week for a flap),
so the same alert is never inserted twice and a re-run inserts nothing. Delivery tracks
channels per alert: an alert is delivered when every configured channel (log, webhook,
e-mail) has it; a channel that is down leaves it pending (``attempts``, ``last_error``) for
the next evaluation, and a channel that succeeded is never sent the alert again.

Delivery happens with no warehouse lock held: the pending alerts are claimed in a short
write, sent (each channel within a wall-clock ``deadline_seconds``, however slowly the
receiver drips), and the outcomes recorded in a second short write. A send has three
outcomes: delivered; *failed* (refused, HTTP error, rejected -- retried next time); *unknown*
(sent, but no answer before the deadline -- it may have arrived). Every webhook POST carries
an ``Idempotency-Key`` header (also ``idempotency_key`` in the body; each alert has its
``alert_id``), e-mails a ``Message-ID`` from the same key; an unknown alert is not re-sent
blindly (see ``send_pending`` for the policy). Secrets (webhook URL, SMTP password, and their
base64 forms an SMTP server may echo) come from config/environment and never reach logs,
errors or payloads.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import http.client
import itertools
import json
import logging
import os
import smtplib
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import polars as pl

from pipelines.lib import lake
from pipelines.lib.redact import install_log_redaction, redact, register_login

log = logging.getLogger(__name__)

DEFAULT_ALERT_CONFIG: dict[str, Any] = {
    "rules": {
        "provider_price_move": {"enabled": True, "threshold_pct": 10.0},
        "market_price_move": {"enabled": True, "threshold_pct": 10.0},
        "availability": {"enabled": True, "drop_pct": 50.0},
        "new": {
            "enabled": True,
            "watched_organizations": [
                "openai",
                "anthropic",
                "google",
                "meta-llama",
                "deepseek",
                "deepseek-ai",
                "mistralai",
                "qwen",
                "x-ai",
                "nvidia",
            ],
            "api_price_cut_pct": 20.0,
        },
        "source_health": {"enabled": True, "max_age_hours": 36, "ignore_modes": ["import"]},
        "serving_cost_move": {"enabled": True, "threshold_pct": 10.0, "margin_threshold_pct": 10.0},
    },
    "flap": {"window_days": 14, "min_reversals": 3},
    # timeout_seconds: per socket operation; deadline_seconds: the whole delivery, wall clock
    "webhook": {"url": "", "timeout_seconds": 10, "deadline_seconds": 30, "resend_unknown": False},
    "email": {
        "host": "",
        "port": 587,
        "starttls": True,
        "ssl": False,
        "username": "",
        "from_addr": "",
        "to": [],
        "timeout_seconds": 10,
        "deadline_seconds": 60,
    },
}

ALERTS_DDL = """
CREATE TABLE IF NOT EXISTS marts.alerts (
  alert_id VARCHAR PRIMARY KEY,
  date DATE,
  rule VARCHAR,
  subject VARCHAR,
  severity VARCHAR,           -- info | warning | critical
  message VARCHAR,
  payload VARCHAR,            -- JSON
  created_at TIMESTAMPTZ,
  delivered_at TIMESTAMPTZ,   -- null until every configured channel has it
  attempts INTEGER,
  last_error VARCHAR,
  channels_delivered VARCHAR, -- comma-separated
  delivery_unknown VARCHAR,   -- channels sent to without an answer: may have arrived (comma-separated)
  delivery_key VARCHAR,       -- idempotency key of the webhook send that carried it
  claimed_at TIMESTAMPTZ      -- a deliverer is sending it (no lock is held while sending)
)"""
# columns added after the first release: an existing outbox gets them on its next write
ALERTS_ADDED_COLUMNS = (
    ("delivery_unknown", "VARCHAR"),
    ("delivery_key", "VARCHAR"),
    ("claimed_at", "TIMESTAMPTZ"),
)

ALERT_COLUMNS = ["alert_id", "date", "rule", "subject", "severity", "message", "payload"]
DETAILS = {
    "provider_price_move": "marts.price_changes, report.html#moves",
    "market_price_move": "marts.daily_summary, report.html#market",
    "availability": "marts.gpu_price_daily",
    "new": "marts.gpu_price_daily / marts.model_releases",
    "source_health": "raw.load_log",
    "serving_cost_move": "marts.serving_cost_daily, report.html#serving",
    "run_failure": "Dagster run history (gpu-tracker ui)",
}


def _alerts_ddl(con) -> str:
    """The outbox DDL; DuckLake has no PRIMARY KEY constraints (``record`` skips known ids
    itself there)."""
    return ALERTS_DDL.replace(" PRIMARY KEY", "") if lake.is_lake_connection(con) else ALERTS_DDL


def alert_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults deep-merged with ``[alerts]`` of the config file."""
    out = copy.deepcopy(DEFAULT_ALERT_CONFIG)

    def merge(base, over):
        for k, v in (over or {}).items():
            if isinstance(v, dict) and isinstance(base.get(k), dict):
                merge(base[k], v)
            else:
                base[k] = v

    merge(out, config)
    return out


def alert_id(rule: str, subject: str, key: str) -> str:
    return hashlib.sha256(f"{rule}|{subject}|{key}".encode()).hexdigest()[:20]


def _alert(
    rule: str,
    subject: str,
    day: dt.date,
    severity: str,
    message: str,
    payload: dict,
    key: str | None = None,
) -> dict[str, Any]:
    return {
        "alert_id": alert_id(rule, subject, key or day.isoformat()),
        "date": day,
        "rule": rule,
        "subject": subject,
        "severity": severity,
        "message": f"{message} (details: {DETAILS[rule]})",
        "payload": json.dumps(payload, default=str, sort_keys=True),
    }


def _usd(x: float | None) -> str:
    return "n/a" if x is None else f"${x:,.4g}" if x < 1 else f"${x:,.2f}"


# ----------------------------------------------------------------------------- rules


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


RULES = {
    "provider_price_move": rule_provider_price_move,
    "market_price_move": rule_market_price_move,
    "availability": rule_availability,
    "new": rule_new,
    "source_health": rule_source_health,
    "serving_cost_move": rule_serving_cost_move,
}


def evaluate_rules(
    frames: dict[str, pl.DataFrame], day: dt.date, config: dict | None = None
) -> pl.DataFrame:
    """Every alert the enabled rules raise for ``day`` (pure)."""
    cfg = alert_config(config)
    rows: list[dict] = []
    for name, fn in RULES.items():
        if cfg["rules"].get(name, {}).get("enabled", True):
            rows.extend(fn(frames, day, cfg))
    schema = {
        "alert_id": pl.Utf8,
        "date": pl.Date,
        "rule": pl.Utf8,
        "subject": pl.Utf8,
        "severity": pl.Utf8,
        "message": pl.Utf8,
        "payload": pl.Utf8,
    }
    frame = pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
    return frame.unique("alert_id", keep="first", maintain_order=True)


# ----------------------------------------------------------------------------- outbox + delivery


def _tables(con) -> dict[str, pl.DataFrame]:
    present = {
        f"{s}.{t}"
        for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
    }
    frames = {}
    for name in (
        "marts.gpu_price_daily",
        "marts.daily_summary",
        "marts.price_changes",
        "marts.model_releases",
        "marts.api_prices_daily",
        "raw.load_log",
        "marts.serving_cost_daily",
    ):
        if name in present:
            frames[name.split(".")[1]] = con.sql(f"select * from {name}").pl()
    return frames


def record(con, alerts: pl.DataFrame, now: dt.datetime) -> int:
    """Insert alerts not in the outbox yet; returns how many were new."""
    con.execute("create schema if not exists marts")
    con.execute(_alerts_ddl(con))
    if alerts.height == 0:
        return 0
    before = con.execute("select count(*) from marts.alerts").fetchone()[0]
    con.register("_new_alerts", alerts.to_arrow())
    # on a lake (no primary key, writers under the pool) the ids already stored are skipped
    # explicitly; the file keeps its key and ON CONFLICT
    skip = (
        "where alert_id not in (select alert_id from marts.alerts)"
        if lake.is_lake_connection(con)
        else "on conflict (alert_id) do nothing"
    )
    con.execute(
        "insert into marts.alerts (alert_id, date, rule, subject, severity, message, payload, "
        "created_at, delivered_at, attempts, last_error, channels_delivered) "
        "select alert_id, date, rule, subject, severity, message, payload, "
        f"?::timestamptz, null, 0, null, '' from _new_alerts {skip}",
        [now],
    )
    con.unregister("_new_alerts")
    return con.execute("select count(*) from marts.alerts").fetchone()[0] - before


def _webhook_url(cfg) -> str:
    return os.environ.get("GPU_TRACKER_WEBHOOK_URL") or cfg["webhook"].get("url") or ""


def _redact(text: str, secrets: list[str]) -> str:
    """Remove secrets -- and for URLs also their path and query, which is where webhook tokens
    live and what HTTP client errors quote -- from a message."""
    parts = []
    for s in secrets:
        if not s:
            continue
        parts.append(s)
        split = urlsplit(s)
        if split.scheme and split.netloc:
            parts.extend(p for p in (split.path, split.query) if p and p != "/")
    for part in sorted(parts, key=len, reverse=True):
        text = text.replace(part, "<redacted>")
    return redact(text)[:500]


def channels(cfg) -> list[str]:
    out = ["log"]
    if _webhook_url(cfg):
        out.append("webhook")
    if cfg["email"].get("host") and cfg["email"].get("to"):
        out.append("email")
    return out


class DeliveryFailed(Exception):
    """The channel did not take the alerts (refused, unreachable, HTTP error, rejected): they
    were not delivered, and sending them again is safe."""


class DeliveryUnknown(Exception):
    """The alerts were sent but no answer came before the deadline (a timeout after sending, a
    connection cut while waiting): they may have arrived. Never re-sent blindly."""


def delivery_key(alert_ids: list[str]) -> str:
    """The idempotency key of one send: the same alerts give the same key, so a receiver that
    dedupes on it (or on each alert's ``alert_id``) ignores a resend."""
    return hashlib.sha256("|".join(sorted(alert_ids)).encode()).hexdigest()[:24]


class _Deadline:
    """A total wall-clock deadline for one delivery. Socket timeouts are per operation: a
    server that drips one byte every few seconds never trips them. At the deadline the
    watchdog shuts the socket down, which ends any blocked read or write at once."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def remaining(self) -> float:
        return max(0.001, self.end - time.monotonic())

    def watch(self, sock: socket.socket | None) -> None:
        if sock is not None:
            self._sockets.append(sock)
        if self.expired:
            self._expire()

    def _expire(self) -> None:
        self.expired = True
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed

    def __enter__(self) -> _Deadline:  # noqa: PYI034 -- a private class, never subclassed
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()


def _why(exc: BaseException, deadline: _Deadline) -> str:
    if deadline.expired:
        return f"no complete answer within the {deadline.seconds:g} s delivery deadline"
    return f"{type(exc).__name__}: {exc}"


def _send_webhook(cfg, alerts: list[dict], key: str) -> None:
    """POST the alerts as one JSON body with an ``Idempotency-Key`` header (also in the body);
    raise DeliveryFailed if the request did not get through or was answered with an error,
    DeliveryUnknown if it was sent but no status line came before the deadline."""
    text = "\n".join(f"[{a['severity']}] {a['message']}" for a in alerts)
    body = {
        "text": f"GPU tracker: {len(alerts)} alert(s)\n{text}",
        "idempotency_key": key,
        "alerts": [
            {k: a[k] for k in ("alert_id", "date", "rule", "subject", "severity", "message")}
            | {"payload": json.loads(a["payload"] or "{}")}
            for a in alerts
        ],
    }
    data = json.dumps(body, default=str).encode()
    url = urlsplit(_webhook_url(cfg))
    per_operation = float(cfg["webhook"].get("timeout_seconds", 10))
    total = float(cfg["webhook"].get("deadline_seconds", 30))
    conn_cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": key,
        "Content-Length": str(len(data)),
    }
    with _Deadline(total) as deadline:
        conn = conn_cls(url.hostname, url.port, timeout=min(per_operation, deadline.remaining()))
        try:
            try:
                conn.connect()
                deadline.watch(conn.sock)
                conn.request("POST", path, body=data, headers=headers)
            except Exception as exc:  # noqa: BLE001 -- nothing (complete) reached the receiver
                raise DeliveryFailed(_why(exc, deadline)) from None
            try:
                status = conn.getresponse().status
            except Exception as exc:  # noqa: BLE001 -- sent: it may have arrived
                raise DeliveryUnknown(f"sent, then {_why(exc, deadline)}") from None
        finally:
            conn.close()
    if status >= 300:
        raise DeliveryFailed(f"webhook answered HTTP {status}")


def _send_email(cfg, alerts: list[dict], key: str) -> None:
    """One message with every alert (``Message-ID`` derived from the idempotency key, so a mail
    system can drop a resend); DeliveryFailed before the message was handed over or when the
    server rejected it, DeliveryUnknown when the connection died or the deadline passed while
    the message was being transferred."""
    e = cfg["email"]
    msg = EmailMessage()
    msg["Subject"] = f"GPU tracker: {len(alerts)} alert(s)"
    msg["From"] = e.get("from_addr") or e.get("username") or "gpu-tracker@localhost"
    msg["To"] = ", ".join(e["to"])
    msg["Message-ID"] = f"<{key}@gpu-tracker>"
    msg.set_content(
        "\n\n".join(f"[{a['severity']}] {a['rule']} {a['subject']}\n{a['message']}" for a in alerts)
    )
    per_operation = float(e.get("timeout_seconds", 10))
    password = os.environ.get("GPU_TRACKER_SMTP_PASSWORD", "")
    if e.get("username"):
        # an SMTP server that echoes the AUTH line quotes base64(user/password): redact those too
        register_login(str(e["username"]), "GPU_TRACKER_SMTP_PASSWORD")
    smtp_cls = smtplib.SMTP_SSL if e.get("ssl") else smtplib.SMTP
    with _Deadline(float(e.get("deadline_seconds", 60))) as deadline:
        smtp = None
        try:
            smtp = smtp_cls(timeout=min(per_operation, deadline.remaining()))
            smtp.connect(e["host"], int(e["port"]))
            deadline.watch(smtp.sock)
            if e.get("starttls") and not e.get("ssl"):
                smtp.starttls()
                deadline.watch(smtp.sock)
            if e.get("username") and password:
                smtp.login(e["username"], password)
        except Exception as exc:  # noqa: BLE001 -- the message was not handed over
            raise DeliveryFailed(_why(exc, deadline)) from None
        try:
            smtp.send_message(msg)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            raise DeliveryFailed(_why(exc, deadline)) from None
        except smtplib.SMTPResponseException as exc:
            if deadline.expired:
                raise DeliveryUnknown(f"sent, then {_why(exc, deadline)}") from None
            raise DeliveryFailed(_why(exc, deadline)) from None  # the server answered: rejected
        except Exception as exc:  # noqa: BLE001 -- cut during the transfer: it may have arrived
            raise DeliveryUnknown(f"sent, then {_why(exc, deadline)}") from None
        finally:
            try:
                smtp.close()
            except Exception:  # noqa: BLE001,S110 -- closing a dead connection
                pass


_SENDERS = {"webhook": _send_webhook, "email": _send_email}
_PENDING_COLUMNS = [
    "alert_id",
    "date",
    "rule",
    "subject",
    "severity",
    "message",
    "payload",
    "channels_delivered",
    "delivery_unknown",
    "delivery_key",
    "claimed_at",
]


def _csv_set(text: str | None) -> list[str]:
    return [x for x in (text or "").split(",") if x]


def _claim_timeout(cfg) -> dt.timedelta:
    """How long a claim protects alerts being sent: longer than every channel's deadline."""
    total = sum(float(cfg[c].get("deadline_seconds", 60)) for c in ("webhook", "email"))
    return dt.timedelta(seconds=total + 60)


def claim_pending(con, cfg) -> list[dict]:
    """Read the undelivered alerts and claim them (``claimed_at``), in one short write: a
    second deliverer running meanwhile skips them, so nothing is sent twice although the
    sending happens with no lock held. A claim older than every deadline belongs to a
    deliverer that died while sending: its alerts may have gone out, so their undelivered
    webhook/e-mail channels become "unknown" instead of being sent again."""
    con.execute("create schema if not exists marts")
    con.execute(_alerts_ddl(con))
    for column, kind in ALERTS_ADDED_COLUMNS:
        con.execute(f"alter table marts.alerts add column if not exists {column} {kind}")
    now = dt.datetime.now(dt.UTC)
    rows = con.execute(
        f"select {', '.join(_PENDING_COLUMNS)} from marts.alerts where delivered_at is null "
        "and (claimed_at is null or claimed_at < ?) order by date, rule, subject",
        [now - _claim_timeout(cfg)],
    ).fetchall()
    alerts = [dict(zip(_PENDING_COLUMNS, r, strict=True)) for r in rows]
    wanted = channels(cfg)
    for a in alerts:
        if a["claimed_at"] is not None:  # stale: its deliverer died mid-send
            done = _csv_set(a["channels_delivered"])
            a["delivery_unknown"] = ",".join(
                dict.fromkeys(
                    [
                        *_csv_set(a["delivery_unknown"]),
                        *(c for c in wanted if c != "log" and c not in done),
                    ]
                )
            )
        con.execute(
            "update marts.alerts set claimed_at = ?, delivery_unknown = ? where alert_id = ?",
            [now, a["delivery_unknown"] or None, a["alert_id"]],
        )
    return alerts


def send_pending(cfg, alerts: list[dict]) -> dict[str, dict[str, str]]:
    """Send claimed alerts to every configured channel that does not have them -- with no
    warehouse lock held. Returns {alert_id: {channel: "delivered" | "failed: ..." |
    "unknown: ..."}} for the channels attempted.

    Policy for "unknown" (sent, no answer before the deadline): the alert is *not* sent again
    on the next run -- a receiver without deduplication would show it twice. It stays pending
    (``gpu-tracker alerts`` exits 1, ``marts.alerts.delivery_unknown`` names the channel)
    for an operator to check the receiver. With ``[alerts.webhook] resend_unknown = true``
    (for a receiver that dedupes on the ``Idempotency-Key`` header or the alerts' ids) it is
    resent in the same batch with the same key. "failed" alerts are retried on every run."""
    outcomes: dict[str, dict[str, str]] = {a["alert_id"]: {} for a in alerts}
    secrets = [_webhook_url(cfg), os.environ.get("GPU_TRACKER_SMTP_PASSWORD", "")]
    install_log_redaction()  # urllib3/http.client debug output could quote the webhook's token path
    for channel in channels(cfg):
        todo = [a for a in alerts if channel not in _csv_set(a["channels_delivered"])]
        if channel == "log":
            for a in todo:
                log.warning("ALERT %s", a["message"])
                outcomes[a["alert_id"]][channel] = "delivered"
            continue
        fresh = [a for a in todo if channel not in _csv_set(a["delivery_unknown"])]
        batches = [(delivery_key([a["alert_id"] for a in fresh]), fresh)] if fresh else []
        if channel == "webhook" and cfg["webhook"].get("resend_unknown"):
            fresh_ids = {a["alert_id"] for a in fresh}
            unknown = [a for a in todo if a["alert_id"] not in fresh_ids]
            for key in dict.fromkeys(
                a["delivery_key"] or delivery_key([a["alert_id"]]) for a in unknown
            ):
                batches.append(
                    (
                        key,
                        [
                            a
                            for a in unknown
                            if (a["delivery_key"] or delivery_key([a["alert_id"]])) == key
                        ],
                    )
                )
        for key, batch in batches:
            try:
                _SENDERS[channel](cfg, batch, key)
                outcome = "delivered"
            except DeliveryUnknown as exc:
                outcome = f"unknown: {exc}"
            except DeliveryFailed as exc:
                outcome = f"failed: {exc}"
            if outcome != "delivered":
                outcome = (
                    outcome.split(": ", 1)[0] + ": " + _redact(outcome.split(": ", 1)[1], secrets)
                )
                log.error("alert delivery %s", _redact(f"{channel} {outcome}", secrets))
            for a in batch:
                outcomes[a["alert_id"]][channel] = outcome
                if channel == "webhook":
                    a["delivery_key"] = key
    return outcomes


def record_outcomes(
    con, cfg, alerts: list[dict], outcomes: dict[str, dict[str, str]], now: dt.datetime
) -> dict[str, int]:
    """Write what ``send_pending`` did (a short write) and release the claims."""
    wanted = channels(cfg)
    delivered = pending = unknown_n = 0
    for a in alerts:
        done = _csv_set(a["channels_delivered"])
        unknown = _csv_set(a["delivery_unknown"])
        errors = []
        for channel, outcome in outcomes.get(a["alert_id"], {}).items():
            if outcome == "delivered":
                done.append(channel)
                unknown = [c for c in unknown if c != channel]
            elif outcome.startswith("unknown"):
                unknown = [*dict.fromkeys([*unknown, channel])]
                errors.append(f"{channel}: delivery {outcome}")
            else:
                errors.append(f"{channel}: {outcome.removeprefix('failed: ')}")
        for channel in unknown:  # not re-sent this time: keep saying so
            if not any(e.startswith(f"{channel}:") for e in errors):
                errors.append(f"{channel}: delivery unknown (not re-sent, see the delivery policy)")
        done_set = set(done)
        is_done = done_set >= set(wanted)
        con.execute(
            "update marts.alerts set channels_delivered = ?, delivery_unknown = ?, delivery_key = ?, "
            "attempts = attempts + 1, last_error = ?, delivered_at = ?, claimed_at = null "
            "where alert_id = ?",
            [
                ",".join(dict.fromkeys(done)),
                ",".join(unknown) or None,
                a["delivery_key"],
                "; ".join(errors)[:500] or None,
                now if is_done else None,
                a["alert_id"],
            ],
        )
        delivered += is_done
        pending += not is_done
        unknown_n += bool(unknown) and not is_done
    return {
        "pending_before": len(alerts),
        "delivered": delivered,
        "still_pending": pending,
        "unknown": unknown_n,
    }


def deliver(con, cfg, now: dt.datetime) -> dict[str, int]:
    """Send every pending alert to each configured channel that does not have it yet, on one
    connection the caller holds (``evaluate_and_deliver`` instead sends with no lock held)."""
    alerts = claim_pending(con, cfg)
    return record_outcomes(con, cfg, alerts, send_pending(cfg, alerts), now)


@dataclass
class AlertRunResult:
    day: dt.date
    evaluated: int
    new: int
    delivered: int
    still_pending: int
    lines: list[str] = field(default_factory=list)
    unknown: int = 0  # of still_pending: sent, but whether they arrived is unknown


def _deliver_outside_the_lock(
    db_path: Path, cfg, now: dt.datetime, claimed: list[dict]
) -> dict[str, int]:
    """Send (no lock held, each channel within its deadline), then record under a short write."""
    from pipelines.lib import warehouse

    outcomes = send_pending(cfg, claimed)
    with warehouse.writer(db_path) as con:
        return record_outcomes(con, cfg, claimed, outcomes, now)


def evaluate_and_deliver(
    db_path: Path, day: dt.date | None, config: dict | None = None, now: dt.datetime | None = None
) -> AlertRunResult:
    """Evaluate every rule for ``day`` (default: newest date in marts.gpu_price_daily), record new
    alerts in the outbox and claim everything pending under the warehouse writer lock; then
    deliver with no lock held (a slow receiver cannot keep queries and model builds out) and
    record the outcomes under a second short write."""
    from pipelines.lib import warehouse

    cfg = alert_config(config)
    now = now or dt.datetime.now(dt.UTC)
    with warehouse.writer(db_path) as con:
        frames = _tables(con)
        if day is None:
            prices = frames.get("gpu_price_daily")
            if prices is None or prices.height == 0:
                raise ValueError("no marts.gpu_price_daily rows: nothing to evaluate (pass --date)")
            day = prices["date"].max()
        alerts = evaluate_rules(frames, day, cfg)
        new = record(con, alerts, now)
        claimed = claim_pending(con, cfg)
    stats = _deliver_outside_the_lock(db_path, cfg, now, claimed)
    lines = [f"[{r['severity']}] {r['message']}" for r in alerts.iter_rows(named=True)]
    return AlertRunResult(
        day, alerts.height, new, stats["delivered"], stats["still_pending"], lines, stats["unknown"]
    )


def alert_failed_run(
    db_path: Path,
    run_id: str,
    job_name: str,
    message: str,
    day: dt.date,
    config: dict | None = None,
) -> AlertRunResult:
    """Record and deliver a ``run_failure`` alert (the Dagster run-failure sensor)."""
    from pipelines.lib import warehouse

    cfg = alert_config(config)
    now = dt.datetime.now(dt.UTC)
    alert = _alert(
        "run_failure",
        f"run/{job_name}",
        day,
        "critical",
        f"Dagster run {run_id[:8]} of {job_name} failed: {message[:300]}",
        {"run_id": run_id},
        key=run_id,
    )
    with warehouse.writer(db_path) as con:
        new = record(con, pl.DataFrame([alert]).cast({"date": pl.Date}), now)
        claimed = claim_pending(con, cfg)
    stats = _deliver_outside_the_lock(db_path, cfg, now, claimed)
    return AlertRunResult(
        day,
        1,
        new,
        stats["delivered"],
        stats["still_pending"],
        [alert["message"]],
        stats["unknown"],
    )
