"""OpenRouter source: parser on the real recorded models lists (read in place from
../shared/data/model_releases/openrouter), synthetic edge cases in the API's shape, and
``fetch`` with a fake client (no network)."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import polars as pl
import pytest

from pipelines.lib.families import parsed_columns
from pipelines.lib.http import FetchedPayload, FetchError
from pipelines.lib.sources import openrouter
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload

OR_DIR = "model_releases/openrouter"
ENVELOPE_0227 = f"{OR_DIR}/raw_envelope/openrouter-models_2026-02-27_gptel_eda7195a_envelope.json"
ENVELOPE_0520 = f"{OR_DIR}/raw_envelope/openrouter_models_2026-05-20_aiscanner_05d458b.json"
DAY = dt.date(2026, 2, 27)


@pytest.fixture(scope="module")
def feb27(shared_data) -> dict[str, pl.DataFrame]:
    return openrouter.parse("models.json", (shared_data / ENVELOPE_0227).read_bytes())


def _row(frame: pl.DataFrame, model_id: str) -> dict:
    rows = frame.filter(pl.col("model_id") == model_id)
    assert rows.height == 1, rows
    return rows.row(0, named=True)


def _doc(*models) -> bytes:
    return json.dumps({"data": list(models)}).encode()


def _model(**over) -> dict:
    base = {
        "id": "acme/widget-1",
        "name": "Acme: Widget 1",
        "created": 1735689600,
        "context_length": 32768,
        "pricing": {"prompt": "0.000001", "completion": "0.000002"},
    }
    return {**base, **over}


# --- the real 2026-02-27 envelope -------------------------------------------------------


def test_envelope_tables_and_columns(feb27):
    assert set(feb27) == {"raw.model_catalog", "raw.api_prices"}
    for table, frame in feb27.items():
        assert frame.schema == pl.Schema(parsed_columns(table))
        assert frame.height == 344
        assert frame["model_id"].n_unique() == 344
        assert set(frame["payload_name"]) == {"models.json"}


def test_envelope_named_prices(feb27):
    prices = feb27["raw.api_prices"]
    gpt4o = _row(prices, "openai/gpt-4o")
    assert (gpt4o["input_usd_per_mtok"], gpt4o["output_usd_per_mtok"]) == (2.5, 10.0)
    assert (gpt4o["input_price_raw"], gpt4o["output_price_raw"]) == ("0.0000025", "0.00001")
    assert gpt4o["model_key"] == "gpt-4o" and gpt4o["organization"] == "openai"
    assert (
        gpt4o["mode"] == "chat" and gpt4o["context_length"] == 128000 and gpt4o["problem"] is None
    )
    sonnet = _row(prices, "anthropic/claude-3.7-sonnet")
    assert (sonnet["input_usd_per_mtok"], sonnet["output_usd_per_mtok"]) == (3.0, 15.0)
    assert sonnet["context_length"] == 200000
    # route variants share the key and keep their own price
    extended = _row(prices, "openai/gpt-4o:extended")
    assert extended["model_key"] == "gpt-4o"
    assert (extended["input_usd_per_mtok"], extended["output_usd_per_mtok"]) == (6.0, 18.0)
    # exact Decimal conversion: 0.000000035 * 1e6 is 0.035 (and 0.0000001 is 0.1, where the
    # float product would be 0.09999999999999999)
    nova = _row(prices, "amazon/nova-micro-v1")
    assert (nova["input_usd_per_mtok"], nova["output_usd_per_mtok"]) == (0.035, 0.14)
    seed = _row(prices, "bytedance-seed/seed-2.0-mini")
    assert seed["input_price_raw"] == "0.0000001" and seed["input_usd_per_mtok"] == 0.1


def test_envelope_catalog_rows(feb27):
    catalog = feb27["raw.model_catalog"]
    gpt4o = _row(catalog, "openai/gpt-4o")
    assert gpt4o["model_name"] == "OpenAI: GPT-4o"
    assert gpt4o["created_at"] == dt.datetime(2024, 5, 13, tzinfo=dt.UTC)  # created 1715558400
    assert gpt4o["organization"] == "openai" and gpt4o["context_length"] == 128000
    sonnet = _row(catalog, "anthropic/claude-3.7-sonnet")
    assert sonnet["created_at"] == dt.datetime(2025, 2, 24, 18, 35, 10, tzinfo=dt.UTC)
    assert _row(catalog, "meta-llama/llama-3.1-8b-instruct")["organization"] == "meta-llama"
    assert catalog["parameters"].null_count() == catalog["active_parameters"].null_count() == 344
    assert catalog["created_at"].min() == dt.datetime(2023, 5, 28, tzinfo=dt.UTC)
    newest = catalog.sort("created_at").row(-1, named=True)
    assert newest["model_id"] == "bytedance-seed/seed-2.0-mini"
    assert newest["created_at"] == dt.datetime(2026, 2, 26, 18, 38, 27, tzinfo=dt.UTC)
    assert catalog["organization"].n_unique() == 58


def test_router_pseudo_models_are_problem_rows(feb27):
    prices, catalog = feb27["raw.api_prices"], feb27["raw.model_catalog"]
    auto = _row(prices, "openrouter/auto")
    assert auto["problem"] == "negative_price"
    assert auto["input_price_raw"] == "-1" and auto["input_usd_per_mtok"] == -1_000_000.0
    assert sorted(prices.filter(pl.col("problem").is_not_null())["model_id"]) == [
        "openrouter/auto",
        "openrouter/bodybuilder",
    ]
    assert sorted(catalog.filter(pl.col("problem").is_not_null())["model_id"]) == [
        "openrouter/auto",
        "openrouter/bodybuilder",
        "openrouter/free",
    ]
    assert set(catalog.filter(pl.col("problem").is_not_null())["problem"]) == {
        "router_pseudo_model"
    }
    assert _row(catalog, "openrouter/auto")["created_at"] == dt.datetime(2023, 11, 8, tzinfo=dt.UTC)


def test_zero_prices_are_real_prices(feb27):
    prices = feb27["raw.api_prices"]
    free = prices.filter((pl.col("input_usd_per_mtok") == 0) & (pl.col("output_usd_per_mtok") == 0))
    assert free.height == 29
    assert free["problem"].null_count() == 29
    row = _row(prices, "meta-llama/llama-3.3-70b-instruct:free")
    assert row["model_key"] == "llama-3.3-70b-instruct" and row["input_price_raw"] == "0"
    # openrouter/free is a router in the catalog but its 0 price is what one pays
    assert _row(prices, "openrouter/free")["problem"] is None


# --- every shared capture ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "n_models", "n_negative"),
    [
        (ENVELOPE_0227, 344, 2),
        (ENVELOPE_0520, 356, 3),
        (f"{OR_DIR}/daily_gptel/openrouter-models_2026-03-15_40b7067a.json.gz", 344, 2),
        (f"{OR_DIR}/daily_gptel/openrouter-models_2026-04-01_813d7940.json.gz", 348, 2),
        (f"{OR_DIR}/daily_gptel/openrouter-models_2026-05-01_6f92690c.json.gz", 371, 3),
    ],
)
def test_every_shared_capture_parses(shared_data, path, n_models, n_negative):
    raw = (shared_data / path).read_bytes()
    plain = gzip.decompress(raw) if path.endswith(".gz") else raw
    out = openrouter.parse("models.json", plain)
    assert out["raw.api_prices"].height == out["raw.model_catalog"].height == n_models
    problems = out["raw.api_prices"].filter(pl.col("problem").is_not_null())
    assert problems.height == n_negative and set(problems["problem"]) == {"negative_price"}
    assert out["raw.api_prices"]["input_usd_per_mtok"].null_count() == 0
    if path.endswith(".gz"):  # the bare .data list, gzip-compressed as stored: same rows
        assert openrouter.parse("models.json", raw)["raw.api_prices"].equals(out["raw.api_prices"])


def test_listed_shared_files_are_all_covered(shared_data):
    found = sorted(p.name for p in (shared_data / OR_DIR).rglob("*.json*"))
    assert len(found) == 5, found


def test_family_alias_ids_in_may_capture(shared_data):
    out = openrouter.parse("models.json", (shared_data / ENVELOPE_0520).read_bytes())
    catalog, prices = out["raw.model_catalog"], out["raw.api_prices"]
    aliases = catalog.filter(pl.col("problem") == "family_alias")
    assert aliases.height == 8
    assert "~anthropic/claude-sonnet-latest" in aliases["model_id"].to_list()
    sonnet = _row(prices, "~anthropic/claude-sonnet-latest")
    assert sonnet["problem"] is None and sonnet["organization"] == "anthropic"
    assert (sonnet["input_usd_per_mtok"], sonnet["output_usd_per_mtok"]) == (3.0, 15.0)
    assert _row(prices, "openrouter/pareto-code")["problem"] == "negative_price"
    assert catalog.filter(pl.col("problem") == "router_pseudo_model").height == 4


# --- synthetic edge cases ---------------------------------------------------------------


def test_bare_list_equals_envelope():
    models = [_model(), _model(id="acme/widget-2")]
    a = openrouter.parse("models.json", _doc(*models))
    b = openrouter.parse("models.json", json.dumps(models).encode())
    for table in a:
        assert a[table].equals(b[table])


def test_problem_rows_for_bad_entries():
    out = openrouter.parse(
        "models.json",
        _doc(
            _model(),
            _model(id=""),
            _model(id="acme/no-price", pricing=None),
            _model(id="acme/half-price", pricing={"prompt": "0.000001"}),
            _model(id="acme/bad-price", pricing={"prompt": "abc", "completion": "0.000002"}),
            _model(id="acme/ms-created", created=1735689600000),
            _model(id="acme/no-created", created=None),
            "not an object",
        ),
    )
    prices, catalog = out["raw.api_prices"], out["raw.model_catalog"]
    assert prices["problem"].to_list() == [
        None,
        "missing_id",
        "missing_price",
        "missing_price",
        "unparseable_price",
        None,
        None,
        "malformed_entry",
    ]
    assert catalog["problem"].to_list() == [
        None,
        "missing_id",
        None,
        None,
        None,
        "implausible_created",
        None,
        "malformed_entry",
    ]
    assert _row(prices, "acme/bad-price")["output_usd_per_mtok"] == 2.0
    assert _row(prices, "acme/bad-price")["input_price_raw"] == "abc"
    assert _row(catalog, "acme/no-created")["created_at"] is None
    assert _row(prices, "acme/widget-1")["organization"] == "acme"


def test_numeric_prices_and_top_provider_context():
    out = openrouter.parse(
        "models.json",
        _doc(
            _model(
                pricing={"prompt": 3e-06, "completion": "1.5E-5"},
                context_length=None,
                top_provider={"context_length": 65536},
            )
        ),
    )
    row = out["raw.api_prices"].row(0, named=True)
    assert (row["input_usd_per_mtok"], row["output_usd_per_mtok"]) == (3.0, 15.0)
    assert row["context_length"] == 65536


@pytest.mark.parametrize(
    "content",
    [
        b"<html>rate limited</html>",
        b"",
        b'"models"',
        b"42",
        b"[]",
        b'{"data": []}',
        b'{"models": []}',
        b'{"error": {"code": 401, "message": "No auth credentials found"}}',
        b"[1, 2, 3]",
        b'[{"name": "x"}]',
        b'{"data": {"id": "a/b"}}',
        b"\x1f\x8b\x08\x00broken",
    ],
)
def test_wrong_shapes_are_parse_errors(content):
    with pytest.raises(ParseError):
        openrouter.parse("models.json", content)


def test_error_body_is_named_in_parse_error():
    with pytest.raises(ParseError, match="No auth credentials"):
        openrouter.parse(
            "models.json", b'{"error": {"code": 401, "message": "No auth credentials found"}}'
        )


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
            content_type="application/json",
            fetched_at=1772236800.0,
        )


def test_fetch_returns_models_json(monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    body = _doc(_model())
    client = _FakeClient(body)
    out = openrouter.fetch(client, {"base_url": "https://openrouter.example/api/v1/models"}, DAY)
    assert len(out) == 1 and isinstance(out[0], Payload)
    assert out[0].name == "models.json" and out[0].content == body and out[0].status == 200
    assert out[0].url == "https://openrouter.example/api/v1/models"
    assert "Authorization" not in client.calls[0][1]["headers"]
    assert openrouter.parse(out[0].name, out[0].content)["raw.api_prices"].height == 1


def test_fetch_sends_key_and_defaults_url(monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-test")
    client = _FakeClient(_doc(_model()))
    openrouter.fetch(client, {}, DAY)
    url, kwargs = client.calls[0]
    assert url == "https://openrouter.ai/api/v1/models"
    assert kwargs["headers"]["Authorization"] == "Bearer sk-or-test"


def test_fetch_error_becomes_fetch_failure(monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    url = "https://openrouter.example/api/v1/models"
    client = _FakeClient(error=FetchError(url, "HTTP 503 after 5 attempts", 503))
    out = openrouter.fetch(client, {"base_url": url}, DAY)
    assert len(out) == 1 and isinstance(out[0], FetchFailure)
    assert out[0].name == "models.json" and "HTTP 503" in out[0].error
