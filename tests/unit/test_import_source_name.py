"""``gpu-tracker import --source-name`` (issue #10 items 8 and 13): an import name must be a
slug and must not collide with a live source id, or with a source the warehouse has loaded
live or from an archive -- ``--source-name skypilot_catalog`` replaced that source's rows
for the imported dates with the log's.

The warehouse holds the real Lambda v8 SkyPilot catalog (22 offers) and the import is the
real 125-day observation log, so a collision would be visible as lost catalog rows."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from pipelines.cli import main as cli
from pipelines.lib import importers, registry, warehouse
from pipelines.lib.offers import normalise_offers
from pipelines.lib.sources import skypilot_catalog as sky

DAY = dt.date(2026, 6, 1)  # a date the observation log covers
LAMBDA = "skypilot_catalog/lambda/v8_0f40703_us-east-1.csv"
OBS_LOG = "price_history/cherielilili_gpu_pricing_tracker/observations_2026-02-11_to_2026-06-15.csv"


@pytest.fixture
def db(tracker_env, shared_data):
    path = tracker_env / "gpu_market.duckdb"
    records = sky.parse("lambda.csv", (shared_data / LAMBDA).read_bytes())
    offers, quarantine = normalise_offers(records, source="skypilot_catalog", day=DAY)
    warehouse.load_source_day(
        path,
        source="skypilot_catalog",
        days=[DAY],
        offers=offers,
        quarantine=quarantine,
        payloads=["lambda.csv"],
        mode="archive",
    )
    return path


def _catalog_rows(db) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "select count(*) from raw.gpu_offers where source = 'skypilot_catalog' and date = ?",
            [DAY],
        ).fetchone()[0]
    finally:
        con.close()


@pytest.mark.parametrize("name", ["skypilot_catalog", "vastai", "openrouter"])
def test_a_live_source_id_is_refused_and_its_rows_stay(db, shared_data, capsys, name):
    assert _catalog_rows(db) == 22
    rc = cli(["import", str(shared_data / OBS_LOG), "--format", "obs-log", "--source-name", name])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "is a live source id" in err, err
    assert _catalog_rows(db) == 22


@pytest.mark.parametrize(
    "name",
    [
        "=x",
        "=HYPERLINK(1)",
        "+cmd",
        "@SUM",
        "-x",
        "my source",
        "../x",
        "a/b",
        "Obs_Log",
        "",
        "x" * 65,
        "1log",
        "obs-log",
        "obs\tlog",
    ],
)
def test_a_name_that_is_not_a_slug_is_refused_before_anything_is_read(
    db, shared_data, capsys, name
):
    rc = cli(["import", str(shared_data / OBS_LOG), "--format", "obs-log", f"--source-name={name}"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "not a valid import source name" in err, err
    assert _catalog_rows(db) == 22


def test_every_registered_source_id_is_refused_and_slugs_are_accepted(db):
    for source_id in registry.ids():
        with pytest.raises(importers.ImportNameError, match="live source id"):
            importers.import_source_name(source_id, "obs_log", db)
    assert importers.import_source_name(None, "obs_log", db) == "obs_log"
    assert importers.import_source_name(None, "gpuhunt", db) == "gpuhunt"
    assert importers.import_source_name("cherie_log_2026", "obs_log", db) == "cherie_log_2026"
    assert (
        importers.import_source_name("my_log", "obs_log", db.with_name("missing.duckdb"))
        == "my_log"
    )


def test_a_name_the_warehouse_loaded_live_is_refused(db):
    # a source no longer registered still owns its loaded partitions
    warehouse.load_source_day(
        db,
        source="retired_feed",
        days=[DAY],
        offers=warehouse_empty_offers(),
        quarantine=warehouse_empty_quarantine(),
        payloads=["p"],
        mode="live",
    )
    with pytest.raises(importers.ImportNameError, match="loaded by a live or archive run"):
        importers.import_source_name("retired_feed", "obs_log", db)
    # a previous import under the same name may be replaced by a new import of it
    warehouse.load_source_day(
        db,
        source="my_log",
        days=[DAY],
        offers=warehouse_empty_offers(),
        quarantine=warehouse_empty_quarantine(),
        payloads=["p"],
        mode="import",
    )
    assert importers.import_source_name("my_log", "obs_log", db) == "my_log"


def warehouse_empty_offers():
    import polars as pl

    from pipelines.lib.offers import OFFER_SCHEMA

    return pl.DataFrame(schema=OFFER_SCHEMA)


def warehouse_empty_quarantine():
    import polars as pl

    from pipelines.lib.offers import QUARANTINE_SCHEMA

    return pl.DataFrame(schema=QUARANTINE_SCHEMA)
