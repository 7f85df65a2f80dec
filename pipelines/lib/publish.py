"""Publish the day's marts as files: Parquet + CSV per table, and the HTML report.

Layout (stable names, so scripts can fetch them)::

    <published>/<as_of>/gpu_price_daily.parquet|csv    the as-of day's rows of each mart
    <published>/<as_of>/daily_summary.parquet|csv
    <published>/<as_of>/provider_spreads.parquet|csv
    <published>/<as_of>/cost_per_flop.parquet|csv
    <published>/<as_of>/price_changes.parquet|csv
    <published>/<as_of>/gpu_price_index.parquet|csv     the like-for-like index (methodology 2.0)
    <published>/<as_of>/index_constituents.parquet|csv  who is in it, at what price, or why not
    <published>/<as_of>/report.html                     self-contained, opens with no server
    <published>/<as_of>/manifest.json                   row counts, sha256, generated_at
    <published>/latest/                                 a copy of the newest as-of folder

``as_of`` is the newest date in ``marts.daily_summary`` (the data's date, not the clock's),
unless given. Files are written to a temporary folder and renamed into place, so a reader
never sees a half-written day; ``latest`` is replaced the same way. On Linux the new folder
and the old one are exchanged in one step (``renameat2(RENAME_EXCHANGE)``), so
``latest/report.html`` never goes missing, even for an instant, while a day is republished.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import errno
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import duckdb
import polars as pl

from pipelines.lib import mart_schemas, registry

# which marts are published is said once, where each is declared (``meta: {published: true}``
# in the YAML under sql/marts/)
PUBLISHED_TABLES: tuple[str, ...] = mart_schemas.published()


def read_marts(con: duckdb.DuckDBPyConnection, tables=PUBLISHED_TABLES) -> dict[str, pl.DataFrame]:
    """Every published mart that exists in the warehouse, full history."""
    existing = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
    }
    return {
        t: con.sql(f"select * from marts.{t} order by all").pl() for t in tables if t in existing
    }


def latest_date(frames: dict[str, pl.DataFrame]) -> dt.date | None:
    for name in ("daily_summary", "gpu_price_daily"):
        frame = frames.get(name)
        if frame is not None and frame.height:
            return frame["date"].max()
    return None


def _dir_mode() -> int:
    """0777 less the process umask (what ``mkdir`` would give), read without changing it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o777 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o777 & ~mask


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# A cell starting with one of these is a formula to Excel / LibreOffice / Google Sheets
# (tab and CR too: some strip them first). OWASP's CSV-injection advice: prefix a single quote.
_FORMULA_START = r"^[=+\-@\t\r]"


def csv_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every *string* cell that a spreadsheet would run as a formula
    (``=HYPERLINK(...)``, ``+cmd|...``, ``@SUM(...)``, ``-2+3``, leading tab/CR) prefixed with
    ``'``. Numeric columns are untouched, so negative numbers stay numbers."""
    strings = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not strings:
        return frame
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(_FORMULA_START))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name in strings
    )


def publish(
    frames: dict[str, pl.DataFrame],
    out_dir: Path,
    as_of: dt.date | None = None,
    generated_at: dt.datetime | None = None,
) -> Path:
    """Write the as-of day's files under ``out_dir/<as_of>/`` and refresh ``latest``."""
    from pipelines.lib.report import render_report

    as_of = as_of or latest_date(frames)
    if as_of is None:
        raise ValueError(
            "nothing to publish: marts.daily_summary and marts.gpu_price_daily are empty"
        )
    generated_at = generated_at or dt.datetime.now(dt.UTC)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / as_of.isoformat()
    staging = Path(tempfile.mkdtemp(prefix=f".{as_of.isoformat()}.", dir=out_dir))
    os.chmod(staging, _dir_mode())  # mkdtemp makes it 0700; the published day is for everyone
    try:
        manifest = {
            "as_of": as_of.isoformat(),
            "generated_at": generated_at.isoformat(),
            "files": {},
        }
        # which sources the rows came from, with their terms and licences (#13.4)
        frames = {**frames, "sources": registry.sources_frame(registry.sources_in(frames))}
        for name, frame in frames.items():
            # GPU marts: the day's rows; the API family table is sparse (price-map versions): all of it
            day = (
                frame.filter(pl.col("date") == as_of)
                if "date" in frame.columns and name != "api_price_families"
                else frame
            )
            for ext in ("parquet", "csv"):
                path = staging / f"{name}.{ext}"
                if ext == "parquet":
                    day.write_parquet(path)
                else:
                    csv_safe(day).write_csv(path)  # Parquet stays raw; CSV opens in spreadsheets
                manifest["files"][path.name] = {"rows": day.height, "sha256": _sha256(path)}
        report = staging / "report.html"
        report.write_text(render_report(frames, as_of, generated_at=generated_at), encoding="utf-8")
        manifest["files"]["report.html"] = {"sha256": _sha256(report)}
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        _swap_into_place(staging, target)
        latest_staging = Path(tempfile.mkdtemp(prefix=".latest.", dir=out_dir))
        shutil.rmtree(latest_staging)
        shutil.copytree(target, latest_staging)
        _swap_into_place(latest_staging, out_dir / "latest")
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically (Linux ``renameat2`` with ``RENAME_EXCHANGE``);
    False where the platform, kernel or file system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # a libc without renameat2 (glibc < 2.28)
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_into_place(new: Path, target: Path) -> None:
    """Replace ``target`` by ``new`` (the old folder is removed after): one atomic exchange
    where the system has it, else two renames (``target`` is missing for an instant)."""
    if target.exists() and _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # ``new`` now holds the previous folder
        return
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        if old.exists():
            shutil.rmtree(old)
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
