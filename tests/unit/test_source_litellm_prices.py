"""LiteLLM price map: parser on every real recorded version (LiteLLM wheels 2023-2026 and
tokencost's 2024 copies, read in place from ../shared/data/api_prices), synthetic edge cases
in the map's shape, and ``fetch`` with a fake client (no network)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from pathlib import Path

import polars as pl
import pytest

from pipelines.lib.families import parsed_columns
from pipelines.lib.http import FetchedPayload, FetchError
from pipelines.lib.sources import litellm_prices
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload

LITELLM = "api_prices/litellm"
TOKENCOST = "api_prices/tokencost_litellm_copy_2024"
DAY = dt.date(2026, 6, 6)

# file date -> (entries in the JSON, rows parsed, rows without a problem)
EXPECTED = {
    "2023-11-14": (90, 90, 84),
    "2023-12-13": (138, 138, 133),
    "2024-11-28": (691, 690, 599),
    "2025-01-06": (729, 728, 637),
    "2025-02-11": (781, 780, 683),
    "2025-03-28": (884, 883, 760),
    "2025-05-11": (1007, 1006, 846),
    "2025-06-01": (1048, 1047, 884),
    "2025-07-05": (1141, 1140, 936),
    "2025-08-24": (1436, 1435, 1201),
    "2025-10-11": (1645, 1644, 1397),
    "2025-11-16": (1759, 1758, 1450),
    "2026-02-01": (2471, 2470, 2036),
    "2026-03-31": (2598, 2597, 2117),
    "2026-06-06": (2754, 2753, 2255),
    "2026-08-02": (2979, 2978, 2479),
}
EXPECTED_TOKENCOST = {
    "2024-03-25": (308, 308, 241),
    "2024-06-30": (446, 446, 374),
    "2024-09-06": (566, 566, 486),
    "2024-10-30": (650, 650, 561),
}


def _path(shared_data: Path, folder: str, day: str) -> Path:
    found = sorted((shared_data / folder).glob(f"*_{day}_*.json.gz"))
    assert len(found) == 1, (folder, day, found)
    return found[0]


_CACHE: dict[Path, pl.DataFrame] = {}


def _parsed(shared_data: Path, day: str, folder: str = LITELLM) -> pl.DataFrame:
    path = _path(shared_data, folder, day)
    if path not in _CACHE:
        _CACHE[path] = litellm_prices.parse("model_prices.json", path.read_bytes())[
            "raw.api_prices"
        ]
    return _CACHE[path]


def _price(frame: pl.DataFrame, model_id: str) -> tuple[float | None, float | None]:
    rows = frame.filter(pl.col("model_id") == model_id)
    assert rows.height == 1, (model_id, rows)
    return rows.row(0, named=True)["input_usd_per_mtok"], rows.row(0, named=True)[
        "output_usd_per_mtok"
    ]


def _row(frame: pl.DataFrame, model_id: str) -> dict:
    rows = frame.filter(pl.col("model_id") == model_id)
    assert rows.height == 1, (model_id, rows)
    return rows.row(0, named=True)


def _doc(**entries) -> bytes:
    return json.dumps(entries).encode()


# --- every shared version ---------------------------------------------------------------


def test_every_shared_version_is_expected(shared_data):
    def days(folder):
        return sorted(
            re.search(r"\d{4}-\d\d-\d\d", p.name).group()
            for p in (shared_data / folder).glob("*.json.gz")
        )

    assert days(LITELLM) == sorted(EXPECTED)
    assert days(TOKENCOST) == sorted(EXPECTED_TOKENCOST)


@pytest.mark.parametrize(
    ("folder", "day", "expected"),
    [
        *[(LITELLM, d, e) for d, e in EXPECTED.items()],
        *[(TOKENCOST, d, e) for d, e in EXPECTED_TOKENCOST.items()],
    ],
)
def test_every_version_parses(shared_data, folder, day, expected):
    n_entries, n_rows, n_good = expected
    path = _path(shared_data, folder, day)
    with gzip.open(path, "rt") as fh:
        doc = json.load(fh)
    assert len(doc) == n_entries
    frame = _parsed(shared_data, day, folder)
    assert frame.schema == pl.Schema(parsed_columns("raw.api_prices"))
    assert frame.height == n_rows == n_entries - ("sample_spec" in doc)
    assert "sample_spec" not in frame["model_id"].to_list()
    assert frame["model_id"].n_unique() == n_rows
    good = frame.filter(pl.col("problem").is_null())
    assert good.height == n_good
    assert good["input_usd_per_mtok"].null_count() == 0 and (good["input_usd_per_mtok"] >= 0).all()
    # the gunzipped bytes (what the live fetch archives) parse the same
    if day == "2023-11-14":
        plain = litellm_prices.parse("model_prices.json", gzip.decompress(path.read_bytes()))
        assert plain["raw.api_prices"].equals(frame)


# --- concrete prices and price moves ----------------------------------------------------


def test_gpt_4o_prices(shared_data):
    v2024 = _row(_parsed(shared_data, "2024-11-28"), "gpt-4o")
    assert (v2024["input_usd_per_mtok"], v2024["output_usd_per_mtok"]) == (2.5, 10.0)
    assert (v2024["input_price_raw"], v2024["output_price_raw"]) == (
        "0.0000025",
        "0.000010",
    )  # as written
    assert (v2024["organization"], v2024["mode"], v2024["context_length"]) == (
        "openai",
        "chat",
        128000,
    )
    assert v2024["model_key"] == "gpt-4o" and v2024["problem"] is None
    v2026 = _row(_parsed(shared_data, "2026-06-06"), "gpt-4o")
    assert (v2026["input_usd_per_mtok"], v2026["output_usd_per_mtok"]) == (2.5, 10.0)
    assert (v2026["input_price_raw"], v2026["output_price_raw"]) == (
        "2.5e-06",
        "1e-05",
    )  # as written


def test_price_cuts_between_versions(shared_data):
    # gpt-4o: $5/$15 in tokencost's copy of 2024-10-30, $2.50/$10 in litellm 1.53.1 (2024-11-28)
    assert _price(_parsed(shared_data, "2024-10-30", TOKENCOST), "gpt-4o") == (5.0, 15.0)
    assert _price(_parsed(shared_data, "2024-11-28"), "gpt-4o") == (2.5, 10.0)
    # o3: OpenAI's June 2025 cut, $10/$40 -> $2/$8, between 1.72.0 and 1.74.0
    assert _price(_parsed(shared_data, "2025-06-01"), "o3") == (10.0, 40.0)
    assert _price(_parsed(shared_data, "2025-07-05"), "o3") == (2.0, 8.0)
    # deepseek/deepseek-chat: 0.14/0.28 -> 0.27/1.10 (2025) -> 0.28/0.42 (2026)
    assert _price(_parsed(shared_data, "2025-01-06"), "deepseek/deepseek-chat") == (0.14, 0.28)
    assert _price(_parsed(shared_data, "2025-11-16"), "deepseek/deepseek-chat") == (0.27, 1.1)
    assert _price(_parsed(shared_data, "2026-02-01"), "deepseek/deepseek-chat") == (0.28, 0.42)


def test_context_length_rules(shared_data):
    # legacy layout (1.0.0): max_tokens is the context window
    assert _row(_parsed(shared_data, "2023-11-14"), "gpt-4")["context_length"] == 8192
    v2026 = _parsed(shared_data, "2026-06-06")
    # later layout: max_tokens is the output limit -> not a context length
    assert _row(v2026, "gemini/gemini-gemma-2-27b-it")["context_length"] is None
    # max_input_tokens written as a float literal (2000000.0)
    assert _row(v2026, "xai/grok-4-1-fast")["context_length"] == 2_000_000


def test_problem_rows_in_2026_06_06(shared_data):
    frame = _parsed(shared_data, "2026-06-06")
    counts = dict(frame.group_by("problem").len().iter_rows())
    assert counts == {
        None: 2255,
        "no_token_price": 475,
        "partial_token_price": 7,
        "pricing_tier": 16,
    }
    assert (
        _row(frame, "bedrock/us-east-1/1-month-commitment/anthropic.claude-v1")["problem"]
        == "no_token_price"
    )
    assert _row(frame, "dashscope/qwen-flash")["problem"] == "no_token_price"  # tiered only
    pegasus = _row(frame, "twelvelabs.pegasus-1-2-v1:0")  # input priced per video second
    assert pegasus["problem"] == "no_token_price" and pegasus["output_usd_per_mtok"] == 7.5
    image = _row(frame, "azure/gpt-image-1")  # output billed per image
    assert image["problem"] == "partial_token_price" and image["input_usd_per_mtok"] == 5.0
    tier = _row(frame, "fireworks-ai-default")
    assert tier["problem"] == "pricing_tier" and tier["input_usd_per_mtok"] == 0.0
    assert frame.filter(pl.col("model_id").str.starts_with("together-ai-"))[
        "problem"
    ].unique().to_list() == ["pricing_tier"]
    # input-only modes are fine without an output price; zero prices are real
    embed = _row(frame, "mistral/mistral-embed")
    assert embed["problem"] is None and embed["mode"] == "embedding"
    assert (embed["input_usd_per_mtok"], embed["output_usd_per_mtok"]) == (0.1, None)
    assert _price(frame, "ollama/llama3") == (0.0, 0.0)
    assert _row(frame, "ollama/llama3")["problem"] is None


def test_routing_rules_entry_is_not_a_model(shared_data):
    row = _row(_parsed(shared_data, "2026-08-02"), "fallback_generalizations")
    assert row["problem"] == "not_a_model" and row["organization"] is None


def test_keys_and_organizations(shared_data):
    frame = _parsed(shared_data, "2026-06-06")
    sonnet = _row(frame, "claude-3-7-sonnet-20250219")
    assert (sonnet["model_key"], sonnet["organization"]) == (
        "claude-3.7-sonnet-20250219",
        "anthropic",
    )
    assert _price(frame, "claude-3-7-sonnet-20250219") == (3.0, 15.0)
    assert _row(frame, "openrouter/openai/gpt-4o")["model_key"] == "gpt-4o"
    assert (
        _row(frame, "vertex_ai/claude-3-5-haiku@20241022")["organization"]
        == "vertex-ai-anthropic-models"
    )
    assert _row(frame, "gemini/gemini-2.5-pro")["organization"] == "gemini"


# --- synthetic edge cases ---------------------------------------------------------------


def test_strings_scientific_notation_and_bad_values():
    frame = litellm_prices.parse(
        "model_prices.json",
        (
            b'{"sample_spec": {"input_cost_per_token": 0.0, "litellm_provider": "one of ..."},'
            b' "a": {"litellm_provider": "openai", "mode": "chat",'
            b'       "input_cost_per_token": "3e-06", "output_cost_per_token": 1.5E-5},'
            b' "b": {"litellm_provider": "openai", "mode": "chat",'
            b'       "input_cost_per_token": 0.0000001, "output_cost_per_token": 1},'
            b' "c": {"litellm_provider": "openai", "mode": "chat",'
            b'       "input_cost_per_token": "n/a", "output_cost_per_token": 1e-6},'
            b' "d": {"litellm_provider": "openai", "mode": "chat",'
            b'       "input_cost_per_token": -1e-6, "output_cost_per_token": 1e-6},'
            b' "e": {"litellm_provider": "openai", "mode": "chat",'
            b'       "input_cost_per_token": NaN, "output_cost_per_token": 1e-6},'
            b' "f": "not an object",'
            b' "g": {"litellm_provider": "openai", "mode": "image_generation", "input_cost_per_image": 0.04}}'
        ),
    )["raw.api_prices"]
    assert frame["model_id"].to_list() == ["a", "b", "c", "d", "e", "f", "g"]
    assert frame["problem"].to_list() == [
        None,
        None,
        "unparseable_price",
        "negative_price",
        "unparseable_price",
        "malformed_entry",
        "no_token_price",
    ]
    assert _price(frame, "a") == (3.0, 15.0)
    assert _row(frame, "a")["output_price_raw"] == "1.5E-5"
    # exact: 1e-7 * 1e6 in floats is 0.09999999999999999
    assert _price(frame, "b") == (0.1, 1_000_000.0)
    assert (
        _row(frame, "c")["input_usd_per_mtok"] is None
        and _row(frame, "c")["input_price_raw"] == "n/a"
    )
    assert _row(frame, "d")["input_usd_per_mtok"] == -1.0


@pytest.mark.parametrize(
    "content",
    [
        b"<html>404</html>",
        b"",
        b"[]",
        b"{}",
        b'[{"gpt-4o": {}}]',
        b'"x"',
        b'{"sample_spec": {"input_cost_per_token": 0.0, "litellm_provider": "x"}}',
        b'{"a": 1, "b": "x", "c": {"foo": 2}}',
        b"\x1f\x8b\x08\x00broken",
    ],
)
def test_wrong_shapes_are_parse_errors(content):
    with pytest.raises(ParseError):
        litellm_prices.parse("model_prices.json", content)


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
            content_type="text/plain; charset=utf-8",
            fetched_at=1780704000.0,
        )


def test_fetch_returns_model_prices_json():
    body = _doc(
        **{
            "gpt-4o": {
                "litellm_provider": "openai",
                "mode": "chat",
                "input_cost_per_token": 2.5e-06,
                "output_cost_per_token": 1e-05,
            }
        }
    )
    client = _FakeClient(body)
    url = "https://raw.example/BerriAI/litellm/main/model_prices_and_context_window.json"
    out = litellm_prices.fetch(client, {"base_url": url}, DAY)
    assert len(out) == 1 and isinstance(out[0], Payload)
    assert (out[0].name, out[0].url, out[0].status, out[0].content) == (
        "model_prices.json",
        url,
        200,
        body,
    )
    assert client.calls[0][0] == url
    assert _price(
        litellm_prices.parse(out[0].name, out[0].content)["raw.api_prices"], "gpt-4o"
    ) == (2.5, 10.0)


def test_fetch_defaults_url_and_reports_failure():
    client = _FakeClient(error=FetchError(litellm_prices.DEFAULT_BASE_URL, "HTTP 404", 404))
    out = litellm_prices.fetch(client, {}, DAY)
    assert client.calls[0][0] == (
        "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json"
    )
    assert len(out) == 1 and isinstance(out[0], FetchFailure)
    assert out[0].name == "model_prices.json" and "HTTP 404" in out[0].error
