"""What every importer shares: its errors, ``ImportBatch`` (candidate records per date) and
the source id an import's rows are tagged with (a slug that is no live source's)."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ImportFormatError(ValueError):
    """The file is not in the format it was imported as."""


class ImportNameError(ValueError):
    """An import ``--source-name`` that is not a slug or belongs to a live source."""


# a source id is a column value, a file name and a CSV cell: lower-case letters, digits and
# underscore only (no "=x" formula, no spaces, no path separators), starting with a letter
_SOURCE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


def _live_source_ids() -> set[str]:
    from pipelines.lib import registry
    from pipelines.lib.ingest import ALL_SOURCES

    return set(registry.ids()) | set(ALL_SOURCES)


def import_source_name(name: str | None, default: str, db_path: Path | None = None) -> str:
    """The source id an import's rows are tagged with: ``name`` (``--source-name``) or
    ``default``. An import replaces its source's partitions for the imported dates, so a
    name that collides with a live source id (the registry's), or that the warehouse at
    ``db_path`` has loaded by a live or archive run, is refused: ``--source-name
    skypilot_catalog`` replaced 84 catalog rows of a date with the log's one row."""
    source = default if name is None else name
    if not _SOURCE_NAME.fullmatch(source):
        raise ImportNameError(
            f"{source!r} is not a valid import source name: use 1-64 lower-case letters, digits "
            "and underscores, starting with a letter (e.g. my_price_log)"
        )
    if source in _live_source_ids():
        raise ImportNameError(
            f"{source!r} is a live source id; an import under it would replace that source's rows "
            "for the imported dates: choose another --source-name"
        )
    if db_path is not None and Path(db_path).exists():
        from pipelines.lib import warehouse

        with warehouse.reader(Path(db_path)) as con:
            has_log = con.execute(
                "select count(*) from information_schema.tables "
                "where table_schema = 'raw' and table_name = 'load_log'"
            ).fetchone()[0]
            loaded = (
                has_log
                and con.execute(
                    "select count(*) from raw.load_log where source = ? and mode <> 'import'",
                    [source],
                ).fetchone()[0]
            )
        if loaded:
            raise ImportNameError(
                f"{source!r} was loaded by a live or archive run ({loaded} loads in raw.load_log); "
                "an import under it would replace those rows: choose another --source-name"
            )
    return source


@dataclass
class ImportBatch:
    """Candidate records grouped by date, ready for ``normalise_offers`` per date."""

    records_by_date: dict[dt.date, list[dict[str, Any]]]
    corrections: Counter

    @property
    def n_records(self) -> int:
        return sum(len(v) for v in self.records_by_date.values())
