"""The alert runs: evaluate the rules and record new alerts, claim the pending ones under a
short warehouse write, deliver with no lock held, record the outcomes under a second short
write (``evaluate_and_deliver``); the same for one failed Dagster run (``alert_failed_run``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pipelines.lib.alerts.channels import send_pending
from pipelines.lib.alerts.config import _alert, alert_config
from pipelines.lib.alerts.outbox import _tables, claim_pending, record, record_outcomes
from pipelines.lib.alerts.rules import evaluate_rules


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
