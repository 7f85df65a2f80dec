"""``gpu-tracker sql`` cannot change any file (issue #10 item 1), is bounded in time and
memory (item 11), and writes valid CSV/JSON or one clear line (item 14).

The warehouse holds the real Lambda v8 SkyPilot catalog (22 offers; 8x H100 SXM is 3.99 USD
per GPU-hour), plus one committed row that lives only in the WAL, so an attack that
truncates or replaces the WAL shows as a lost row as well as a changed hash."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.cli import main as cli
from pipelines.lib import sql_console, warehouse
from pipelines.lib.offers import normalise_offers
from pipelines.lib.sources import skypilot_catalog as sky

DAY = dt.date(2026, 5, 24)
LAMBDA = "skypilot_catalog/lambda/v8_0f40703_us-east-1.csv"


def _files(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (the warehouse, its WAL, locks, everything)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def lambda_db(tracker_env, shared_data) -> Path:
    db = tracker_env / "gpu_market.duckdb"
    records = sky.parse("lambda.csv", (shared_data / LAMBDA).read_bytes())
    offers, quarantine = normalise_offers(records, source="skypilot_catalog", day=DAY)
    warehouse.load_source_day(
        db,
        source="skypilot_catalog",
        days=[DAY],
        offers=offers,
        quarantine=quarantine,
        payloads=["lambda.csv"],
        mode="archive",
    )
    # one committed row left in the WAL only (no checkpoint on close)
    con = duckdb.connect(str(db))
    con.execute("SET checkpoint_threshold = '1TB'")
    con.execute("PRAGMA disable_checkpoint_on_shutdown")
    con.execute("create table marts.wal_only as select 42 as answer")
    con.close()
    assert db.with_name(db.name + ".wal").stat().st_size > 0
    return db


def _sql(args: list[str], capsys) -> tuple[int, str, str]:
    rc = cli(["sql", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_the_fixture_is_the_real_catalog_and_the_wal_row(lambda_db, capsys):
    rc, out, _ = _sql(
        [
            (
                "select count(*) as n, max(price_usd_per_gpu_hour) filter "
                "(instance_type = 'gpu_8x_h100_sxm5' and pricing = 'on_demand') as h100 "
                "from raw.gpu_offers"
            ),
            "--format",
            "csv",
        ],
        capsys,
    )
    assert (rc, out) == (0, "n,h100\n22,3.99\n")
    rc, out, _ = _sql(["select answer from marts.wal_only", "--format", "csv"], capsys)
    assert (rc, out) == (0, "answer\n42\n")


def _own_paths(db: Path) -> list[str]:
    return [str(db)] + [str(db) + suffix for suffix in (".wal", ".wal.recovery", ".wal.checkpoint")]


ATTACKS = [
    "copy (select 'pwned' as x) to '{path}' (format csv, use_tmp_file false)",
    "copy (select 'pwned' as x) to '{path}'",
    "copy raw.gpu_offers to '{path}' (format parquet)",
    "explain analyze copy (select 'pwned' as x) to '{path}' (format csv, use_tmp_file false)",
    "select 1; copy (select 'pwned' as x) to '{path}' (format csv, use_tmp_file false)",
    "export database '{path}'",
    "attach '{path}' as again",
    "attach '{path}.other' as fresh",
    "select size, content from read_blob('{path}')",
    "select content from read_text('{path}')",
    "select * from read_csv('{path}')",
    "select * from read_parquet('{path}')",
    "select * from glob('{path}*')",
    "select * from query('copy (select 1) to ''{path}''')",
]
STATEMENTS = [
    "checkpoint",
    "force checkpoint",
    "call checkpoint()",
    "vacuum",
    "analyze",
    "set enable_external_access = true",
    "reset lock_configuration",
    "set disabled_filesystems = ''",
    "pragma memory_limit = '100GB'",
    "use memory",
    "install httpfs",
    "load httpfs",
    "begin transaction",
    "detach memory",
    "create table marts.x as select 1",
    "insert into raw.load_log (source) values ('x')",
    "update raw.gpu_offers set price_usd_per_gpu_hour = 0",
    "delete from raw.gpu_offers",
    "drop table raw.load_log",
    "create macro m() as 1",
    "prepare p as select 1",
    "set variable x = 1",
    "pivot raw.gpu_offers on provider",
]


@pytest.mark.parametrize("suffix", ["", ".wal", ".wal.recovery", ".wal.checkpoint"])
@pytest.mark.parametrize("attack", ATTACKS)
def test_no_statement_can_touch_the_databases_own_files(lambda_db, attack, suffix, capsys):
    before = _files(lambda_db.parent)
    rc, out, err = _sql([attack.format(path=str(lambda_db) + suffix)], capsys)
    assert rc == 2, out
    assert err.count("\n") == 1 and "Traceback" not in err and "pwned" not in out
    assert err.startswith("gpu-tracker: ") and ("refused" in err or "query failed" in err)
    assert _files(lambda_db.parent) == before
    rc, out, _ = _sql(
        [
            (
                "select (select count(*) from raw.gpu_offers) as n, "
                "(select answer from marts.wal_only) as a"
            ),
            "--format",
            "csv",
        ],
        capsys,
    )
    assert (rc, out) == (0, "n,a\n22,42\n")


@pytest.mark.parametrize("statement", STATEMENTS)
def test_only_one_read_only_query_is_accepted(lambda_db, statement, capsys):
    before = _files(lambda_db.parent)
    rc, _, err = _sql([statement], capsys)
    assert rc == 2 and err.count("\n") == 1 and "refused" in err, err
    assert _files(lambda_db.parent) == before


@pytest.mark.parametrize(
    "query",
    [
        "select count(*) as n from raw.gpu_offers",
        "with o as (select * from raw.gpu_offers) select count(*) as n from o",
        "select 22 as n union select count(*) from raw.gpu_offers",
        "from raw.gpu_offers select count(*) as n",
        (
            "select count(*) as n from (describe raw.gpu_offers) where column_name = 'price_usd_per_gpu_hour'"
            " union all select 21 + count(*) from (summarize raw.gpu_offers) where column_name = 'source'"
        ),
    ],
)
def test_read_forms_are_accepted(lambda_db, query, capsys):
    rc, out, _ = _sql([query, "--format", "csv"], capsys)
    assert rc == 0
    assert set(out.splitlines()[1:]) == {"22"} or out.splitlines()[1:] == ["1", "22"], out


def test_describe_show_and_explain_run(lambda_db, capsys):
    for query in (
        "describe raw.gpu_offers",
        "show all tables",
        "explain select * from raw.gpu_offers",
        "explain analyze select count(*) from raw.gpu_offers",
    ):
        rc, out, err = _sql([query, "--format", "csv"], capsys)
        assert rc == 0, err
        assert out.count("\n") >= 2


def test_the_connection_itself_cannot_write_even_if_the_check_were_bypassed(lambda_db):
    """Layer 2 alone: statements the check would refuse, run straight on the sandboxed
    connection, still change nothing."""
    before = _files(lambda_db.parent)
    with sql_console.open_sandboxed(lambda_db) as con:
        for path in _own_paths(lambda_db):
            with pytest.raises(duckdb.Error):
                con.execute(
                    f"copy (select 'pwned' as x) to '{path}' (format csv, use_tmp_file false)"
                )
            with pytest.raises(duckdb.Error):
                con.execute(f"select * from read_blob('{path}')").fetchall()
        for setting in (
            "set disabled_filesystems = ''",
            "set enable_external_access = true",
            "set memory_limit = '100GB'",
            "reset lock_configuration",
        ):
            with pytest.raises(duckdb.Error):
                con.execute(setting)
        with contextlib.suppress(duckdb.Error):  # a no-op on a read-only file: changes nothing
            con.execute("checkpoint")
        assert (
            con.execute("select current_setting('memory_limit')")
            .fetchone()[0]
            .startswith("1.8 GiB")
        )
        assert con.execute("select count(*) from raw.gpu_offers").fetchone() == (22,)
    assert _files(lambda_db.parent) == before


def test_statement_timeout_interrupts_a_runaway_query(lambda_db, capsys, monkeypatch):
    started = time.monotonic()
    rc, _, err = _sql(
        ["select count(*) from range(1000000000) a, range(1000000000) b", "--timeout", "1"], capsys
    )
    assert rc == 2 and time.monotonic() - started < 15
    assert "query timed out after 1 s" in err and err.count("\n") == 1
    monkeypatch.setenv("GPU_TRACKER_SQL_TIMEOUT_SECONDS", "0.5")
    assert sql_console.timeout_seconds() == 0.5
    rc, _, err = _sql(["select count(*) from range(1000000000) a, range(1000000000) b"], capsys)
    assert rc == 2 and "timed out after 0.5 s" in err
    monkeypatch.setenv("GPU_TRACKER_SQL_TIMEOUT_SECONDS", "soon")
    rc, _, err = _sql(["select 1"], capsys)
    assert rc == 2 and "not a number of seconds" in err


def test_memory_is_capped_by_default_and_configurable(lambda_db, capsys, monkeypatch):
    monkeypatch.delenv("GPU_TRACKER_DUCKDB_MEMORY_LIMIT", raising=False)
    rc, out, _ = _sql(["select current_setting('memory_limit') as m", "--format", "csv"], capsys)
    assert (rc, out) == (0, "m\n1.8 GiB\n")  # 2GB, as DuckDB prints it
    monkeypatch.setenv("GPU_TRACKER_DUCKDB_MEMORY_LIMIT", "64MB")
    rc, out, _ = _sql(["select current_setting('memory_limit') as m", "--format", "csv"], capsys)
    assert (rc, out) == (0, "m\n61.0 MiB\n")
    # beyond the cap the query fails in one line (no spilling next to the warehouse)
    before = _files(lambda_db.parent)
    rc, _, err = _sql(
        [("select count(distinct s) from (select md5(i::varchar) s from range(20000000) t(i))")],
        capsys,
    )
    assert rc == 2 and err.count("\n") == 1 and "memory limit (64MB" in err, err
    assert _files(lambda_db.parent) == before


NESTED = (
    "select interval 1 month + interval 2 day as iv, [1, 2] as l, {'a': 1, 'b': 'x'} as s, "
    "map {'k': 1} as m, [1, 2]::int[2] as arr, union_value(n := 1) as u, '\\x01'::blob as b, "
    "'12:00:00+01'::timetz as tz, '101'::bit as bits, 'nan'::double as nan, "
    "'inf'::double as inf, '-inf'::float as ninf, [1.5, 'nan'::double] as lnan, -2.5 as neg"
)


def test_interval_and_nested_values_in_csv(lambda_db, capsys):
    rc, out, err = _sql([NESTED, "--format", "csv"], capsys)
    assert rc == 0, err
    frame = pl.read_csv(out.encode(), infer_schema=False)
    assert frame.row(0, named=True) == {
        "iv": "1 month 2 days",
        "l": "[1,2]",
        "s": '{"a":1,"b":"x"}',
        "m": '{"k":1}',
        "arr": "[1,2]",
        "u": '{"n":1}',
        "b": "\\x01",
        "tz": "12:00:00+01",
        "bits": "101",
        "nan": "NaN",
        "inf": "inf",
        "ninf": "-inf",
        "lnan": "[1.5,NaN]",
        "neg": "-2.5",
    }


def test_nan_infinity_and_nested_values_in_json(lambda_db, capsys):
    rc, out, err = _sql([NESTED, "--format", "json"], capsys)
    assert rc == 0, err
    rows = json.loads(out, parse_constant=lambda c: pytest.fail(f"invalid JSON constant {c}"))
    assert rows == [
        {
            "iv": "1 month 2 days",
            "l": [1, 2],
            "s": {"a": 1, "b": "x"},
            "m": {"k": 1},
            "arr": [1, 2],
            "u": {"n": 1},
            "b": "\\x01",
            "tz": "12:00:00+01",
            "bits": "101",
            "nan": None,
            "inf": None,
            "ninf": None,
            "lnan": [1.5, None],
            "neg": -2.5,
        }
    ]


def test_table_format_and_repeated_column_names(lambda_db, capsys):
    rc, out, _ = _sql([NESTED], capsys)
    assert rc == 0 and "1 month 2 days" in out
    rc, out, _ = _sql(["select 1 as a, interval 3 hour as a", "--format", "csv"], capsys)
    assert rc == 0 and out.splitlines()[1] == "1,03:00:00"


def test_missing_held_and_damaged_warehouses_each_say_so(tracker_env, capsys, monkeypatch):
    db = tracker_env / "gpu_market.duckdb"
    rc, _, err = _sql(["select 1"], capsys)
    assert rc == 2 and "does not exist yet" in err and err.count("\n") == 1
    db.write_bytes(b"not a database " * 400)
    rc, _, err = _sql(["select 1"], capsys)
    assert rc == 2 and "corrupt or not a DuckDB file" in err and "is busy" not in err, err
    db.unlink()
    with warehouse.writer(db) as con:  # a real warehouse (schema only) to damage
        con.execute("checkpoint")
    data = db.read_bytes()
    db.write_bytes(data[:5000])  # truncated
    rc, _, err = _sql(["select 1"], capsys)
    assert rc == 2 and "corrupt or not a DuckDB file" in err and err.count("\n") == 1, err
    db.write_bytes(data)
    # a writer (another process) holding the file past the wait: "busy", not "corrupt"
    monkeypatch.setattr(sql_console, "open_sandboxed", _short_wait(sql_console.open_sandboxed))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import duckdb, time
        con = duckdb.connect({str(db)!r})
        print("open", flush=True)
        time.sleep(5)
    """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        rc, _, err = _sql(["select 1"], capsys)
    finally:
        holder.kill()
        holder.wait()
    assert rc == 2 and "is busy, try again" in err and "corrupt" not in err, err


def _short_wait(real):
    def opener(db_path, wait_seconds=60):
        return real(db_path, wait_seconds=0.3)

    return opener


def test_a_timer_that_fires_after_the_result_is_harmless(lambda_db):
    # the interrupt of an idle connection must not break the next query or leak threads
    before = threading.active_count()
    out = sql_console.run_query(
        lambda_db, "select count(*) as n from raw.gpu_offers", "csv", timeout=0.05
    )
    time.sleep(0.2)
    assert out == "n\n22\n"
    assert threading.active_count() <= before
