"""The DuckLake backend (pipelines.lib.lake) against the DuckDB-file backend, on real data.

Backends, each a fresh warehouse per test:

* ``file``          -- the DuckDB file (the default);
* ``lake_local``    -- ``ducklake:<tmp>/catalog.ducklake``, data in a local directory;
* ``lake_pg_s3``    -- ``ducklake:postgres:<fresh database>``, data in a fresh S3 bucket.
  Needs ``GPU_TRACKER_TEST_PG_DSN`` (a libpq string of a server we may CREATE DATABASE on)
  and ``GPU_TRACKER_TEST_S3_ENDPOINT`` (an S3 endpoint accepting any key, e.g. moto_server);
  ``.ci/run`` starts both on loopback. Without them the backend skips and says why.

The data is the shared observation log (``../shared/data/price_history/...``, read in place):
importing it must give exactly the same ``marts.gpu_price_daily`` rows on every backend.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.lib import lake, sql_console, warehouse

REPO_ROOT = Path(__file__).resolve().parents[2]
OBS_LOG = "price_history/cherielilili_gpu_pricing_tracker/observations_2026-02-11_to_2026-06-15.csv"
PG_ENV = "GPU_TRACKER_TEST_PG_DSN"
S3_ENV = "GPU_TRACKER_TEST_S3_ENDPOINT"
BACKENDS = ["file", "lake_local", "lake_pg_s3"]


def services_missing() -> str | None:
    """Why the Postgres + S3 backend cannot run here (None when it can)."""
    missing = [name for name in (PG_ENV, S3_ENV) if not os.environ.get(name)]
    if missing:
        return (
            f"{' and '.join(missing)} not set: the Postgres catalog + S3 data backend needs "
            "a PostgreSQL server and an S3 endpoint (bash .ci/run starts both on loopback)"
        )
    return None


def _pg_admin(sql: str) -> None:
    import psycopg2  # installed with dagster-postgres (dev extra)

    con = psycopg2.connect(os.environ[PG_ENV])
    con.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
    try:
        con.cursor().execute(sql)
    finally:
        con.close()


def make_backend(kind: str, root: Path) -> dict[str, str]:
    """A fresh warehouse of ``kind``: the environment that selects it. Paths derived from the
    warehouse (archive, published, dagster_home) go under ``root`` through a config file."""
    root.mkdir(parents=True, exist_ok=True)
    config = root / "gpu_tracker.toml"
    config.write_text(
        f'[paths]\narchive = "{root / "raw"}"\ndagster_home = "{root / "dagster_home"}"\n'
    )
    home = root / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        "GPU_TRACKER_CONFIG": str(config),
        "DAGSTER_HOME": str(home),
        "GPU_TRACKER_PUBLISHED": str(root / "published"),
    }
    if kind == "file":
        env["GPU_TRACKER_WAREHOUSE"] = str(root / "gpu_market.duckdb")
    elif kind == "lake_local":
        env["GPU_TRACKER_WAREHOUSE"] = f"ducklake:{root / 'catalog.ducklake'}"
        env["GPU_TRACKER_LAKE_DATA"] = str(root / "lake_data")
    elif kind == "lake_pg_s3":
        why = services_missing()
        if why:
            pytest.skip(why)
        import boto3

        name = f"lake_{uuid.uuid4().hex[:12]}"
        _pg_admin(f"CREATE DATABASE {name}")
        bucket = name.replace("_", "-")
        creds = {
            "AWS_ACCESS_KEY_ID": "tracker-test",
            "AWS_SECRET_ACCESS_KEY": "tracker-test",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": os.environ[S3_ENV],
        }
        boto3.client(
            "s3",
            endpoint_url=creds["AWS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="tracker-test",
            aws_secret_access_key="tracker-test",
        ).create_bucket(Bucket=bucket)
        dsn = " ".join(p for p in os.environ[PG_ENV].split() if not p.startswith("dbname="))
        env["GPU_TRACKER_WAREHOUSE"] = f"ducklake:postgres:{dsn} dbname={name}"
        env["GPU_TRACKER_LAKE_DATA"] = f"s3://{bucket}/gpu_market"
        env.update(creds)
    else:
        raise ValueError(kind)
    return env


def drop_backend(env: dict[str, str]) -> None:
    text = env.get("GPU_TRACKER_WAREHOUSE", "")
    if text.startswith("ducklake:postgres:"):
        name = text.rsplit("dbname=", 1)[1].split()[0]
        _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path, monkeypatch):
    """(kind, warehouse path) with the environment selecting that backend."""
    env = make_backend(request.param, tmp_path / request.param)
    for key in (
        "GPU_TRACKER_LAKE_DATA",
        "GPU_TRACKER_ARCHIVE",
        "AWS_ENDPOINT_URL_S3",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from pipelines.lib.config import load_config

    yield request.param, load_config().warehouse_path
    drop_backend(env)


def _offers(source: str, day: dt.date, prices: list[float]) -> pl.DataFrame:
    from pipelines.lib.offers import OFFER_SCHEMA

    rows = []
    for i, price in enumerate(prices):
        row = {name: None for name in OFFER_SCHEMA}
        row.update(
            source=source,
            date=day,
            provider="vastai",
            gpu_model="H100-SXM-80GB",
            price_usd_per_gpu_hour=price,
            payload_name=f"p{i}.json",
        )
        rows.append(row)
    return pl.DataFrame(rows, schema=OFFER_SCHEMA)


# ---------------------------------------------------------------- configuration, extensions


def test_parse_targets(tmp_path, monkeypatch):
    monkeypatch.delenv("GPU_TRACKER_LAKE_DATA", raising=False)
    t = lake.parse("ducklake:cat.ducklake", tmp_path)
    assert (t.catalog, t.data_path, t.anchor) == (
        str(tmp_path / "cat.ducklake"),
        f"{tmp_path / 'cat.ducklake'}.files/",
        tmp_path / "cat.ducklake",
    )
    assert not t.postgres and t.extensions() == ["ducklake"]
    monkeypatch.setenv("GPU_TRACKER_LAKE_DATA", "s3://bucket/prefix")
    p = lake.parse("ducklake:postgres:host=db dbname=lake password=s3cret", tmp_path)
    assert p.postgres and p.s3 and p.data_path == "s3://bucket/prefix/"
    assert p.extensions() == ["ducklake", "postgres_scanner", "httpfs"]
    assert "s3cret" not in p.describe() and "password=***" in p.describe()
    assert p.anchor.parent == tmp_path / "warehouse" and p.anchor.suffix == ".catalog"
    # the anchor leads back to the target in this process (config resolved it)
    assert (
        lake.target_for(
            lake.resolve_warehouse(
                "ducklake:postgres:host=db dbname=lake password=s3cret", tmp_path
            )
        )
        == p
    )
    assert lake.target_for(tmp_path / "plain.duckdb") is None
    assert lake.redact_dsn("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"


@pytest.mark.parametrize(
    "text, message",
    [
        ("ducklake:", "needs a catalog"),
        ("ducklake:postgres:", "needs a libpq connection string"),
        ("ducklake:sqlite:x.db", "is not supported"),
    ],
)
def test_bad_targets_are_one_line(tmp_path, text, message):
    with pytest.raises(lake.LakeError, match=message) as err:
        lake.parse(text, tmp_path, data="")
    assert "\n" not in str(err.value)


def test_postgres_catalog_needs_a_data_path(tmp_path):
    with pytest.raises(lake.LakeError, match="GPU_TRACKER_LAKE_DATA"):
        lake.parse("ducklake:postgres:dbname=x", tmp_path, data="")
    with pytest.raises(lake.LakeError, match="only a directory or s3://"):
        lake.parse("ducklake:postgres:dbname=x", tmp_path, data="gs://bucket/x")


def test_extensions_come_from_the_pinned_wheels():
    for name in lake.EXTENSION_PACKAGES:
        path = lake.extension_path(name)
        assert path.is_file() and path.parent.name == f"v{duckdb.__version__}"


def test_missing_or_mismatched_extension_names_the_package(monkeypatch):
    monkeypatch.setitem(lake.EXTENSION_PACKAGES, "ducklake", "duckdb-extension-nowhere")
    with pytest.raises(lake.LakeError) as err:
        lake.extension_path("ducklake")
    assert str(err.value) == (
        "the DuckLake backend needs the DuckDB extension ducklake: "
        f"pip install duckdb-extension-nowhere=={duckdb.__version__}"
    )
    monkeypatch.undo()
    monkeypatch.setattr(lake.duckdb, "__version__", "9.9.9")
    with pytest.raises(lake.LakeError) as err:
        lake.extension_path("httpfs")
    assert str(err.value).startswith(
        "duckdb-extension-httpfs is built for DuckDB 1.5.5, this is "
        "DuckDB 9.9.9: pip install duckdb-extension-httpfs==9.9.9"
    )


def test_s3_secret_from_the_aws_variables():
    sql = lake.s3_secret_sql(
        {
            "AWS_ACCESS_KEY_ID": "AK",
            "AWS_SECRET_ACCESS_KEY": "S'K",
            "AWS_REGION": "eu-west-1",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        }
    )
    assert sql == (
        "CREATE OR REPLACE TEMPORARY SECRET gpu_tracker_lake_s3 (TYPE s3, KEY_ID 'AK', "
        "SECRET 'S''K', REGION 'eu-west-1', ENDPOINT '127.0.0.1:9000', URL_STYLE 'path', "
        "USE_SSL false)"
    )
    assert (
        lake.s3_secret_sql({}) == "CREATE OR REPLACE TEMPORARY SECRET gpu_tracker_lake_s3 (TYPE s3)"
    )


def test_no_download_at_run_time(tmp_path):
    con = lake.connect(lake.parse("ducklake:c.ducklake", tmp_path, data=""), read_only=False)
    try:
        settings = dict(
            con.execute(
                "SELECT name, value FROM duckdb_settings() WHERE name IN "
                "('autoinstall_known_extensions', 'autoload_known_extensions')"
            ).fetchall()
        )
        assert settings == {
            "autoinstall_known_extensions": "false",
            "autoload_known_extensions": "false",
        }
        # loaded from the wheel's file, not installed into (or fetched to) ~/.duckdb/extensions
        rows = con.execute(
            "SELECT loaded, installed FROM duckdb_extensions() WHERE extension_name = 'ducklake'"
        ).fetchall()
        assert rows == [(True, False)]
    finally:
        con.close()


# ---------------------------------------------------------------- the warehouse on each backend


def test_partition_replacement_on_every_backend(backend):
    kind, db = backend
    day, other = dt.date(2026, 6, 1), dt.date(2026, 6, 2)
    q = pl.DataFrame(schema=warehouse.QUARANTINE_SCHEMA)
    warehouse.load_source_day(
        db,
        source="obs_log",
        days=[day, other],
        offers=pl.concat([_offers("obs_log", day, [2.5, 2.6]), _offers("obs_log", other, [3.0])]),
        quarantine=q,
        payloads=["a.csv"],
        mode="import",
    )
    # a re-load of one date replaces that partition only: no duplicates, the other date kept
    warehouse.load_source_day(
        db,
        source="obs_log",
        days=[day],
        offers=_offers("obs_log", day, [1.9]),
        quarantine=q,
        payloads=["b.csv"],
        mode="import",
    )
    # a failed re-load keeps the previous rows
    warehouse.record_failure(
        db,
        source="obs_log",
        day=other,
        quarantine=q,
        payloads=["c.csv"],
        mode="import",
        error="boom",
    )
    with warehouse.reader(db) as con:
        rows = con.execute(
            "SELECT date, price_usd_per_gpu_hour FROM raw.gpu_offers ORDER BY ALL"
        ).fetchall()
        log = con.execute(
            "SELECT date, status, rows_loaded FROM raw.load_log ORDER BY loaded_at"
        ).fetchall()
        backend_type = con.execute(
            "SELECT type FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchone()[0]
    assert rows == [(day, 1.9), (other, 3.0)]
    assert log == [(day, "ok", 2), (other, "ok", 1), (day, "ok", 1), (other, "failed", 0)]
    assert backend_type == ("duckdb" if kind == "file" else "ducklake")
    if kind == "file":
        assert db.with_name(db.name + ".lock").exists()
    elif kind == "lake_pg_s3":
        assert not db.with_name(db.name + ".lock").exists()  # no file lock on a Postgres lake


def test_reader_of_a_lake_not_created_yet(backend):
    _, db = backend
    with pytest.raises(FileNotFoundError, match="does not exist yet"), warehouse.reader(db):
        pass


def test_commit_conflict_is_retried_then_fails_loudly(backend, monkeypatch):
    kind, db = backend
    if kind == "file":
        pytest.skip("the file backend serialises writers under its lock: no commit conflicts")
    monkeypatch.setattr(lake, "CONFLICT_BACKOFF_SECONDS", 0.0)
    day = dt.date(2026, 6, 1)
    with warehouse.writer(db) as con:
        other = con.cursor()  # a second connection to the same lake, its own transactions
        other.execute("USE lake")
        conflicts = {"left": 2}

        def body() -> None:
            con.execute(
                "INSERT INTO raw.load_log (source, date, status) VALUES ('a', ?, 'ok')", [day]
            )
            if conflicts["left"]:
                conflicts["left"] -= 1
                # another writer commits meanwhile: it deletes inlined rows of the same table,
                # which makes our commit lose (DuckLake's conflict check)
                other.execute(
                    "INSERT INTO raw.load_log (source, date, status) VALUES ('b', ?, 'x')", [day]
                )
                other.execute("DELETE FROM raw.load_log WHERE source = 'b'")

        warehouse.in_transaction(con, body, what="test")
        assert conflicts["left"] == 0  # two lost races, the third attempt committed
        assert con.execute("SELECT source, count(*) FROM raw.load_log GROUP BY ALL").fetchall() == [
            ("a", 1)
        ]

        monkeypatch.setattr(lake, "COMMIT_ATTEMPTS", 3)
        conflicts["left"] = 99
        with pytest.raises(warehouse.WarehouseWriteError) as err:
            warehouse.in_transaction(con, body, what="loading x")
        assert err.value.kind == "conflict" and conflicts["left"] == 96
        assert str(err.value).startswith("warehouse lake: loading x lost 3 commit races in a row")
        assert con.execute("SELECT count(*) FROM raw.load_log WHERE source = 'a'").fetchone() == (
            1,
        )


def test_sql_console_sandbox_on_every_backend(backend):
    kind, db = backend
    day = dt.date(2026, 6, 1)
    warehouse.load_source_day(
        db,
        source="obs_log",
        days=[day],
        offers=_offers("obs_log", day, [float(i) for i in range(1, 3001)]),
        quarantine=pl.DataFrame(schema=warehouse.QUARANTINE_SCHEMA),
        payloads=["a.csv"],
        mode="import",
    )
    out = sql_console.run_query(
        db,
        "select count(*) n, max(price_usd_per_gpu_hour) m from raw.gpu_offers "
        "where price_usd_per_gpu_hour > 1000",
        "csv",
    )
    assert out.strip().splitlines() == ["n,m", "2000,3000.0"]
    for query in ("select * from read_csv('/etc/hostname')", "select * from glob('/*')"):
        with pytest.raises(sql_console.SqlConsoleError):
            sql_console.run_query(db, query, "csv")
    with pytest.raises(sql_console.SqlConsoleError, match="refused"):
        sql_console.run_query(db, "copy (select 1) to '/tmp/x.csv'", "csv")
    if kind == "lake_pg_s3":  # the catalog connection of a reader is a read-only transaction
        with pytest.raises(sql_console.SqlConsoleError):
            sql_console.run_query(
                db,
                "select * from postgres_execute('__ducklake_metadata_lake', "
                "'create table pwn (i int)')",
                "csv",
            )


# ---------------------------------------------------------------- the shared history, end to end


def _cli(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    full = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GPU_TRACKER_", "AWS_")) or k in (PG_ENV, S3_ENV)
    }
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        env=full,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _daily_rows(env: dict[str, str]) -> pl.DataFrame:
    out = _cli(
        env,
        "sql",
        "select * from marts.gpu_price_daily order by all",
        "--format",
        "csv",
        "--max-rows",
        "100000",
    )
    assert out.returncode == 0, out.stderr
    return pl.read_csv(out.stdout.encode(), infer_schema_length=0)


@pytest.fixture(scope="module")
def file_import(tmp_path_factory, shared_data):
    env = make_backend("file", tmp_path_factory.mktemp("file_import"))
    out = _cli(env, "import", str(shared_data / OBS_LOG), "--format", "obs-log")
    assert out.returncode == 0, out.stderr
    return env


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["lake_local", "lake_pg_s3"])
def test_shared_history_import_gives_the_same_daily_mart(kind, tmp_path, file_import, shared_data):
    env = make_backend(kind, tmp_path / kind)
    try:
        out = _cli(env, "import", str(shared_data / OBS_LOG), "--format", "obs-log")
        assert out.returncode == 0, out.stderr
        assert (
            out.stdout.strip()
            .splitlines()[-1]
            .startswith(
                "import ok: source=obs_log 26254 offers over 125 dates (2026-02-11..2026-06-15), "
                "47 quarantined"
            )
        )
        expected, got = _daily_rows(file_import), _daily_rows(env)
        assert got.height == expected.height == 12000

        def hashes(frame: pl.DataFrame) -> list[str]:
            return sorted(
                hashlib.sha256("|".join(map(str, row)).encode()).hexdigest()
                for row in frame.iter_rows()
            )

        assert hashes(got) == hashes(expected)
        h100 = got.filter(
            (pl.col("gpu_model") == "H100-SXM-80GB")
            & (pl.col("pricing") == "on_demand")
            & (pl.col("date") == "2026-06-01")
        ).sort(pl.col("price_min").cast(float))
        assert h100.select("provider", "price_min", "n_offers").row(0) == ("vastai", "2.0011", "14")
        # the report and the published files of the lake are the file backend's
        day = "2026-06-15"
        lake_pub = Path(env["GPU_TRACKER_PUBLISHED"]) / day
        file_pub = Path(file_import["GPU_TRACKER_PUBLISHED"]) / day
        assert (lake_pub / "report.html").stat().st_size > 10_000
        for name in ("gpu_price_daily.csv", "daily_summary.csv", "cost_per_flop.csv"):
            # the same lines; publish writes the marts in storage order (no ORDER BY), which
            # differs between a DuckDB file and Parquet files of a lake
            lake_lines = (lake_pub / name).read_text().splitlines()
            file_lines = (file_pub / name).read_text().splitlines()
            assert lake_lines[0] == file_lines[0] and len(lake_lines) > 10, name
            assert sorted(lake_lines) == sorted(file_lines), name
        # and a query through `gpu-tracker sql` answers the same
        q = (
            "select provider, price_min from marts.gpu_price_daily where gpu_model = 'H100-SXM-80GB' "
            "and pricing = 'on_demand' and date = '2026-06-01' order by price_min limit 3"
        )
        assert (
            _cli(env, "sql", q, "--format", "csv").stdout
            == _cli(file_import, "sql", q, "--format", "csv").stdout
        )
        # alerts: the outbox on the lake (no primary key there) records each alert once
        first, again = _cli(env, "alerts"), _cli(env, "alerts")
        assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
        n_raised = first.stdout.split(" raised")[0].rsplit(" ", 1)[1]
        assert int(n_raised) > 0 and f"{n_raised} raised, {n_raised} new" in first.stdout
        assert f"{n_raised} raised, 0 new" in again.stdout
    finally:
        drop_backend(env)


# ---------------------------------------------------------------- Dagster on Postgres


def _lake_load_op(part: int):
    import dagster as dg

    @dg.op(name=f"load_part_{part}")
    def _load() -> int:
        from pipelines.lib.config import load_config

        day = dt.date(2026, 6, 1) + dt.timedelta(days=part)
        warehouse.load_source_day(
            load_config().warehouse_path,
            source="obs_log",
            days=[day],
            offers=_offers("obs_log", day, [2.0 + part, 3.0 + part]),
            quarantine=pl.DataFrame(schema=warehouse.QUARANTINE_SCHEMA),
            payloads=[f"part{part}.csv"],
            mode="import",
        )
        return os.getpid()

    return _load


def lake_parallel_job():
    """Two ops loading different partitions of the lake, each in its own process."""
    import dagster as dg

    ops = [_lake_load_op(0), _lake_load_op(1)]

    @dg.job(executor_def=dg.multiprocess_executor.configured({"max_concurrent": 2}))
    def lake_parallel():
        for op in ops:
            op()

    return lake_parallel


def test_dagster_postgres_storage_and_multiprocess_run(tmp_path, monkeypatch):
    """deploy/dagster_postgres.yaml as DAGSTER_HOME's dagster.yaml against the test Postgres:
    the instance uses Postgres storages, and a multiprocess run loading the Postgres+S3 lake
    is recorded there (run, step events) with its rows in the lake."""
    import dagster as dg

    env = make_backend("lake_pg_s3", tmp_path / "lake")  # skips without the services
    dagster_db = f"dagster_{uuid.uuid4().hex[:10]}"
    _pg_admin(f"CREATE DATABASE {dagster_db}")
    try:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        home = tmp_path / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text(
            (REPO_ROOT / "deploy" / "dagster_postgres.yaml").read_text()
        )
        params = dict(p.split("=", 1) for p in os.environ[PG_ENV].split())
        monkeypatch.setenv(
            "DAGSTER_POSTGRES_URL",
            f"postgresql+psycopg2://{params.get('user', 'postgres')}@"
            f"{params['host']}:{params.get('port', '5432')}/{dagster_db}",
        )
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        with dg.DagsterInstance.get() as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
            assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
            with dg.execute_job(dg.reconstructable(lake_parallel_job), instance=instance) as result:
                assert result.success
                pids = {result.output_for_node(f"load_part_{i}") for i in (0, 1)}
            runs = instance.get_runs()
            assert [(r.job_name, r.status) for r in runs] == [
                ("lake_parallel", dg.DagsterRunStatus.SUCCESS)
            ]
            steps = instance.get_records_for_run(
                runs[0].run_id, of_type=dg.DagsterEventType.STEP_SUCCESS
            )
            assert len(steps.records) == 2
        assert len(pids) == 2 and os.getpid() not in pids  # two worker processes, not this one
        from pipelines.lib.config import load_config

        with warehouse.reader(load_config().warehouse_path) as con:
            assert con.execute(
                "SELECT date, price_usd_per_gpu_hour FROM raw.gpu_offers ORDER BY ALL"
            ).fetchall() == [
                (dt.date(2026, 6, 1), 2.0),
                (dt.date(2026, 6, 1), 3.0),
                (dt.date(2026, 6, 2), 3.0),
                (dt.date(2026, 6, 2), 4.0),
            ]
    finally:
        _pg_admin(f"DROP DATABASE IF EXISTS {dagster_db} WITH (FORCE)")
        drop_backend(env)


def test_sources_job_runs_sources_in_parallel_processes_on_every_backend(tmp_path, monkeypatch):
    """Since #11 the sources job takes no pool and its executor is chosen per run, on the file
    backend as on a lake: live runs ask for the multiprocess executor with
    GPU_TRACKER_SOURCE_PROCESSES steps at once (writes queue on the writer lock)."""
    import dagster as dg

    from pipelines import launch
    from pipelines.defs import jobs

    assert jobs.daily_sources_job.executor_def is dg.multi_or_in_process_executor
    for target in (str(tmp_path / "w.duckdb"), f"ducklake:{tmp_path / 'c.ducklake'}"):
        monkeypatch.setenv("GPU_TRACKER_WAREHOUSE", target)
        monkeypatch.setenv("GPU_TRACKER_SOURCE_PROCESSES", "3")
        assert launch.run.source_processes() == 3
        assert launch.run.multiprocess_config(3)["max_concurrent"] == 3
    monkeypatch.setenv("GPU_TRACKER_SOURCE_PROCESSES", "0")
    with pytest.raises(launch.LaunchError, match="at least 1"):
        launch.run.source_processes()


# ---------------------------------------------------------------- backup / restore of a lake


def test_backup_and_restore_on_every_backend(backend, tmp_path):
    """``gpu-tracker backup`` / ``restore`` on each backend: the lake's backup is a DuckDB file
    exported from one snapshot; restoring it brings the rows back exactly (row counts as in
    the manifest) and a view survives."""
    from pipelines.lib import backup

    kind, db = backend
    day, later = dt.date(2026, 6, 1), dt.date(2026, 6, 2)
    q = pl.DataFrame(schema=warehouse.QUARANTINE_SCHEMA)
    warehouse.load_source_day(
        db,
        source="obs_log",
        days=[day],
        offers=_offers("obs_log", day, [2.5, 2.6]),
        quarantine=q,
        payloads=["a.csv"],
        mode="import",
    )
    with warehouse.writer(db) as con:
        con.execute(
            "CREATE OR REPLACE VIEW marts.v_offers AS SELECT count(*) AS n FROM raw.gpu_offers"
        )
    manifest = backup.backup(db, tmp_path / "backups")
    assert manifest["tables"]["raw.gpu_offers"] == 2 and manifest["tables"]["raw.load_log"] == 1
    assert ("backend" in manifest) == (kind != "file")
    # later writes are undone by the restore
    warehouse.load_source_day(
        db,
        source="obs_log",
        days=[later],
        offers=_offers("obs_log", later, [9.0]),
        quarantine=q,
        payloads=["b.csv"],
        mode="import",
    )
    backup.restore(tmp_path / "backups", db)
    with warehouse.reader(db) as con:
        assert con.execute(
            "SELECT date, price_usd_per_gpu_hour FROM raw.gpu_offers ORDER BY ALL"
        ).fetchall() == [(day, 2.5), (day, 2.6)]
        assert con.execute("SELECT n FROM marts.v_offers").fetchone() == (2,)
        assert con.execute("SELECT count(*) FROM raw.load_log").fetchone() == (1,)
