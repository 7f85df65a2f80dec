"""The one-GET fetch every pricing-page source shares (not a source: no SPEC)."""

from __future__ import annotations

from pipelines.lib.http import FetchError, PoliteClient
from pipelines.lib.sources.base import FetchFailure, Payload

ACCEPT_HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"


def fetch_page(
    client: PoliteClient, url: str, name: str, accept: str = ACCEPT_HTML
) -> list[Payload | FetchFailure]:
    """One GET of ``url`` archived as ``name``; a failure becomes a FetchFailure entry."""
    try:
        resp = client.get(url, headers={"Accept": accept})
    except FetchError as exc:
        return [FetchFailure(name, url, str(exc))]
    return [Payload(name, resp.content, resp.url, resp.status, resp.content_type, resp.fetched_at)]
