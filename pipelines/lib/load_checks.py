"""The checks of a source load, computed from what is now *in the warehouse*.

One set of checks for every source family; the family decides only which raw tables hold
the source's rows, which columns identify a row, and whether the table has a price:

* ``non_empty``              -- rows were loaded for every date;
* ``prices_positive``        -- (GPU offers) every per-GPU-hour price > 0;
* ``no_duplicate_keys``      -- no two rows share a key within (source, date);
* ``prices_within_bounds``   -- (GPU offers) nothing quarantined as an absurd price;
* ``unmapped_gpu_names``     -- (GPU offers) nothing quarantined as an unknown GPU name;
* ``problem_rows``           -- (market families) no row quarantined;
* ``fetch_and_parse_errors`` -- every payload was fetched and parsed.

``load_stats`` runs the queries for a source's dates on an open connection (a short reader
after the step's writes); ``evaluate`` folds the stats of the dates of a
step into ``{check name: (passed, metadata)}``. Severities and descriptions are Dagster's
business (``pipelines.defs.source_checks``). No Dagster here.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import duckdb

from pipelines.lib import registry
from pipelines.lib.families import FAMILY_SCHEMAS

OFFER_KEY = (
    "date",
    "source",
    "provider",
    "upstream_source",
    "gpu_model",
    "gpu_count",
    "instance_type",
    "region",
    "pricing",
    "reserved_term",
    "price_basis",
    "payload_name",
    "price_usd_per_gpu_hour",
)

# raw table -> columns that identify a row within (source, date)
MARKET_KEYS: dict[str, tuple[str, ...]] = {
    "raw.model_catalog": ("model_id", "payload_name"),
    "raw.api_prices": ("model_id", "payload_name"),
    "raw.sec_facts": (
        "cik",
        "concept",
        "unit",
        "period_start",
        "period_end",
        "accession",
        "fiscal_year",
        "fiscal_period",
        "form",
        "frame",
        "value",
    ),
    "raw.fx_rates": ("currency", "payload_name"),
}


def table_keys(table: str) -> tuple[str, ...]:
    """The key of ``table`` (without date and source). A family table without a declared key
    (``raw.serving_benchmarks``) is keyed by every column: only exact copies are duplicates."""
    if table == "raw.gpu_offers":
        return tuple(c for c in OFFER_KEY if c not in ("date", "source"))
    if table in MARKET_KEYS:
        return MARKET_KEYS[table]
    return tuple(c for c in FAMILY_SCHEMAS[table] if c not in ("date", "source"))


# check name -> the families it applies to (order: as the checks are reported)
CHECK_FAMILIES: dict[str, tuple[str, ...]] = {
    "non_empty": (registry.GPU_OFFERS, registry.MARKET),
    "prices_positive": (registry.GPU_OFFERS,),
    "no_duplicate_keys": (registry.GPU_OFFERS, registry.MARKET),
    "prices_within_bounds": (registry.GPU_OFFERS,),
    "unmapped_gpu_names": (registry.GPU_OFFERS,),
    "problem_rows": (registry.MARKET,),
    "fetch_and_parse_errors": (registry.GPU_OFFERS, registry.MARKET),
}


def check_names(kind: str) -> list[str]:
    """The checks of a source of family ``kind``."""
    return [name for name, kinds in CHECK_FAMILIES.items() if kind in kinds]


@dataclass
class DayStats:
    """What the warehouse holds for one (source, date) after its load."""

    rows: int = 0
    non_positive: int = 0
    duplicate_keys: int = 0
    quarantined: Counter = field(default_factory=Counter)  # reason -> rows
    unknown_names: set[str] = field(default_factory=set)


def load_stats(
    con: duckdb.DuckDBPyConnection, source: str, days: list[dt.date]
) -> dict[dt.date, DayStats]:
    """The check queries for ``source`` on ``days`` (grouped by date), on every raw table the
    source writes and its quarantine rows."""
    stats = {d: DayStats() for d in days}
    where = "WHERE source = ? AND date IN (SELECT unnest(?::DATE[]))"
    params = [source, list(days)]
    for table in registry.spec(source).raw_tables:
        key = ", ".join(table_keys(table))
        price = (
            "count(*) FILTER (WHERE NOT (price_usd_per_gpu_hour > 0))"
            if table == "raw.gpu_offers"
            else "0"
        )
        for day, n, bad in con.execute(
            f"SELECT date, count(*), {price} FROM {table} {where} GROUP BY date", params
        ).fetchall():
            stats[day].rows += n
            stats[day].non_positive += bad
        for day, n in con.execute(
            f"SELECT date, count(*) FROM (SELECT date, {key} FROM {table} {where} "
            "GROUP BY ALL HAVING count(*) > 1) GROUP BY date",
            params,
        ).fetchall():
            stats[day].duplicate_keys += n
    for day, reason, n, names in con.execute(
        f"SELECT date, reason, count(*), list(DISTINCT gpu_name_raw) FROM raw.quarantine {where} "
        "GROUP BY date, reason",
        params,
    ).fetchall():
        stats[day].quarantined[reason] += n
        if reason == "unknown_gpu":
            stats[day].unknown_names.update(x for x in names if x)
    return stats


def evaluate(
    kind: str, stats: dict[dt.date, DayStats], errors: list[str]
) -> dict[str, tuple[bool, dict[str, Any]]]:
    """``{check name: (passed, metadata)}`` over the dates of a step (in ``check_names``
    order)."""
    empty_days = [d.isoformat() for d, s in sorted(stats.items()) if not s.rows]
    quarantined: Counter = Counter()
    for s in stats.values():
        quarantined.update(s.quarantined)
    non_positive = sum(s.non_positive for s in stats.values())
    dupes = sum(s.duplicate_keys for s in stats.values())
    oob = quarantined.get("price_out_of_bounds", 0)
    unknown = quarantined.get("unknown_gpu", 0)
    names = ", ".join(sorted(set().union(*(s.unknown_names for s in stats.values()))))
    problems = sum(quarantined.values())
    results: dict[str, tuple[bool, dict[str, Any]]] = {
        "non_empty": (
            not empty_days,
            {
                "empty_dates": ", ".join(empty_days) or "none",
                "rows": sum(s.rows for s in stats.values()),
            },
        ),
        "prices_positive": (non_positive == 0, {"non_positive_rows": non_positive}),
        "no_duplicate_keys": (dupes == 0, {"duplicate_keys": dupes}),
        "prices_within_bounds": (oob == 0, {"quarantined_out_of_bounds": oob}),
        "unmapped_gpu_names": (
            unknown == 0,
            {"quarantined_unknown_gpu": unknown, "names": names[:1000]},
        ),
        "problem_rows": (
            problems == 0,
            {
                "quarantined": problems,
                "reasons": ", ".join(f"{r}={n}" for r, n in quarantined.most_common()) or "none",
            },
        ),
        "fetch_and_parse_errors": (
            not errors,
            {"errors": len(errors), "first_errors": "\n".join(errors[:5])[:2000]},
        ),
    }
    return {name: results[name] for name in check_names(kind)}
