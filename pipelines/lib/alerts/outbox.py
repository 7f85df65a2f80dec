"""The outbox, ``marts.alerts``: its DDL, reading the marts the rules need, inserting new
alerts (never twice: the id is the key), claiming the pending ones in a short write and
recording what delivery did in another. Every function here runs on a connection the
caller holds under the writer lock; nothing here touches the network."""

from __future__ import annotations

import datetime as dt

import polars as pl

from pipelines.lib import lake
from pipelines.lib.alerts.channels import _csv_set, channels

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


def _alerts_ddl(con) -> str:
    """The outbox DDL; DuckLake has no PRIMARY KEY constraints (``record`` skips known ids
    itself there)."""
    return ALERTS_DDL.replace(" PRIMARY KEY", "") if lake.is_lake_connection(con) else ALERTS_DDL


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
