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
  A page that publishes dated prices ("effective October 1") needs the archive date to pick
  the one in force: such a module sets ``PARSE_NEEDS_DAY = True`` and is called as
  ``parse(name, content, day=<archive date>)`` (``nebius_pricing``); still pure.

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


# ----------------------------------------------------------------------------- declaration
# A source declares itself once, in its own module, as ``SPEC = SourceSpec(...)``. The
# registry (``pipelines.lib.registry``) discovers every module under
# ``pipelines.lib.sources`` that has a ``SPEC``; the Dagster assets and checks, the config
# defaults, the list of secrets and ``gpu-tracker sources`` all derive from it.

TERMS_VERDICTS = ("permits", "restricts_automated_access", "restricts_index_use", "unknown")


@dataclass(frozen=True)
class Terms:
    """What the provider's terms of service and the data's licence say about automated
    collection and about use in an index or comparison, as checked on ``checked``.

    ``verdict`` is one of ``TERMS_VERDICTS``; ``quote`` is the clause it rests on (verbatim,
    short), or why it could not be established; ``licence`` names the data's licence
    (``"proprietary; published price list"``, ``"CC-BY-4.0"``, ``"unknown"`` ...)."""

    url: str
    verdict: str
    checked: str  # YYYY-MM-DD
    quote: str
    licence: str = "unknown"

    def __post_init__(self) -> None:
        if self.verdict not in TERMS_VERDICTS:
            raise ValueError(f"terms verdict {self.verdict!r} not in {TERMS_VERDICTS}")


@dataclass(frozen=True)
class SourceSpec:
    """Everything the rest of the tracker needs to know about one source.

    * ``id``: the source id (config section ``[sources.<id>]``, archive folder, ``source`` column);
    * ``kind``: ``"gpu_offers"`` (``parse`` returns offer records for ``raw.gpu_offers``) or
      ``"market"`` (``parse`` returns ``{raw table: frame}``, see ``pipelines.lib.families``);
    * ``providers``: the provider slugs its rows carry (an aggregator lists ``("*",)``);
    * ``defaults``: the config defaults of its section (at least ``enabled`` and ``base_url``);
    * ``raw_tables``: the raw tables it writes;
    * ``secrets``: environment variables it reads that must never be logged;
    * ``terms``: see ``Terms``;
    * ``description``: one line for ``gpu-tracker sources`` and the docs.
    """

    id: str
    kind: str
    providers: tuple[str, ...]
    defaults: dict
    terms: Terms
    raw_tables: tuple[str, ...] = ("raw.gpu_offers",)
    secrets: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("gpu_offers", "market"):
            raise ValueError(f"source {self.id}: kind {self.kind!r} is not gpu_offers or market")
        if "enabled" not in self.defaults or "base_url" not in self.defaults:
            raise ValueError(f"source {self.id}: defaults need at least 'enabled' and 'base_url'")
