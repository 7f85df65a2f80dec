"""Crash safety (SIGKILL in the middle of a load) and backup / restore of the warehouse."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.cli import main as cli
from pipelines.lib import warehouse
from pipelines.lib.offers import OFFER_SCHEMA, QUARANTINE_SCHEMA

DAY = dt.date(2026, 6, 1)
REPO = Path(__file__).resolve().parents[2]


def _offers(n: int, price: float) -> pl.DataFrame:
    rows = [
        {c: None for c in OFFER_SCHEMA}
        | {
            "date": DAY,
            "source": "crashtest",
            "provider": "lambda",
            "provider_tier": "neocloud",
            "gpu_model": "H100-SXM-80GB",
            "gpu_family": "H100",
            "instance_type": f"i{i}",
            "pricing": "on_demand",
            "price_basis": "per_gpu",
            "currency": "USD",
            "price_usd_per_gpu_hour": price,
            "n_offers": 1,
            "gpu_variant_assumed": False,
        }
        for i in range(n)
    ]
    return pl.DataFrame(rows, schema=OFFER_SCHEMA)


def _rows(db):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "select count(*), min(price_usd_per_gpu_hour), max(price_usd_per_gpu_hour) "
            "from raw.gpu_offers where source = 'crashtest'"
        ).fetchone()
    finally:
        con.close()


CHILD = textwrap.dedent("""
    import sys, time, datetime as dt
    from pathlib import Path
    import polars as pl
    from pipelines.lib import warehouse
    from pipelines.lib.warehouse import writes   # where load_source_day looks record_load up
    sys.path.insert(0, {tests!r})
    from reliability.test_crash_and_backup import _offers, DAY
    from pipelines.lib.offers import QUARANTINE_SCHEMA
    real = writes.record_load
    def record_then_hang(con, **kw):      # inside the load's transaction, after delete + insert
        real(con, **kw)
        Path({flag!r}).write_text("in transaction")
        time.sleep(60)
    writes.record_load = record_then_hang
    warehouse.load_source_day(Path({db!r}), source="crashtest", days=[DAY], offers=_offers(500, 9.99),
                              quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA), payloads=["p"], mode="live")
""")


def test_sigkill_mid_load_loses_nothing_and_the_rerun_completes(tmp_path):
    db = tmp_path / "w.duckdb"
    warehouse.load_source_day(
        db,
        source="crashtest",
        days=[DAY],
        offers=_offers(100, 2.50),
        quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
        payloads=["p"],
        mode="live",
    )
    assert _rows(db) == (100, 2.50, 2.50)
    flag = tmp_path / "flag"
    tests_dir = os.path.dirname(os.path.dirname(__file__))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(tests=tests_dir, flag=str(flag), db=str(db))]
    )
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert child.poll() is None, "the loading process died before reaching the transaction"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child.send_signal(
        signal.SIGKILL
    )  # mid-transaction: old rows deleted, new inserted, not committed
    child.wait()
    # the warehouse is consistent: the previous partition, exactly, no duplicates, no half write
    assert _rows(db) == (100, 2.50, 2.50)
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute(
        "select count(*) from raw.load_log where source = 'crashtest'"
    ).fetchone() == (1,)
    con.close()
    # the re-run is not blocked by the dead writer's lock and completes
    start = time.monotonic()
    warehouse.load_source_day(
        db,
        source="crashtest",
        days=[DAY],
        offers=_offers(500, 9.99),
        quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
        payloads=["p"],
        mode="live",
    )
    assert time.monotonic() - start < 30
    assert _rows(db) == (500, 9.99, 9.99)


def test_backup_and_restore_round_trip(tracker_env, tmp_path, capsys):
    db = tracker_env / "gpu_market.duckdb"
    warehouse.load_source_day(
        db,
        source="crashtest",
        days=[DAY],
        offers=_offers(100, 2.50),
        quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
        payloads=["p"],
        mode="live",
    )
    assert cli(["backup", "--out", str(tmp_path / "bk")]) == 0
    assert "backup ok" in capsys.readouterr().out
    # damage: a later bad load replaces the partition
    warehouse.load_source_day(
        db,
        source="crashtest",
        days=[DAY],
        offers=_offers(3, 0.01),
        quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
        payloads=["p"],
        mode="live",
    )
    assert _rows(db) == (3, 0.01, 0.01)
    assert cli(["restore", str(tmp_path / "bk")]) == 0
    assert "rows verified" in capsys.readouterr().out
    assert _rows(db) == (100, 2.50, 2.50)


def test_restore_refuses_a_corrupt_backup(tracker_env, tmp_path, capsys):
    db = tracker_env / "gpu_market.duckdb"
    warehouse.load_source_day(
        db,
        source="crashtest",
        days=[DAY],
        offers=_offers(10, 2.50),
        quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
        payloads=["p"],
        mode="live",
    )
    assert cli(["backup", "--out", str(tmp_path / "bk")]) == 0
    current = (tmp_path / "bk" / "CURRENT").read_text().strip()  # each backup is a new folder
    with open(tmp_path / "bk" / current / "gpu_market.duckdb", "r+b") as fh:
        fh.seek(5000)
        fh.write(b"\\x00garbage\\x00")
    assert cli(["restore", str(tmp_path / "bk")]) == 2
    assert "sha256 does not match" in capsys.readouterr().err
    assert _rows(db) == (10, 2.50, 2.50)  # the warehouse was not touched


@pytest.mark.parametrize(
    "statement",
    [
        "delete from raw.gpu_offers",
        "drop table raw.load_log",
        "create table marts.x as select 1",
        "copy raw.gpu_offers to '/tmp/x.csv'",
    ],
)
def test_sql_command_refuses_writes(tracker_env, statement, capsys):
    db = tracker_env / "gpu_market.duckdb"
    warehouse.load_source_day(
        db,
        source="crashtest",
        days=[DAY],
        offers=_offers(1, 2.5),
        quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
        payloads=["p"],
        mode="live",
    )
    assert cli(["sql", statement]) == 2
    assert _rows(db) == (1, 2.5, 2.5)


def test_sql_command_cannot_reenable_file_access(tracker_env, tmp_path, capsys):
    db = tracker_env / "gpu_market.duckdb"
    warehouse.load_source_day(
        db,
        source="crashtest",
        days=[DAY],
        offers=_offers(1, 2.5),
        quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
        payloads=["p"],
        mode="live",
    )
    assert cli(["sql", "set enable_external_access = true"]) == 2
    assert cli(["sql", f"select * from read_csv('{tmp_path}/nope.csv')"]) == 2
    assert cli(["sql", "select count(*) as n from raw.gpu_offers", "--format", "csv"]) == 0
    assert capsys.readouterr().out.endswith("n\n1\n")


def test_sql_command_reports_run_time_errors_and_a_missing_warehouse_in_one_line(
    tracker_env, capsys
):
    assert cli(["sql", "select 1"]) == 2  # no warehouse yet
    assert "does not exist yet" in capsys.readouterr().err
    db = tracker_env / "gpu_market.duckdb"
    warehouse.load_source_day(
        db,
        source="crashtest",
        days=[DAY],
        offers=_offers(1, 2.5),
        quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
        payloads=["p"],
        mode="live",
    )
    # fails only when the result is fetched, not when the query is bound
    assert cli(["sql", "select cast(instance_type as integer) from raw.gpu_offers"]) == 2
    err = capsys.readouterr().err
    assert "query failed: Conversion Error" in err and "Traceback" not in err


def test_writer_waits_for_a_reader_holding_the_file(tmp_path):
    db = tmp_path / "w.duckdb"
    warehouse.load_source_day(
        db,
        source="crashtest",
        days=[DAY],
        offers=_offers(5, 2.5),
        quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
        payloads=["p"],
        mode="live",
    )
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import duckdb, time
        con = duckdb.connect({str(db)!r}, read_only=True)
        print("open", flush=True)
        time.sleep(2)
        con.close()
    """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout.readline().strip() == "open"
    start = time.monotonic()
    warehouse.load_source_day(
        db,
        source="crashtest",
        days=[DAY],
        offers=_offers(7, 3.0),
        quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
        payloads=["p"],
        mode="live",
    )
    waited = time.monotonic() - start
    reader.wait()
    assert waited > 0.5  # it waited for the reader instead of failing
    assert _rows(db) == (7, 3.0, 3.0)


def _hold_read_only(db, seconds: float) -> subprocess.Popen:
    """Another process (a notebook, a dashboard) holding the file open read-only."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import duckdb, time
        con = duckdb.connect({str(db)!r}, read_only=True)
        print("open", flush=True)
        time.sleep({seconds})
        con.close()
    """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "open"
    return proc


def test_backup_and_dbt_like_build_wait_for_a_reader_instead_of_failing(tmp_path):
    from dbt_like.__main__ import main as dbt_like_main
    from pipelines.lib import backup

    db = tmp_path / "w.duckdb"
    offers = _offers(5, 2.5).with_columns(
        pl.col("price_usd_per_gpu_hour").alias("price_min_usd_per_gpu_hour"),
        pl.col("price_usd_per_gpu_hour").alias("price_max_usd_per_gpu_hour"),
        pl.lit("H100 SXM").alias("gpu_name_raw"),
        pl.lit(1, dtype=pl.Int32).alias("gpu_count"),
    )
    warehouse.load_source_day(
        db,
        source="crashtest",
        days=[DAY],
        offers=offers,
        quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
        payloads=["p"],
        mode="live",
    )
    holder = _hold_read_only(db, 1.5)
    start = time.monotonic()
    manifest = backup.backup(db, tmp_path / "bk")  # its checkpoint needs the file read-write
    waited_backup = time.monotonic() - start
    holder.wait()
    assert manifest["tables"]["raw.gpu_offers"] == 5

    holder = _hold_read_only(db, 1.5)
    start = time.monotonic()
    rc = dbt_like_main(["--project-dir", str(REPO / "sql"), "--db", str(db), "build"])
    waited_build = time.monotonic() - start
    holder.wait()
    assert rc == 0
    assert waited_backup > 0.5 and waited_build > 0.5  # both waited for the reader, neither failed
    with warehouse.reader(db) as con:
        assert con.execute("select count(*) from marts.gpu_price_daily").fetchone()[0] == 1
