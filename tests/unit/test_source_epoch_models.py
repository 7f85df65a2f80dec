"""Epoch AI notable-models source: parser on the real 2026-01-26 export (read in place from
../shared/data/model_releases/epoch_ai), the active-parameter regex on every real note that
mentions "active", small CSVs for renamed columns and bad values, and ``fetch`` with a fake
client (no network)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from pipelines.lib.families import parsed_columns
from pipelines.lib.http import FetchedPayload, FetchError
from pipelines.lib.sources import epoch_models
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload

EXPORT = "model_releases/epoch_ai/notable_ai_models_2026-01-26.csv"
TABLE = "raw.model_catalog"
NAME = "notable_ai_models.csv"
DAY = dt.date(2026, 1, 26)


@pytest.fixture(scope="module")
def catalog(shared_data) -> pl.DataFrame:
    out = epoch_models.parse(NAME, (shared_data / EXPORT).read_bytes())
    assert set(out) == {TABLE}
    return out[TABLE]


def _row(frame: pl.DataFrame, model_id: str) -> dict:
    rows = frame.filter(pl.col("model_id") == model_id)
    assert rows.height == 1, rows
    return rows.row(0, named=True)


# --- the real export --------------------------------------------------------------------


def test_export_shape_and_coverage(catalog):
    assert catalog.schema == pl.Schema(parsed_columns(TABLE))
    assert catalog.height == 976
    assert catalog["model_id"].n_unique() == 976
    assert catalog.filter(pl.col("model_id") != pl.col("model_id").str.strip_chars()).height == 0
    assert catalog["parameters"].count() == 679  # README: 679 of 976 rows have Parameters
    assert catalog["training_compute_flop"].count() == 515
    assert catalog["training_tokens"].count() == 657  # 660 non-blank, 3 unparseable
    assert catalog["publication_date"].min() == dt.date(1950, 7, 2)
    assert catalog["publication_date"].max() == dt.date(2025, 12, 31)
    assert set(catalog["payload_name"]) == {NAME}
    assert catalog["created_at"].null_count() == 976


def test_named_models(catalog):
    solar = _row(catalog, "Solar Open 100B")  # "Solar Open 100B\n" in the file
    assert solar["organization"] == "upstage" and solar["publication_date"] == dt.date(2025, 12, 31)
    assert solar["parameters"] == 102e9 and solar["active_parameters"] == 12e9
    assert solar["training_tokens"] == 19.7e12 and solar["training_compute_flop"] is None
    llama = _row(catalog, "Llama 3.1-405B")
    assert llama["parameters"] == 405e9 and llama["training_compute_flop"] == 3.8e25
    assert llama["training_tokens"] == 15.6e12
    assert llama["organization"] == "meta-ai" and llama["publication_date"] == dt.date(2024, 7, 23)
    gpt3 = _row(catalog, "GPT-3 175B (davinci)")
    assert (gpt3["parameters"], gpt3["training_compute_flop"]) == (174.6e9, 3.14e23)
    assert gpt3["organization"] == "openai"
    dsv3 = _row(catalog, "DeepSeek-V3")
    assert (dsv3["parameters"], dsv3["training_compute_flop"]) == (671e9, 3.4078e24)
    assert dsv3["active_parameters"] is None  # its note does not say "active"
    kimi = _row(catalog, "Kimi K2")
    assert (kimi["parameters"], kimi["active_parameters"]) == (1e12, 32e9)
    assert kimi["training_compute_flop"] == 2.976e24


def test_first_listed_organization(catalog):
    assert catalog.filter(pl.col("organization").str.contains(",")).height == 0
    assert catalog["organization"].null_count() == 18  # blank in the file (pre-2000 models)
    assert _row(catalog, "RAAM")["organization"] is None
    assert catalog["organization"].n_unique() == 234


def test_active_parameters_from_real_notes(catalog):
    active = catalog.filter(pl.col("active_parameters").is_not_null())
    assert active.height == 17
    assert dict(active.select("model_id", "active_parameters").rows()) == {
        "Solar Open 100B": 12e9,
        "VAETKI": 10e9,
        "A.X K1": 33e9,
        "GLM-4.7": 32e9,
        "GLM-4.6": 32e9,
        "GLM-4.5": 32e9,
        "Qwen3-Coder-480B-A35B": 35e9,
        "Kimi K2": 32e9,
        "Seed-1.6-Thinking": 23e9,
        "Seed1.5-VL": 20e9,
        "Llama 4 Scout": 17e9,
        "Llama 4 Maverick": 17e9,
        "Llama 4 Behemoth (preview)": 288e9,
        "ERNIE-4.5-VL-424B-A47B (文心大模型4.5)": 47e9,
        "DeepSeek-V2.5": 21e9,
        "Jamba 1.5-Large": 94e9,
        "DBRX": 36e9,
    }
    # the four other notes mentioning "active" are not clear counts
    for model in ("o3-mini", "o1-mini", "Grok-1", "Distributed representation NN"):
        assert _row(catalog, model)["active_parameters"] is None
    assert active.filter(pl.col("active_parameters") > pl.col("parameters")).height == 0


def test_unparseable_dataset_sizes_are_problem_rows(catalog):
    bad = catalog.filter(pl.col("problem").is_not_null())
    assert sorted(bad["model_id"]) == [
        "AbLang (heavy sequences)",
        "EfficientNetV2-XL",
        "Masked Autoencoders ViT-H",
    ]
    assert set(bad["problem"]) == {"unparseable_number"}
    assert bad["training_tokens"].null_count() == 3
    assert _row(bad, "EfficientNetV2-XL")["parameters"] is not None  # the rest of the row stays


# --- the regex on its own ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        ("102B, of which 12B active\n", 12e9),
        ("Total parameters: 100B (Sparse), Active parameters: 10B per token.", 10e9),
        ("MoE:\ntotal parameters - 424B\nactive parameters - 47B", 47e9),
        ("MoE with 1T total parameters and 32B parameters active per forward pass", 32e9),
        ("94B active/398B total", 94e9),
        ("a 288 billion active parameter model", 288e9),
        ("21B active params, 236B total", 21e9),
        ("3.6B active", 3.6e9),
        ("active parameters around 10B-30B", None),
        ("10B-30B active", None),
        ("10 to 30B active", None),
        ("around 12B active", None),
        ("~12B active", None),
        ("25% of the weights active", None),
        ("12 active experts", None),
        ("12B active here, 14B active there", None),
        ("There is one active unit", None),
        ("", None),
        (None, None),
    ],
)
def test_active_parameters_regex(note, expected):
    assert epoch_models.active_parameters(note) == expected


# --- small CSVs -------------------------------------------------------------------------


def test_renamed_columns_and_bad_values():
    csv_text = (
        '"System","Organization","Publication date","Parameters","Parameters notes",'
        '"Training compute (FLOP)","Training dataset size (datapoints)"\n'
        '"Old Net\n","Lab A,Lab B",2019-02-14,1.5e9,,3.2e21,4e10\n'
        '"Bad Date",Lab A,Feb 2019,1e9,,,\n'
        '"Bad Number",Lab A,2019-02-14,lots,,,\n'
        '"Too active",Lab A,2019-02-14,1e9,"5B active",,\n'
        '"  ",Lab A,2019-02-14,,,,\n'
        "\n"
    )
    frame = epoch_models.parse(NAME, csv_text.encode())[TABLE]
    assert frame["model_id"].to_list() == ["Old Net", "Bad Date", "Bad Number", "Too active", None]
    assert frame["problem"].to_list() == [
        None,
        "unparseable_date",
        "unparseable_number",
        None,
        "missing_id",
    ]
    old = frame.row(0, named=True)
    assert old["organization"] == "lab-a" and old["publication_date"] == dt.date(2019, 2, 14)
    assert (old["parameters"], old["training_compute_flop"]) == (1.5e9, 3.2e21)
    assert old["training_tokens"] == 4e10
    assert frame.row(3, named=True)["active_parameters"] is None  # more than the total


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"<!DOCTYPE html><html><body>Not found</body></html>",
        b"Model,Organization\nA,B\n",  # no Publication date / Parameters columns
        b"Model,Organization,Publication date,Parameters\n",  # header only
        b"\xff\xfe\x00bad",
    ],
)
def test_wrong_shapes_are_parse_errors(content):
    with pytest.raises(ParseError):
        epoch_models.parse(NAME, content)


# --- fetch with a fake client -----------------------------------------------------------


class _FakeClient:
    def __init__(self, content: bytes = b"", error: FetchError | None = None):
        self.content, self.error, self.calls = content, error, []

    def get(self, url, **kwargs):
        self.calls.append((url, kwargs))
        if self.error:
            raise self.error
        return FetchedPayload(
            url=url,
            status=200,
            content=self.content,
            content_type="text/csv",
            fetched_at=1769385600.0,
        )


def test_fetch_archives_the_csv(shared_data):
    body = (shared_data / EXPORT).read_bytes()
    client = _FakeClient(body)
    out = epoch_models.fetch(client, {}, DAY)
    assert len(out) == 1 and isinstance(out[0], Payload)
    assert out[0].name == NAME and out[0].content == body
    assert client.calls[0][0] == "https://epoch.ai/data/notable_ai_models.csv"
    assert epoch_models.parse(out[0].name, out[0].content)[TABLE].height == 976


def test_fetch_error_becomes_fetch_failure():
    url = "https://epoch.example/data/notable_ai_models.csv"
    client = _FakeClient(error=FetchError(url, "HTTP 404", 404))
    out = epoch_models.fetch(client, {"base_url": url}, DAY)
    assert len(out) == 1 and isinstance(out[0], FetchFailure)
    assert out[0].name == NAME and out[0].url == url and "HTTP 404" in out[0].error
