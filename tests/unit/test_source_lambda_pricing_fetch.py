"""``lambda_pricing.fetch`` against a fake client (no network) and the ingest path replaying
a real capture from an archive folder (../shared/data/pricing_pages/lambda/, read in place)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipelines.lib.config import load_config
from pipelines.lib.http import FetchedPayload, FetchError
from pipelines.lib.ingest import SourceFailed, ingest
from pipelines.lib.sources import lambda_pricing
from pipelines.lib.sources.base import FetchFailure, Payload

DAY = dt.date(2026, 5, 24)
PAGE = (
    Path(__file__).resolve().parents[1] / "fixtures" / "lambda_pricing" / "pricing_handwritten.html"
)
MOVED_PAGE = b"<html><body><p>We moved our pricing!</p></body></html>"


def _real(shared_data: Path, prefix: str) -> bytes:
    files = sorted((shared_data / "pricing_pages" / "lambda").glob(f"{prefix}*"))
    assert len(files) == 1, files
    return files[0].read_bytes()


class _FakeClient:
    def __init__(self, content: bytes = b"", error: FetchError | None = None):
        self.content, self.error, self.calls = content, error, []

    def get(self, url, **kwargs):
        self.calls.append((url, kwargs))
        if self.error is not None:
            raise self.error
        return FetchedPayload(
            url=url,
            status=200,
            content=self.content,
            content_type="text/html; charset=utf-8",
            fetched_at=1779600000.0,
        )


def test_fetch_gets_the_page_once():
    url = "https://pricing.example.test/lambda"
    client = _FakeClient(PAGE.read_bytes())
    out = lambda_pricing.fetch(client, {"base_url": url, "enabled": True}, DAY)
    assert len(client.calls) == 1 and client.calls[0][0] == url
    assert "text/html" in client.calls[0][1]["headers"]["Accept"]
    assert len(out) == 1 and isinstance(out[0], Payload)
    assert (out[0].name, out[0].url, out[0].status, out[0].fetched_at) == (
        "pricing.html",
        url,
        200,
        1779600000.0,
    )
    assert out[0].content == PAGE.read_bytes()


def test_fetch_failure_is_reported_not_raised():
    url = "https://pricing.example.test/lambda"
    out = lambda_pricing.fetch(
        _FakeClient(error=FetchError(url, "HTTP 403", 403)), {"base_url": url}, DAY
    )
    assert len(out) == 1 and isinstance(out[0], FetchFailure)
    assert (out[0].name, out[0].url) == ("pricing.html", url) and "HTTP 403" in out[0].error


def test_ingest_replays_a_real_capture(tracker_env, tmp_path, shared_data):
    folder = tmp_path / "archive" / "lambda_pricing" / DAY.isoformat()
    folder.mkdir(parents=True)
    (folder / "pricing.html").write_bytes(_real(shared_data, "2023-09-09"))
    result = ingest("lambda_pricing", DAY, load_config(), from_archive=tmp_path / "archive")
    assert (result.mode, result.status, result.payloads, result.errors) == (
        "archive",
        "ok",
        ["pricing.html"],
        [],
    )
    assert result.offers.height == 15 and result.quarantine.height == 0
    assert set(result.offers["date"]) == {DAY} and set(result.offers["source"]) == {
        "lambda_pricing"
    }


def test_ingest_quarantines_a_moved_page_as_unparseable(tracker_env, tmp_path):
    folder = tmp_path / "archive" / "lambda_pricing" / DAY.isoformat()
    folder.mkdir(parents=True)
    (folder / "pricing.html").write_bytes(MOVED_PAGE)
    with pytest.raises(SourceFailed, match="no Lambda on-demand pricing table found") as exc:
        ingest("lambda_pricing", DAY, load_config(), from_archive=tmp_path / "archive")
    quarantine = exc.value.result.quarantine
    assert quarantine.select("payload_name", "reason").rows() == [
        ("pricing.html", "unparseable_payload")
    ]
