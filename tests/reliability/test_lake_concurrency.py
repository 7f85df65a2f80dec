"""Several writer processes replacing different partitions at once, on every backend.

Four writer processes each own three dates of the shared observation log (real offers:
``read_obs_log`` + ``normalise_offers``, read in place from ``../shared/data``) and load them
with ``warehouse.load_source_day``, one transaction per source x date, then load them all
again (a re-run: it must replace, not duplicate). They start together (a start file), so on
the Postgres lake their commits really overlap and DuckLake's conflict check fires; the
retry in ``warehouse.in_transaction`` has to absorb it. Meanwhile this process reads the
per-date row counts in a loop: every date it sees must be absent or complete.

Asserted on each backend: every writer exits 0; every date ends with exactly its offers
(by count and by a hash of every row: nothing lost, nothing duplicated, nothing of another
date); the load log has two ``ok`` lines per date; no reader ever saw part of a partition.
The file backend and the DuckDB-catalog lake serialise writers (the file lock, DuckDB's
single-writer catalog file); the Postgres + S3 lake lets them commit at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest

from pipelines.lib import importers, warehouse
from pipelines.lib.offers import normalise_offers
from tests.integration.test_lake_backend import BACKENDS, OBS_LOG, drop_backend, make_backend

REPO_ROOT = Path(__file__).resolve().parents[2]
N_WRITERS = 4
DATES_PER_WRITER = 3

WRITER = r"""
import datetime as dt, logging, sys, time
from pathlib import Path
import polars as pl
from pipelines.lib import warehouse
from pipelines.lib.config import load_config
from pipelines.lib.offers import QUARANTINE_SCHEMA

logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
frame = pl.read_parquet(sys.argv[1])
start = Path(sys.argv[2])
while not start.exists():
    time.sleep(0.01)
db = load_config().warehouse_path
for round_ in (1, 2):
    for day in sorted(frame["date"].unique().to_list()):
        warehouse.load_source_day(db, source="obs_log", days=[day],
                                  offers=frame.filter(pl.col("date") == day),
                                  quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
                                  payloads=[f"round{round_}.csv"], mode="import")
print("done")
"""


def _row_hashes(frame: pl.DataFrame) -> list[str]:
    cols = sorted(frame.columns)
    return sorted(
        hashlib.sha256(repr(row).encode()).hexdigest() for row in frame.select(cols).iter_rows()
    )


@pytest.fixture(scope="module")
def real_offers(shared_data) -> pl.DataFrame:
    """Offers of the first N_WRITERS x DATES_PER_WRITER dates of the shared observation log."""
    batch = importers.read_obs_log(shared_data / OBS_LOG)
    days = sorted(batch.records_by_date)[: N_WRITERS * DATES_PER_WRITER]
    parts = [normalise_offers(batch.records_by_date[d], source="obs_log", day=d)[0] for d in days]
    return pl.concat(parts)


@pytest.mark.slow  # 10-70 s per backend: four processes start and load 24 partitions
@pytest.mark.parametrize("kind", BACKENDS)
def test_four_writer_processes_lose_and_duplicate_nothing(kind, tmp_path, real_offers, monkeypatch):
    env = make_backend(kind, tmp_path / kind)
    try:
        _run(env, tmp_path, real_offers, monkeypatch)
    finally:
        drop_backend(env)


def _run(env: dict[str, str], tmp_path: Path, offers: pl.DataFrame, monkeypatch) -> None:
    for key in ("GPU_TRACKER_LAKE_DATA", "GPU_TRACKER_ARCHIVE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from pipelines.lib.config import load_config

    db = load_config().warehouse_path
    days = sorted(offers["date"].unique().to_list())
    expected = dict(offers.group_by("date").len().iter_rows())
    assert len(days) == N_WRITERS * DATES_PER_WRITER and min(expected.values()) > 50
    # the schema exists before the writers start, so the readers below have tables to read
    with warehouse.writer(db):
        pass

    start = tmp_path / "start"
    procs = []
    for i in range(N_WRITERS):
        mine = days[i * DATES_PER_WRITER : (i + 1) * DATES_PER_WRITER]
        part = tmp_path / f"writer{i}.parquet"
        offers.filter(pl.col("date").is_in(mine)).write_parquet(part)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", WRITER, str(part), str(start)],
                cwd=REPO_ROOT,
                env={**os.environ},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )

    seen: list[dict[dt.date, int]] = []
    stop = threading.Event()
    read_errors: list[str] = []

    def read_loop() -> None:
        while not stop.is_set():
            try:
                with warehouse.reader(db, wait_seconds=120) as con:
                    seen.append(
                        dict(
                            con.execute(
                                "SELECT date, count(*) FROM raw.gpu_offers GROUP BY date"
                            ).fetchall()
                        )
                    )
            except Exception as exc:  # noqa: BLE001 - reported below, never swallowed
                read_errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.05)

    reader_thread = threading.Thread(target=read_loop, daemon=True)
    reader_thread.start()
    time.sleep(3)  # let every writer import and reach the start line
    started = time.monotonic()
    start.touch()
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            results.append((proc.returncode, out, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        stop.set()
        reader_thread.join(timeout=150)
    elapsed = time.monotonic() - started
    for code, out, err in results:
        assert code == 0 and out.strip() == "done", err[-2000:]
    retries = sum(err.count("lake commit conflict") for _, _, err in results)
    print(
        f"\n{env['GPU_TRACKER_WAREHOUSE'].split(' password')[0][:40]}: {N_WRITERS} writers x "
        f"{DATES_PER_WRITER} dates x 2 rounds in {elapsed:.1f}s, {retries} commit-conflict "
        f"retries, {len(seen)} reads"
    )

    assert not read_errors, read_errors[:3]
    assert seen, "the reader never got in"
    for snapshot in seen:  # a date is absent or complete, never half-loaded
        partial = {d: n for d, n in snapshot.items() if n != expected.get(d)}
        assert not partial, f"reader saw partial partitions {partial}"

    with warehouse.reader(db) as con:
        stored = con.execute("SELECT * FROM raw.gpu_offers ORDER BY ALL").pl()
        log = con.execute(
            "SELECT date, status, count(*) FROM raw.load_log GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    assert stored.height == offers.height
    assert dict(stored.group_by("date").len().iter_rows()) == expected
    assert _row_hashes(stored.select(offers.columns)) == _row_hashes(offers)
    assert log == [(d, "ok", 2) for d in days]


FIRST_ATTACH = r"""
import sys, time
from pathlib import Path
from pipelines.lib import warehouse
from pipelines.lib.config import load_config
while not Path(sys.argv[1]).exists():  # start together: the race is the point
    time.sleep(0.002)
with warehouse.writer(load_config().warehouse_path) as con:
    print(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw'"
                      ).fetchone()[0])
"""


def test_writers_attaching_a_new_postgres_lake_at_once(tmp_path):
    """Three processes open a Postgres lake nobody created yet at the same moment: all of them
    create (or find) the catalog and the raw schema; none fails. Without the bounded retry in
    lake.connect the losers failed with Postgres' duplicate key in pg_type_typname_nsp_index."""
    env = make_backend("lake_pg_s3", tmp_path / "lake")
    try:
        start = tmp_path / "start"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", FIRST_ATTACH, str(start)],
                cwd=REPO_ROOT,
                env={**os.environ, **env},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        time.sleep(4)  # every process imported and waiting
        start.touch()
        results = [
            (p.returncode, out, err) for p in procs for out, err in [p.communicate(timeout=120)]
        ]
        n_raw = len(warehouse.RAW_TABLES) + 1  # + raw.load_log
        for code, out, err in results:
            assert code == 0, err[-1500:]
            assert out.strip() == str(n_raw)
    finally:
        drop_backend(env)
