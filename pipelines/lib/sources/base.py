"""What a source module is, and the shared errors.

A source module (``pipelines/lib/sources/<source_id>.py``) exposes:

* ``SOURCE_ID``: str -- the id used in config (``[sources.<id>]``), the archive and tables;
* ``fetch(client, source_cfg, day) -> list[Payload]`` -- live download with the polite
  client; every URL comes from ``source_cfg`` (``base_url`` and friends);
* ``parse(name, content) -> list[dict] | polars.DataFrame`` -- a *pure* function of one
  payload's bytes that returns candidate offer records (keys: see
  ``pipelines.lib.offers.RAW_OFFER_KEYS``), as dicts or, for high-volume sources (Vast.ai),
  as one column per key so nothing downstream loops over rows.
  It raises ``ParseError`` when the payload's structure is not what the parser knows --
  never "zero rows, success" on a page it does not understand.

Live and replay run the same ``parse``: live archives the bytes first, replay reads them
back from ``<archive>/<source>/<date>/<name>``.
"""

from __future__ import annotations

from dataclasses import dataclass


class ParseError(ValueError):
    """A payload whose structure the parser does not recognise (or that is malformed)."""


@dataclass(frozen=True)
class Payload:
    """One fetched payload, to be archived under ``name``."""

    name: str
    content: bytes
    url: str
    status: int
    content_type: str = ""
    fetched_at: float | None = None  # unix seconds


class FetchFailure(Exception):
    """One payload of a multi-payload source could not be fetched; the others still load.
    ``fetch`` returns it in place of the Payload; ingest records it as an error."""

    def __init__(self, name: str, url: str, error: str):
        super().__init__(f"{name} ({url}): {error}")
        self.name, self.url, self.error = name, url, error
