"""Alert settings and the shape of one alert: the default ``[alerts]`` config, its deep merge
with the config file, the alert id (a hash of rule, subject and date or week) and the row
every rule returns. Pure: no warehouse, no network."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from typing import Any

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
