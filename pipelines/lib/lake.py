"""The DuckLake backend of the warehouse: table metadata in a catalog database, data as
Parquet files in a directory or an S3 bucket, many readers and concurrent writers.

Selected by configuration, never by code above ``pipelines.lib.warehouse``:

* ``GPU_TRACKER_WAREHOUSE=<file>`` (or unset) keeps the embedded DuckDB file;
* ``GPU_TRACKER_WAREHOUSE=ducklake:<catalog.ducklake>`` -- a DuckDB file as the catalog
  (one machine: the catalog file has DuckDB's single-writer rule, so writers take the same
  ``<catalog>.lock`` / ``.write-intent`` locks as the file backend);
* ``GPU_TRACKER_WAREHOUSE=ducklake:postgres:<libpq connection string>`` -- a Postgres
  catalog (many processes and machines; no file locks, DuckLake's optimistic concurrency
  and the commit-conflict retry in ``warehouse`` instead);
* ``GPU_TRACKER_LAKE_DATA`` -- where the Parquet files go: a directory, or
  ``s3://bucket/prefix`` with endpoint and credentials from the standard AWS variables
  (``AWS_ENDPOINT_URL`` or ``AWS_ENDPOINT_URL_S3``, ``AWS_ACCESS_KEY_ID``,
  ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION`` or
  ``AWS_DEFAULT_REGION``), turned into a temporary DuckDB S3 secret of the connection. A
  DuckDB catalog without it keeps its files in ``<catalog>.files/`` (DuckLake's own default);
  a Postgres catalog requires it.

The code above sees the same warehouse: the lake is attached as ``lake`` and made the default
database (``USE lake``), so ``raw.gpu_offers``, ``marts.gpu_price_daily`` and
``information_schema`` resolve as in the file. What DuckLake does not support the tracker does
not use (indexes, primary keys); views, ``CREATE OR REPLACE TABLE`` and transactions work.

The rest of the code passes the warehouse around as a ``Path``. For a lake that path is an
*anchor*: the catalog file for a DuckDB catalog, ``<config dir>/warehouse/
ducklake-postgres-<hash>.catalog`` for a Postgres one (a small JSON note written by the first
writer, without passwords). ``resolve_warehouse`` maps the configured text to its anchor and
remembers the target; ``target_for`` maps an anchor back. Folders derived from the
warehouse's folder (archive, published files, ``dagster_home``) derive from the anchor's.

``gpu-tracker sql`` on a lake keeps its two layers (one SELECT; a locked, read-only
connection), with the lake's data path as the only allowed directory. What a statement can
still reach: the lake's own files (``read_parquet('<data path>/...')``, and for a DuckDB
catalog the catalog file itself) and, for a Postgres catalog, read-only queries against the
catalog database (``postgres_query``; writes fail in the reader's READ ONLY transaction, which
is tested). Give the catalog a database of its own, and readers a role that can only read it.

Extensions come from their PyPI wheels (``duckdb-extension-ducklake``, ``-postgres_scanner``,
``-httpfs``), which must be built for the running DuckDB; they are loaded by path with
autoinstall and autoload off, so nothing is ever downloaded at run time. A missing wheel, or a
wheel for another DuckDB version, is one ``LakeError`` line naming the package to install.

Which lake a warehouse path names (parsing the configured text, the anchors) is
``pipelines.lib.lake_target``; its names are re-exported here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import time
from pathlib import Path
from urllib.parse import urlsplit

import duckdb

from pipelines.lib.lake_target import (
    DATA_ENV,
    PREFIX,
    WAREHOUSE_ENV,
    LakeError,
    LakeTarget,
    is_lake_text,
    parse,
    redact_dsn,
    resolve_warehouse,
    target_for,
)

__all__ = [
    "ALIAS",
    "COMMIT_ATTEMPTS",
    "CONFLICT_BACKOFF_SECONDS",
    "DATA_ENV",
    "DATA_VARIABLE",
    "EXTENSION_PACKAGES",
    "INIT_ATTEMPTS",
    "PREFIX",
    "WAREHOUSE_ENV",
    "LakeError",
    "LakeTarget",
    "catalog_exists",
    "conflict_pause",
    "connect",
    "extension_path",
    "is_conflict",
    "is_lake_connection",
    "is_lake_text",
    "load_extensions",
    "parse",
    "redact_dsn",
    "resolve_warehouse",
    "s3_secret_sql",
    "sandbox_settings",
    "sleep_before_retry",
    "target_for",
]

ALIAS = "lake"  # the attached database; USE makes it the default, so names stay unqualified
DATA_VARIABLE = "gpu_tracker_lake_data"  # DuckDB variable holding the connection's data path

# commit conflicts: attempts in all, and the jittered pause before attempt n (n * 0..base s)
COMMIT_ATTEMPTS = 8
CONFLICT_BACKOFF_SECONDS = 0.25

INIT_ATTEMPTS = 5  # attaching a new Postgres catalog that another process is creating

# extension name -> the PyPI package whose wheel ships <package>/extensions/v<duckdb>/<name>
EXTENSION_PACKAGES = {
    "ducklake": "duckdb-extension-ducklake",
    "postgres_scanner": "duckdb-extension-postgres_scanner",
    "httpfs": "duckdb-extension-httpfs",
}


def extension_path(name: str) -> Path:
    """The installed wheel's extension file for the running DuckDB, or a one-line LakeError
    naming the package (and version) to install."""
    package = EXTENSION_PACKAGES[name]
    want = duckdb.__version__
    spec = importlib.util.find_spec(package.replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        raise LakeError(
            f"the DuckLake backend needs the DuckDB extension {name}: pip install {package}=={want}"
        )
    root = Path(next(iter(spec.submodule_search_locations))) / "extensions"
    path = root / f"v{want}" / f"{name}.duckdb_extension"
    if not path.is_file():
        built = sorted(p.name.lstrip("v") for p in root.glob("v*")) if root.is_dir() else []
        raise LakeError(
            f"{package} is built for DuckDB {', '.join(built) or 'another version'}, "
            f"this is DuckDB {want}: pip install {package}=={want}"
        )
    return path


def load_extensions(con: duckdb.DuckDBPyConnection, names: list[str]) -> None:
    for name in names:
        path = extension_path(name)
        try:
            con.execute(f"LOAD '{_sql_str(str(path))}'")
        except duckdb.Error as exc:
            raise LakeError(
                f"could not load {path.name} from {EXTENSION_PACKAGES[name]} "
                f"({_first_line(exc)}): pip install --force-reinstall "
                f"{EXTENSION_PACKAGES[name]}=={duckdb.__version__}"
            ) from exc


def _sql_str(text: str) -> str:
    return text.replace("'", "''")


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def s3_secret_sql(env: dict[str, str] | None = None) -> str:
    """The CREATE SECRET statement for the S3 data path, from the AWS variables."""
    env = dict(os.environ if env is None else env)
    opts = ["TYPE s3"]
    key, secret = env.get("AWS_ACCESS_KEY_ID", ""), env.get("AWS_SECRET_ACCESS_KEY", "")
    if key and secret:
        opts += [f"KEY_ID '{_sql_str(key)}'", f"SECRET '{_sql_str(secret)}'"]
        if env.get("AWS_SESSION_TOKEN"):
            opts.append(f"SESSION_TOKEN '{_sql_str(env['AWS_SESSION_TOKEN'])}'")
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        opts.append(f"REGION '{_sql_str(region)}'")
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        if not parts.netloc:
            raise LakeError(f"AWS_ENDPOINT_URL={endpoint!r} has no host")
        # a custom endpoint (MinIO, moto, Ceph) serves buckets as paths, not subdomains
        opts += [
            f"ENDPOINT '{_sql_str(parts.netloc)}'",
            "URL_STYLE 'path'",
            f"USE_SSL {'true' if parts.scheme == 'https' else 'false'}",
        ]
    return f"CREATE OR REPLACE TEMPORARY SECRET gpu_tracker_lake_s3 ({', '.join(opts)})"


def catalog_exists(target: LakeTarget) -> bool:
    """Whether the lake's catalog was created (a DuckDB catalog file; for Postgres, asked of
    the database through a short-lived connection)."""
    if not target.postgres:
        return target.anchor.is_file()
    con = duckdb.connect(
        config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}
    )
    try:
        load_extensions(con, ["postgres_scanner"])
        dsn = _sql_str(target.catalog[len("postgres:") :])
        try:
            con.execute(f"ATTACH '{dsn}' AS pg (TYPE postgres, READ_ONLY)")
            rows = con.execute(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_catalog = 'pg' AND table_name = 'ducklake_metadata'"
            ).fetchone()
        except duckdb.Error as exc:
            raise LakeError(
                f"lake catalog {redact_dsn(target.catalog)}: {_first_line(exc)}"
            ) from exc
        return bool(rows and rows[0])
    finally:
        con.close()


def _attach(con: duckdb.DuckDBPyConnection, target: LakeTarget, read_only: bool) -> None:
    """ATTACH the lake as ``lake`` (READ_ONLY for readers), retrying the one race worth
    retrying: a new Postgres catalog that another process is creating at the same moment."""
    options = [f"DATA_PATH '{_sql_str(target.data_path)}'"] + (["READ_ONLY"] if read_only else [])
    attach = f"ATTACH '{_sql_str(PREFIX + target.catalog)}' AS {ALIAS} ({', '.join(options)})"
    for attempt in range(1, INIT_ATTEMPTS + 1):
        try:
            con.execute(attach)
            return
        except duckdb.Error as exc:
            # two processes attaching a new Postgres catalog at once both create its
            # metadata tables; the loser fails (duplicate key in pg_type) and, once the
            # winner has committed, attaches to the catalog it created
            if (
                not (target.postgres and "Failed to initialize DuckLake" in str(exc))
                or attempt == INIT_ATTEMPTS
            ):
                raise
            sleep_before_retry(attempt)


def connect(
    target: LakeTarget, read_only: bool, settings: dict[str, str] | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake attached as ``lake`` and made the default database.
    Read-only connections attach READ_ONLY; a reader of a lake not created yet gets
    FileNotFoundError, like a reader of a missing warehouse file."""
    config: dict[str, str] = {
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
        **(settings or {}),
    }
    con = duckdb.connect(config=config)
    try:
        con.execute("SET enable_progress_bar = false")
        if target.anchor.parent.is_dir():  # spill beside the warehouse, as the file backend does
            con.execute(f"SET temp_directory = '{_sql_str(str(target.anchor))}.tmp'")
        load_extensions(con, target.extensions())
        if target.s3:
            con.execute(s3_secret_sql())
        if read_only and not catalog_exists(target):
            raise FileNotFoundError(
                f"warehouse {target.describe()} does not exist yet: run "
                "`gpu-tracker run` or `gpu-tracker import` first"
            )
        if not read_only and not target.s3:
            Path(target.data_path).mkdir(parents=True, exist_ok=True)
        _attach(con, target, read_only)
        con.execute(f"USE {ALIAS}")
        con.execute(f"SET VARIABLE {DATA_VARIABLE} = '{_sql_str(target.data_path)}'")
    except duckdb.IOException as exc:
        con.close()
        if "lock" in str(exc).lower():
            raise  # a DuckDB catalog file held by another process: the caller waits and retries
        raise LakeError(f"lake {target.describe()}: {_first_line(exc)}") from exc
    except duckdb.Error as exc:
        con.close()
        raise LakeError(f"lake {target.describe()}: {_first_line(exc)}") from exc
    except BaseException:
        con.close()
        raise
    if not read_only and target.postgres:
        _write_note(target)
    return con


def _write_note(target: LakeTarget) -> None:
    """The anchor of a Postgres lake: a note saying which lake it stands for (no password),
    so ``<anchor>.exists()`` is true where the lake was written, as for a warehouse file."""
    if target.anchor.is_file():
        return
    try:
        target.anchor.parent.mkdir(parents=True, exist_ok=True)
        target.anchor.write_text(
            json.dumps(
                {
                    "backend": "ducklake",
                    "catalog": redact_dsn(target.catalog),
                    "data_path": target.data_path,
                },
                indent=1,
            )
            + "\n"
        )
    except OSError:
        pass  # only a convenience for local checks: the lake itself is in Postgres


def sandbox_settings(con: duckdb.DuckDBPyConnection) -> tuple[list[str], bool]:
    """For ``gpu-tracker sql``'s sandbox: the statements to run before it switches external
    access off, and whether the local file system must stay enabled. On a lake the data path
    becomes the one allowed directory, so DuckLake can read its Parquet files while every
    other path and URL is refused. DuckLake reads local data files through DuckDB's local
    file system, so a lake with a *directory* as data path cannot have it disabled (a
    statement can then read the lake's own files, nothing else); with S3 data it stays
    disabled. The file backend: nothing to add, local file system disabled."""
    if not is_lake_connection(con):
        return [], False
    row = con.execute(f"SELECT getvariable('{DATA_VARIABLE}')").fetchone()
    if not row or not row[0]:
        raise LakeError("lake connection without its data path (not opened by lake.connect)")
    data_path = str(row[0])
    return [f"SET allowed_directories = ['{_sql_str(data_path)}']"], not data_path.startswith(
        "s3://"
    )


def is_lake_connection(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``con``'s default database is a DuckLake (the commit-conflict retry applies)."""
    row = con.execute(
        "SELECT type FROM duckdb_databases() WHERE database_name = current_database()"
    ).fetchone()
    return bool(row) and row[0] == "ducklake"


def is_conflict(exc: BaseException) -> bool:
    """A DuckLake commit that lost a race with another writer (retrying can succeed)."""
    text = str(exc)
    return isinstance(exc, duckdb.Error) and (
        "Transaction conflict" in text
        or ("conflict" in text.lower() and "ducklake" in text.lower())
    )


def conflict_pause(attempt: int) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): jittered, growing with attempts, so
    writers that collided do not collide again in step."""
    return random.uniform(0.5, 1.0) * CONFLICT_BACKOFF_SECONDS * attempt


def sleep_before_retry(attempt: int) -> None:
    time.sleep(conflict_pause(attempt))
