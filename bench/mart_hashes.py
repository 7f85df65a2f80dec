"""Row hashes of every published table, to prove a refactor changed no number.

    python bench/mart_hashes.py WAREHOUSE.duckdb > hashes.json
    python bench/mart_hashes.py WAREHOUSE.duckdb --compare hashes.json

For every table in the ``marts``, ``staging`` and ``intermediate`` schemas: the row count and
an order-independent digest (md5 of the sorted md5s of each row cast to text). Columns that
record *when* or *by which run* a row was built (``built_at``, ``loaded_at``, ``run_id``, ...)
are left out: they differ between two builds of the same data by design. ``marts.alerts`` keeps
its rule, date, subject and message but not its delivery state or timestamps.

The warehouse is opened read-only. ``--compare`` exits 1 and names every table whose count or
digest differs, or that exists on one side only.
"""

from __future__ import annotations

import argparse
import json
import sys

import duckdb

SCHEMAS = ("staging", "intermediate", "marts")
# When / by whom a row was written: not part of what the row says.
VOLATILE = {
    "built_at",
    "loaded_at",
    "created_at",
    "updated_at",
    "delivered_at",
    "claimed_at",
    "run_id",
    "attempts",
    "last_error",
    "state",
    "delivery_state",
    "first_seen_at",
    "evaluated_at",
    "published_at",
    "_loaded_at",
    "ingested_at",
}


def table_hashes(path: str) -> dict[str, dict]:
    con = duckdb.connect(path, read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in (?, ?, ?) order by 1, 2",
            list(SCHEMAS),
        ).fetchall()
        out: dict[str, dict] = {}
        for schema, name in tables:
            cols = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where table_schema = ? "
                    "and table_name = ? order by ordinal_position",
                    [schema, name],
                ).fetchall()
                if c not in VOLATILE
            ]
            if not cols:
                continue
            row = "row(" + ", ".join(f'"{c}"' for c in cols) + ")::varchar"
            n, digest = con.execute(
                f"select count(*), md5(coalesce(string_agg(h, '' order by h), '')) "
                f'from (select md5({row}) as h from "{schema}"."{name}")'
            ).fetchone()
            out[f"{schema}.{name}"] = {"rows": n, "md5": digest, "columns": cols}
        return out
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("warehouse")
    parser.add_argument("--compare", help="a JSON file written by an earlier run")
    args = parser.parse_args(argv)
    now = table_hashes(args.warehouse)
    if not args.compare:
        json.dump(now, sys.stdout, indent=1, sort_keys=True)
        print()
        return 0
    with open(args.compare) as fh:
        before = json.load(fh)
    bad = 0
    for key in sorted(set(before) | set(now)):
        a, b = before.get(key), now.get(key)
        if a is None or b is None:
            print(f"{key}: only {'after' if a is None else 'before'}")
            bad += 1
        elif (a["rows"], a["md5"]) != (b["rows"], b["md5"]):
            extra = "" if a["columns"] == b["columns"] else " (columns differ)"
            print(
                f"{key}: {a['rows']} rows {a['md5'][:8]} -> {b['rows']} rows {b['md5'][:8]}{extra}"
            )
            bad += 1
    same = len(set(before) & set(now)) - sum(
        1
        for k in set(before) & set(now)
        if (before[k]["rows"], before[k]["md5"]) != (now[k]["rows"], now[k]["md5"])
    )
    print(f"{same} tables identical, {bad} differ")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
