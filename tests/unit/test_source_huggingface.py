"""Hugging Face Hub source: parser on the real two-item list response (read in place from
../shared/data/model_releases/hf_api_excerpt), items in the expanded shape, and ``fetch``
with a fake client that serves Link-header pages (no network)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import polars as pl
import pytest

from pipelines.lib.families import parsed_columns
from pipelines.lib.http import FetchedPayload, FetchError
from pipelines.lib.sources import huggingface
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload

EXCERPT = "model_releases/hf_api_excerpt/hf_list_models_excerpt_2025-11.json"
TABLE = "raw.model_catalog"
DAY = dt.date(2025, 11, 5)
THREE_PAGES = ["models_page001.json", "models_page002.json", "models_page003.json"]


def _row(frame: pl.DataFrame, model_id: str) -> dict:
    rows = frame.filter(pl.col("model_id") == model_id)
    assert rows.height == 1, rows
    return rows.row(0, named=True)


def _item(**over) -> dict:
    """One item in the expanded field set the live fetch asks for."""
    base = {
        "_id": "abc",
        "id": "acme/Widget-7B",
        "author": "acme",
        "createdAt": "2025-11-01T12:00:00.000Z",
        "downloads": 10,
        "likes": 2,
        "pipeline_tag": "text-generation",
        "library_name": "transformers",
        "safetensors": {"parameters": {"BF16": 7_000_000_000}, "total": 7_000_000_000},
    }
    return {**base, **over}


def _parse(*items) -> pl.DataFrame:
    return huggingface.parse("models_page001.json", json.dumps(list(items)).encode())[TABLE]


# --- the real excerpt -------------------------------------------------------------------


def test_real_excerpt(shared_data):
    out = huggingface.parse("models_page001.json", (shared_data / EXCERPT).read_bytes())
    assert set(out) == {TABLE}
    frame = out[TABLE]
    assert frame.schema == pl.Schema(parsed_columns(TABLE))
    assert frame["model_id"].to_list() == ["moonshotai/Kimi-K2-Thinking", "MiniMaxAI/MiniMax-M2"]
    kimi = _row(frame, "moonshotai/Kimi-K2-Thinking")
    assert kimi["model_name"] == "Kimi-K2-Thinking" and kimi["organization"] == "moonshotai"
    assert kimi["created_at"] == dt.datetime(2025, 11, 4, 8, 25, 31, tzinfo=dt.UTC)
    assert (kimi["downloads"], kimi["likes"]) == (5119, 578)
    assert kimi["pipeline_tag"] == "text-generation"
    minimax = _row(frame, "MiniMaxAI/MiniMax-M2")
    assert minimax["organization"] == "minimaxai" and minimax["model_name"] == "MiniMax-M2"
    assert minimax["created_at"] == dt.datetime(2025, 10, 22, 13, 45, 10, tzinfo=dt.UTC)
    assert (minimax["downloads"], minimax["likes"]) == (846249, 1178)
    # the default field set has no safetensors block: parameters null, and that is no problem
    assert frame["parameters"].null_count() == 2
    assert frame["problem"].null_count() == 2
    assert set(frame["payload_name"]) == {"models_page001.json"}


# --- expanded items ---------------------------------------------------------------------


def test_parameters_from_safetensors():
    frame = _parse(
        _item(),
        # DeepSeek-V3: total counts every stored tensor (MTP heads included) -- as the Hub says
        _item(
            id="deepseek-ai/DeepSeek-V3",
            author="deepseek-ai",
            safetensors={
                "parameters": {
                    "BF16": 3_918_786_560,
                    "F8_E4M3": 680_571_043_840,
                    "F32": 41_555_600,
                },
                "total": 684_531_386_000,
            },
        ),
        _item(id="acme/no-total", safetensors={"parameters": {"BF16": 1_000, "F32": 24}}),
        _item(id="acme/gguf-only", safetensors=None),
        _item(id="acme/empty", safetensors={"parameters": {}}),
    )
    assert _row(frame, "acme/Widget-7B")["parameters"] == 7e9
    assert _row(frame, "deepseek-ai/DeepSeek-V3")["parameters"] == 684_531_386_000
    assert _row(frame, "acme/no-total")["parameters"] == 1_024
    assert _row(frame, "acme/gguf-only")["parameters"] is None
    assert _row(frame, "acme/empty")["parameters"] is None
    assert frame["problem"].null_count() == 5
    assert frame["active_parameters"].null_count() == 5


def test_author_and_model_id_fallbacks():
    item = _item(id=None, modelId="Org.Name/Model", author=None)
    frame = _parse(item, _item(id="x/y", author="Meta Llama"))
    row = _row(frame, "Org.Name/Model")
    assert row["organization"] == "org-name" and row["model_name"] == "Model"
    assert _row(frame, "x/y")["organization"] == "meta-llama"


def test_problem_rows():
    frame = _parse(
        _item(),
        _item(id=""),
        _item(id="acme/bad-date", createdAt="yesterday"),
        _item(id="acme/bad-params", safetensors={"total": "many"}),
        _item(id="acme/bad-downloads", downloads="lots"),
        "not an object",
    )
    assert frame["problem"].to_list() == [
        None,
        "missing_id",
        "unparseable_created",
        "unparseable_number",
        "unparseable_number",
        "malformed_entry",
    ]
    assert _row(frame, "acme/bad-params")["parameters"] is None
    assert _row(frame, "acme/bad-date")["created_at"] is None


@pytest.mark.parametrize(
    "content",
    [
        b"<html>Too Many Requests</html>",
        b"",
        b"[]",
        b"42",
        b'{"models": []}',
        b'{"error": "Invalid credentials in Authorization header"}',
        b"[1, 2]",
        b'[{"name": "x"}]',
    ],
)
def test_wrong_shapes_are_parse_errors(content):
    with pytest.raises(ParseError):
        huggingface.parse("models_page001.json", content)


def test_error_body_is_named():
    with pytest.raises(ParseError, match="Invalid credentials"):
        huggingface.parse("p.json", b'{"error": "Invalid credentials in Authorization header"}')


# --- fetch with a fake client -----------------------------------------------------------


@dataclass
class _Resp(FetchedPayload):
    headers: dict = field(default_factory=dict)


class _FakeHub:
    """Serves ``pages`` in order; each page links to the next with a Link header."""

    def __init__(
        self,
        pages: list[list],
        *,
        headers: bool = True,
        fail_at: int | None = None,
        next_host: str = "huggingface.co",
    ):
        self.pages, self.with_headers = pages, headers
        self.fail_at, self.next_host = fail_at, next_host
        self.calls: list[tuple[str, dict]] = []

    def get(self, url, **kwargs):
        self.calls.append((url, kwargs))
        n = len(self.calls)
        if self.fail_at == n:
            raise FetchError(url, "HTTP 429 after 5 attempts", 429)
        body = json.dumps(self.pages[n - 1]).encode()
        link = {}
        if n < len(self.pages):
            nxt = f"https://{self.next_host}/api/models?limit=2&cursor=c{n}"
            link = {"link": f'<{nxt}>; rel="next"'}
        if not self.with_headers:
            return FetchedPayload(url, 200, body, "application/json", 1762300800.0)
        return _Resp(url, 200, body, "application/json", 1762300800.0, headers=link)


def _pages(n: int, size: int = 2) -> list[list]:
    return [[_item(id=f"acme/m{p}-{i}") for i in range(size)] for p in range(n)]


def test_fetch_follows_link_header(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    hub = _FakeHub(_pages(3))
    cfg = {"base_url": "https://huggingface.co", "max_pages": 5, "limit": 2}
    out = huggingface.fetch(hub, cfg, DAY)
    assert [p.name for p in out] == THREE_PAGES
    assert all(isinstance(p, Payload) for p in out)
    first, kwargs = hub.calls[0]
    parts = urlsplit(first)
    assert (parts.netloc, parts.path) == ("huggingface.co", "/api/models")
    query = parse_qs(parts.query)
    assert query["pipeline_tag"] == ["text-generation"] and query["sort"] == ["createdAt"]
    assert query["direction"] == ["-1"] and query["limit"] == ["2"]
    assert "safetensors" in query["expand"] and "createdAt" in query["expand"]
    assert "full" not in query
    assert "Authorization" not in kwargs["headers"]
    assert [c[0] for c in hub.calls[1:]] == [
        "https://huggingface.co/api/models?limit=2&cursor=c1",
        "https://huggingface.co/api/models?limit=2&cursor=c2",
    ]
    parsed = [huggingface.parse(p.name, p.content)[TABLE] for p in out]
    assert sum(f.height for f in parsed) == 6


def test_fetch_stops_at_max_pages_without_failure(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    hub = _FakeHub(_pages(5))
    out = huggingface.fetch(hub, {"limit": 2}, DAY)  # default max_pages 3, default base_url
    assert [p.name for p in out] == THREE_PAGES
    assert all(isinstance(p, Payload) for p in out)
    assert hub.calls[0][0].startswith("https://huggingface.co/api/models?")
    assert hub.calls[0][1]["headers"]["Authorization"] == "Bearer hf_test"


def test_fetch_failure_mid_way_keeps_earlier_pages(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    out = huggingface.fetch(_FakeHub(_pages(3), fail_at=2), {"max_pages": 3}, DAY)
    assert isinstance(out[0], Payload) and isinstance(out[1], FetchFailure)
    assert out[1].name == "models_page002.json" and "HTTP 429" in out[1].error
    assert len(out) == 2


def test_fetch_does_not_follow_links_off_host(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    out = huggingface.fetch(_FakeHub(_pages(2), next_host="evil.example"), {}, DAY)
    assert isinstance(out[0], Payload) and isinstance(out[1], FetchFailure)
    assert "leaves huggingface.co" in out[1].error


def test_fetch_empty_later_page_is_not_archived(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    out = huggingface.fetch(_FakeHub([*_pages(1), []]), {}, DAY)
    assert [p.name for p in out] == ["models_page001.json"]


def test_fetch_with_empty_response_headers_stops_after_page_one(monkeypatch):
    # the polite client always passes response headers on; an empty mapping = no next page
    monkeypatch.delenv("HF_TOKEN", raising=False)
    full = huggingface.fetch(_FakeHub(_pages(2, size=2), headers=False), {"limit": 2}, DAY)
    assert len(full) == 1 and isinstance(full[0], Payload)
    short = huggingface.fetch(_FakeHub(_pages(1, size=1), headers=False), {"limit": 2}, DAY)
    assert len(short) == 1 and isinstance(short[0], Payload)


def test_pipeline_tag_can_be_dropped():
    query = parse_qs(urlsplit(huggingface.list_url({"pipeline_tag": "", "sort": "likes"})).query)
    assert "pipeline_tag" not in query and query["sort"] == ["likes"]


def test_next_link_parsing():
    url = "https://huggingface.co/api/models?cursor=x"
    assert huggingface.next_link({"Link": f'<{url}>; rel="next"'}) == url
    assert huggingface.next_link({"Link": '<https://huggingface.co/a>; rel="prev"'}) is None
    assert huggingface.next_link({}) is None and huggingface.next_link(None) is None
