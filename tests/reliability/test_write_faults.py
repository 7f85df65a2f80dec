"""Warehouse writes that cannot happen (issue #10 item 14, run/load parts): disk full, a
read-only warehouse, a reader that keeps the file open. Each gives one line that says so,
a non-zero exit, and the previous partition intact.

Disk full is real, not mocked: DuckDB's write-ahead log ``<db>.wal`` is made a symlink to
``/dev/full``, where every write fails with ENOSPC from the kernel -- exactly what a full disk
gives (``Could not write file ...wal: No space left on device`` at COMMIT). Before the fix the
ROLLBACK after it raised ``cannot rollback - no transaction is active`` and hid the cause.
A read-only warehouse is a file this process may not write (as root, whom permissions do
not stop, the writer runs as user ``nobody``).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.cli import main as cli
from pipelines.lib import warehouse
from pipelines.lib.offers import OFFER_SCHEMA, QUARANTINE_SCHEMA

REPO = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 6, 1)
OBS = "price_history/cherielilili_gpu_pricing_tracker/observations_2026-02-11_to_2026-06-15.csv"


def _offers(n: int, price: float) -> pl.DataFrame:
    rows = [
        {c: None for c in OFFER_SCHEMA}
        | {
            "date": DAY,
            "source": "faulttest",
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


def _load(db: Path, n: int, price: float) -> None:
    warehouse.load_source_day(
        db,
        source="faulttest",
        days=[DAY],
        offers=_offers(n, price),
        quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
        payloads=["p"],
        mode="live",
    )


def _state(db: Path):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return (
            con.execute(
                "select count(*), min(price_usd_per_gpu_hour), max(price_usd_per_gpu_hour) "
                "from raw.gpu_offers where source = 'faulttest'"
            ).fetchone(),
            con.execute("select count(*) from raw.load_log where source = 'faulttest'").fetchone()[
                0
            ],
        )
    finally:
        con.close()


@pytest.fixture
def full_disk():
    """Make ``<db>.wal`` a file on a full device for the duration of a ``with``."""

    class _Full:
        def __init__(self):
            self.links: list[Path] = []

        def __call__(self, db: Path) -> None:
            wal = db.with_name(db.name + ".wal")
            assert not wal.exists()  # the previous write was checkpointed: no WAL to lose
            wal.symlink_to("/dev/full")
            self.links.append(wal)

        def clear(self) -> None:
            for link in self.links:
                link.unlink(missing_ok=True)

    full = _Full()
    yield full
    full.clear()


def test_disk_full_at_commit_is_one_line_and_keeps_the_previous_partition(tmp_path, full_disk):
    db = tmp_path / "w.duckdb"
    _load(db, 100, 2.50)
    assert _state(db) == ((100, 2.50, 2.50), 1)
    full_disk(db)
    with pytest.raises(warehouse.WarehouseWriteError) as err:
        _load(db, 500, 9.99)
    assert err.value.kind == "disk_full"
    assert str(err.value) == (
        f"warehouse {db}: disk full (No space left on device); nothing was "
        "written, the previous rows are kept -- free space and re-run"
    )
    assert "No space left on device" in str(
        err.value.__cause__
    )  # DuckDB's own error, kept as cause
    full_disk.clear()
    assert _state(db) == ((100, 2.50, 2.50), 1)  # untouched, no half write, no load_log line
    _load(db, 500, 9.99)  # space is back: the re-run completes
    assert _state(db) == ((500, 9.99, 9.99), 2)


def test_disk_full_during_import_is_one_line_exit_2(tracker_env, shared_data, capsys, full_disk):
    db = tracker_env / "gpu_market.duckdb"
    _load(db, 100, 2.50)
    full_disk(db)
    assert cli(["import", str(shared_data / OBS), "--format", "obs-log"]) == 2
    captured = capsys.readouterr()
    errors = [
        line for line in captured.err.splitlines() if not line.startswith("  ")
    ]  # not progress
    assert errors == [
        (
            f"gpu-tracker import: warehouse {db}: disk full (No space left on device); "
            "nothing was written, the previous rows are kept -- free space and re-run"
        )
    ]
    assert captured.out == ""
    full_disk.clear()
    assert _state(db) == ((100, 2.50, 2.50), 1)
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute(
            "select count(*) from raw.gpu_offers where source = 'obs_log'"
        ).fetchone() == (0,)
    finally:
        con.close()


WRITE_AS_NOBODY = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from reliability.test_write_faults import _load  # imported as root: /root/.pyenv is 0700
    from pipelines.lib import warehouse
    if os.geteuid() == 0:  # permissions do not stop root
        os.setgid(65534); os.setuid(65534)
    try:
        _load(Path({db!r}), 500, 9.99)
    except warehouse.WarehouseWriteError as exc:
        print(exc.kind, exc, sep="|")
""")


@pytest.mark.parametrize("lock_writable", [False, True])
def test_read_only_warehouse_is_one_line(lock_writable):
    folder = Path(tempfile.mkdtemp(prefix="ro-warehouse-", dir="/tmp"))  # outside pytest's 0700 tmp
    try:
        os.chmod(folder, 0o755)
        db = folder / "w.duckdb"
        _load(db, 100, 2.50)
        for path in folder.iterdir():
            os.chmod(
                path,
                0o666 if lock_writable and path.suffix in (".lock", ".write-intent") else 0o644,
            )
        done = subprocess.run(
            [sys.executable, "-c", WRITE_AS_NOBODY.format(tests=str(REPO / "tests"), db=str(db))],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd="/",
            env={**os.environ, "PYTHONPATH": str(REPO), "HOME": "/tmp"},
        )
        assert done.returncode == 0, done.stderr[-2000:]
        kind, message = done.stdout.strip().split("|")
        assert kind == "read_only"
        where = db if lock_writable else db.with_name("w.duckdb.lock")
        assert (
            message
            == f"warehouse {db}: not writable ({where}: permission denied); nothing was written"
        )
        assert _state(db) == ((100, 2.50, 2.50), 1)
    finally:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


HOLD_OPEN = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)  # a reader that never lets go
    print("open", flush=True)
    time.sleep(120)
""")


def test_reader_that_keeps_the_file_open_makes_the_load_fail_in_one_line(tmp_path, monkeypatch):
    db = tmp_path / "w.duckdb"
    _load(db, 100, 2.50)
    reader = subprocess.Popen(
        [sys.executable, "-c", HOLD_OPEN, str(db)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert reader.stdout.readline().strip() == "open"
        monkeypatch.setenv("GPU_TRACKER_WRITE_WAIT_SECONDS", "1.5")
        started = time.monotonic()
        with pytest.raises(warehouse.WarehouseWriteError) as err:
            _load(db, 500, 9.99)
        assert time.monotonic() - started < 15
    finally:
        reader.kill()
        reader.wait()
    assert err.value.kind == "busy"
    assert str(err.value) == (
        f"warehouse {db}: another process (PID {reader.pid}) kept the file open "
        "for more than 1.5s (a reader that does not close it?); nothing was "
        "written -- close it and re-run"
    )
    assert _state(db) == ((100, 2.50, 2.50), 1)


def _archive(tmp_path: Path, shared_data: Path) -> Path:
    folder = tmp_path / "archive" / "skypilot_catalog" / "2026-05-24"
    folder.mkdir(parents=True)
    catalog = shared_data / "skypilot_catalog" / "lambda" / "v8_0f40703_us-east-1.csv"
    (folder / "lambda.csv").write_bytes(catalog.read_bytes())
    return tmp_path / "archive"


def _skypilot_rows(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "select count(*) from raw.gpu_offers where source = 'skypilot_catalog' "
            "and date = '2026-05-24'"
        ).fetchone()[0]
    finally:
        con.close()


RUN = ["run", "--date", "2026-05-24", "--from-archive"]


@pytest.mark.slow
def test_disk_full_during_a_run_is_one_line(tracker_env, tmp_path, shared_data, capsys, full_disk):
    archive = _archive(tmp_path, shared_data)
    db = tracker_env / "gpu_market.duckdb"
    assert cli([*RUN, str(archive)]) == 0
    assert _skypilot_rows(db) == 22
    capsys.readouterr()
    full_disk(db)
    assert cli([*RUN, str(archive)]) == 2
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if not line.startswith("  ")]
    assert errors == [
        (
            f"gpu-tracker: warehouse {db}: disk full (No space left on device); nothing was "
            "written, the previous rows are kept -- free space and re-run (1 of 1 source "
            "step(s) failed on it; models not built)"
        )
    ], captured.err
    full_disk.clear()
    assert _skypilot_rows(db) == 22  # the previous partition, intact


@pytest.mark.slow
def test_reader_holding_the_file_fails_the_run_in_seconds_with_a_clear_line(
    tracker_env, tmp_path, shared_data, capsys, monkeypatch
):
    archive = _archive(tmp_path, shared_data)
    db = tracker_env / "gpu_market.duckdb"
    assert cli([*RUN, str(archive)]) == 0
    capsys.readouterr()
    reader = subprocess.Popen(
        [sys.executable, "-c", HOLD_OPEN, str(db)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert reader.stdout.readline().strip() == "open"
        monkeypatch.setenv("GPU_TRACKER_WRITE_WAIT_SECONDS", "1.5")
        started = time.monotonic()
        assert cli([*RUN, str(archive)]) == 1
        elapsed = time.monotonic() - started
    finally:
        reader.kill()
        reader.wait()
    captured = capsys.readouterr()
    busy = (
        f"WarehouseWriteError: warehouse {db}: another process (PID {reader.pid}) kept the file "
        "open for more than 1.5s (a reader that does not close it?); nothing was written -- close "
        "it and re-run"
    )
    assert captured.out.startswith("run with errors: 1 date(s), 1 source(s), 22 offers loaded")
    assert f"  failed: raw__skypilot_catalog: {busy}" in captured.err.splitlines(), captured.err
    assert "Error occurred while executing" not in captured.err and "Traceback" not in captured.err
    assert elapsed < 60
    assert _skypilot_rows(db) == 22
