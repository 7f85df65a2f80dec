"""CSV formula injection in published files (issue #10 item 8).

The marts are built from real payloads: the LiteLLM price map of 2023-11-14 (real model ids,
``gpt-4`` at 60 USD per 1M output tokens) through ``market.api_prices_daily`` /
``cheapest_by_family``, and the real Lambda v8 SkyPilot catalog (8x H100 SXM at 3.99 USD per
GPU-hour) aggregated per provider. Hostile model ids and a hostile source name are added the
way they would arrive (a price map entry, ``import --source-name``)."""

from __future__ import annotations

import csv
import datetime as dt

import polars as pl
import pytest

from pipelines.lib import market, publish
from pipelines.lib.offers import normalise_offers
from pipelines.lib.sources import litellm_prices
from pipelines.lib.sources import skypilot_catalog as sky

DAY = dt.date(2023, 11, 14)
LITELLM = "api_prices/litellm/model_prices_and_context_window_2023-11-14_litellm-1.0.0.json.gz"
LAMBDA = "skypilot_catalog/lambda/v8_0f40703_us-east-1.csv"
HOSTILE_IDS = [
    '=HYPERLINK("http://evil.example/","click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def _api_families(shared_data) -> pl.DataFrame:
    path = shared_data / LITELLM
    raw = litellm_prices.parse(path.name, path.read_bytes())["raw.api_prices"].with_columns(
        pl.lit(DAY).alias("date"), pl.lit("litellm_prices").alias("source")
    )
    hostile = pl.DataFrame(
        [
            {
                **{c: None for c in raw.columns},
                "date": DAY,
                "source": "=evil_import",
                "model_id": model_id,
                "model_key": f"gpt-4-hostile-{i}",
                "mode": "chat",
                "input_usd_per_mtok": 0.001 * (i + 1),
                "output_usd_per_mtok": 0.001 * (i + 1),
                "payload_name": "hostile.json",
            }
            for i, model_id in enumerate(HOSTILE_IDS)
        ],
        schema=raw.schema,
    )
    daily = market.api_prices_daily(pl.concat([raw, hostile]))
    # one family per hostile id (each is the cheapest of its own family), and gpt-4 itself
    families = {"gpt-4 (real)": "^gpt-4$"} | {
        f"hostile {i}": f"^gpt-4-hostile-{i}$" for i in range(len(HOSTILE_IDS))
    }
    return market.cheapest_by_family(daily, families)


def _gpu_price_daily(shared_data) -> pl.DataFrame:
    records = sky.parse("lambda.csv", (shared_data / LAMBDA).read_bytes())
    offers, _ = normalise_offers(records, source="skypilot_catalog", day=DAY)
    offers = pl.concat(
        [
            offers,
            offers.head(1).with_columns(
                pl.lit("=cmd|' /C calc'!A0").alias("provider"),
                pl.lit("=evil_import").alias("source"),
            ),
        ]
    )
    return (
        offers.group_by("date", "gpu_model", "provider", "pricing")
        .agg(
            pl.col("price_usd_per_gpu_hour").min().alias("price_min"),
            pl.col("price_usd_per_gpu_hour").median().alias("price_median"),
            pl.col("price_usd_per_gpu_hour").max().alias("price_max"),
            pl.len().alias("n_offers"),
            pl.col("source").unique().sort().str.join(",").alias("sources"),
        )
        .sort("gpu_model", "provider", "pricing")
    )


def _price_changes() -> pl.DataFrame:
    # negative numbers in numeric columns must stay numbers
    return pl.DataFrame(
        {
            "date": [DAY],
            "gpu_model": ["H100-SXM-80GB"],
            "provider": ["lambda"],
            "pricing": ["on_demand"],
            "kind": ["down"],
            "prev_date": [DAY - dt.timedelta(days=1)],
            "days_since_prev": [1],
            "price_prev": [4.29],
            "price_now": [3.99],
            "change_abs": [-0.3],
            "change_pct": [-6.993],
        }
    )


def _read_csv(path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:  # keep a CR inside a quoted cell as it is
        return list(csv.DictReader(fh))


@pytest.fixture
def published(shared_data, tmp_path):
    frames = {
        "api_price_families": _api_families(shared_data),
        "gpu_price_daily": _gpu_price_daily(shared_data),
        "price_changes": _price_changes(),
    }
    return frames, publish.publish(frames, tmp_path / "published", as_of=DAY)


def test_hostile_model_ids_and_source_names_are_neutralised_in_csv(published):
    _frames, folder = published
    rows = {r["family"]: r for r in _read_csv(folder / "api_price_families.csv")}
    assert rows["gpt-4 (real)"]["cheapest_model_id"] == "gpt-4"  # real ids untouched
    assert rows["gpt-4 (real)"]["cheapest_output_usd_per_mtok"] == "60.0"
    assert rows["gpt-4 (real)"]["cheapest_source"] == "litellm_prices"
    for i, model_id in enumerate(HOSTILE_IDS):
        assert rows[f"hostile {i}"]["cheapest_model_id"] == "'" + model_id
        assert rows[f"hostile {i}"]["cheapest_source"] == "'=evil_import"
    gpu = _read_csv(folder / "gpu_price_daily.csv")
    h100 = [
        r
        for r in gpu
        if r["gpu_model"] == "H100-SXM-80GB"
        and r["provider"] == "lambda"
        and r["pricing"] == "on_demand"
    ]
    assert [r["price_min"] for r in h100] == ["3.99"] and h100[0]["sources"] == "skypilot_catalog"
    hostile = [r for r in gpu if r["provider"].startswith("'")]
    assert [(r["provider"], r["sources"]) for r in hostile] == [
        ("'=cmd|' /C calc'!A0", "'=evil_import")
    ]
    # no cell of any CSV starts with a formula character, unless it is a number
    for name in ("api_price_families.csv", "gpu_price_daily.csv", "price_changes.csv"):
        for row in _read_csv(folder / name):
            for value in row.values():
                if value[:1] in "=+-@\t\r" and value:
                    float(value)  # only numbers may start with '-'


def test_negative_numbers_stay_numbers_and_parquet_stays_raw(published):
    _frames, folder = published
    (change,) = _read_csv(folder / "price_changes.csv")
    assert (change["change_abs"], change["change_pct"]) == ("-0.3", "-6.993")
    families = pl.read_parquet(folder / "api_price_families.parquet")
    assert sorted(
        families.filter(pl.col("family").str.starts_with("hostile"))["cheapest_model_id"]
    ) == sorted(HOSTILE_IDS)
    assert pl.read_parquet(folder / "price_changes.parquet")["change_abs"].to_list() == [-0.3]


def test_csv_safe_touches_only_string_cells_that_start_a_formula():
    frame = pl.DataFrame(
        {
            "s": ["=1", "+1", "-1", "@a", "\tx", "\rx", "a=b", "", None, "'=x"],
            "x": [-1.5, 2, -3, 4, 5, 6, 7, 8, 9, -10],
            "n": [-1] * 10,
        }
    )
    out = publish.csv_safe(frame)
    assert out["s"].to_list() == [
        "'=1",
        "'+1",
        "'-1",
        "'@a",
        "'\tx",
        "'\rx",
        "a=b",
        "",
        None,
        "'=x",
    ]
    assert out["x"].to_list() == frame["x"].to_list() and out["n"].to_list() == [-1] * 10
