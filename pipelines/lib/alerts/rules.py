"""The rule registry and ``evaluate_rules``: every enabled rule over the marts' frames for
one date, deduplicated by alert id. Pure; reading the frames is ``outbox._tables``."""

from __future__ import annotations

import datetime as dt

import polars as pl

from pipelines.lib.alerts.config import alert_config
from pipelines.lib.alerts.events import rule_new, rule_serving_cost_move, rule_source_health
from pipelines.lib.alerts.prices import (
    rule_availability,
    rule_market_price_move,
    rule_provider_price_move,
)

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
