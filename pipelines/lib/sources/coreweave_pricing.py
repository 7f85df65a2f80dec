"""CoreWeave GPU instance prices (on-demand and spot, per region), scraped from the public
pricing page (HTML).

Live: one ``GET <base_url>`` (``https://www.coreweave.com/pricing``), archived as
``pricing.html``. No key is needed; CoreWeave publishes no public price API.

Terms (checked 2026-12-01): CoreWeave's Terms of Service (docs.coreweave.com/policies/
terms-of-service) and Acceptable Use Policy govern customers' use of the CoreWeave Cloud
Platform ("Customer Data", "Covered Service", SLOs); we found no website terms of use for
coreweave.com and no clause on automated access to the public pages or on re-use of the
published prices, so the verdict is ``unknown``. The fetch is one polite GET a day.

Page structures read (real captures in ``../shared/data/pricing_pages/coreweave/``):

* **2026 coreweave.com/pricing**: no ``<table>``. "On-demand GPU instances" holds one
  Webflow collection list per region (a ``REGION: NORTH AMERICA`` / ``REGION: EUROPE``
  eyebrow above it): a header grid (``GPU Model | GPU Count | VRAM (GB) | vCPUs | System RAM
  (GB) | Local Storage (TB) | On-Demand Price (Per Hour) | Spot Price (Per Hour) [| Inference
  Single GPU Price(Per Hour)²]``) beside a ``role="list"`` whose ``role="listitem"`` rows
  carry one cell per header -- plus two mobile detail blocks per row that repeat the
  values with labels ("On-Demand Price: ... / Hour", "GPU Count"). Cells are matched to
  headers in order after dropping the detail blocks (a value cell holds one or two text
  pieces, a detail block many); a row whose cells do not line up with the header is a
  ``ParseError``, never a shifted column.
* **2023 coreweave.com/gpu-cloud-pricing**: a "GPU Component Cost Per Hour" grid of
  Webflow ``w-row``/``w-col`` divs, one row per GPU with its per-GPU price (CPU and RAM
  were billed separately): ``per_gpu``, ``gpu_count`` 1, ``instance_type`` "<GPU> (GPU
  component)". A "Reserve Now" link in the price cell is not part of the price.
* a ``<table>`` / ARIA grid rendering with an ``Instance Price`` column is still read (the
  shape the parser first assumed; kept so a page that goes back to tables still parses).

Decisions:

1. Prices: ``On-Demand Price`` -> ``pricing="on_demand"``, ``Spot Price`` -> ``"spot"``,
   kept apart as separate records, each with ``region`` (``North America``, ``Europe``),
   ``gpu_count`` from the ``GPU Count`` cell (``8``, ``1``, ``4^1`` -- the ``^1`` footnote
   says a GB200/GB300 instance is 2 Superchips of 2 GPUs each, so 4 GPUs) and
   ``instance_type`` = the model as printed (two RTX PRO 6000 rows, High and Standard
   Memory, stay apart). "HGX" names an SXM baseboard: ``gpu_hint`` ``SXM``.
2. Basis: the 2026 headers say only "(Per Hour)". These are prices of the whole instance:
   the page gives a GPU count per row, and its inference column, which is per GPU, equals
   the on-demand price divided by that count (HGX H100 49.24 / 8 = 6.155, printed $6.16;
   GB200 NVL72 42.00 / 4 = 10.50). So a price header without a unit is ``per_instance``
   when the rows carry a GPU count, and every row with an inference price is checked:
   an inference price equal to the instance price on a multi-GPU row (per-GPU prices)
   is a ``ParseError``. ``normalise_offers`` divides: 49.24 / 8 = 6.155 USD per GPU-hour.
   A header that says "per GPU" is ``per_gpu``; no unit and no count is a ``ParseError``.
3. The inference price is NOT a GPU rental. Footnote 2: "Pricing based on GPUs is
   exclusively applicable to the CoreWeave inference platform customers." It is the
   on-demand rate restated per GPU for CoreWeave's inference product, so as an offer it
   would count every GPU twice in the on-demand statistics, and it is no other price type
   (spot, reserved). It is emitted as a record with ``pricing="inference_platform"`` and a
   ``note`` saying so: ``normalise_offers`` quarantines it (``bad_pricing_type``), which
   keeps the figure, with its reason, in ``raw.quarantine`` without mixing it into any
   series. (If the tracker ever wants it as a series, a pricing type of its own in
   ``offers.PRICING_TYPES`` is the place -- not on-demand.)
4. ``Contact sales`` / ``N/A`` cells are not offers and not errors: they are listed in
   ``ParsedPage.notes["not_priced"]``. Any other unreadable price is passed on as text and
   quarantined (``missing_price``); a count that cannot be read leaves ``gpu_count`` None
   (quarantined ``unknown_gpu_count``). Nothing is dropped silently.
5. Lists without a GPU header (CPU instances, storage, networking) and the per-model
   detail cards (no header grid) are not GPU price listings and are ignored. Script and
   style content is never parsed.

Fail loudly: a page with no GPU price listing of any of these shapes raises ``ParseError``
naming what was expected and found. Scraped strings are data only: nothing is evaluated.

Layout: this module is the source (SPEC, fetch, parse); ``_coreweave_lists`` reads the 2026
collection lists, ``_coreweave_tables`` the 2023 component grid and ``<table>`` renderings
(and holds the header vocabulary both use); the table and cell helpers are shared with
``lambda_pricing`` (``_price_tables``).

``parse`` is pure: no I/O besides logging.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from bs4 import BeautifulSoup

from pipelines.lib.http import PoliteClient
from pipelines.lib.sources._coreweave_lists import (
    INFERENCE_NOTE,
    INFERENCE_PRICING,
    listing_records,
)
from pipelines.lib.sources._coreweave_tables import (
    PROVIDER,
    grid_records,
    records_for_table,
    table_columns,
)
from pipelines.lib.sources._page import ACCEPT_HTML, fetch_page
from pipelines.lib.sources._price_tables import HtmlTable, ParsedPage, html_tables, kept_once
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "coreweave_pricing"
PAYLOAD_NAME = "pricing.html"
BASE_URL = "https://www.coreweave.com/pricing"
EXPECTED_HEADERS = (
    "a GPU column ('GPU Model', 'GPU') and a price column ('On-Demand Price (Per Hour)', "
    "'Instance Price'), optionally 'GPU Count', 'VRAM (GB)', 'Spot Price'; or the "
    "'GPU Component Cost Per Hour' grid"
)
# not "cluster" (CoreWeave sells every GPU as cluster nodes) nor "commit" ("no commitment")
_SKIP_SECTION = re.compile(r"reserv|\bspot\b|interruptible")
# the fields that make two rows the same offer (a table rendered twice is read once)
_SAME_OFFER = (
    "gpu_name",
    "gpu_count",
    "gpu_memory_gb",
    "instance_type",
    "region",
    "pricing",
    "price",
    "price_basis",
    "currency",
)
log = logging.getLogger(__name__)

__all__ = [
    "EXPECTED_HEADERS",
    "INFERENCE_NOTE",
    "INFERENCE_PRICING",
    "PAYLOAD_NAME",
    "PROVIDER",
    "SOURCE_ID",
    "SPEC",
    "fetch",
    "parse",
]

SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="gpu_offers",
    providers=(PROVIDER,),
    defaults={"enabled": True, "base_url": BASE_URL},
    terms=Terms(
        url="https://docs.coreweave.com/policies/terms-of-service",
        verdict="unknown",
        checked="2026-12-01",
        quote=(
            "the Terms of Service and Acceptable Use Policy govern use of the CoreWeave Cloud "
            "Platform by customers; no website terms on automated access to coreweave.com or on "
            "re-use of its published prices could be found"
        ),
        licence="proprietary; published price list",
    ),
    description="CoreWeave pricing page (HTML): on-demand and spot instance prices per region "
    "(per GPU = instance price / GPU count)",
)


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """One GET of the pricing page; a failure becomes a FetchFailure entry."""
    return fetch_page(client, source_cfg["base_url"], PAYLOAD_NAME, ACCEPT_HTML)


def _table_records(
    name: str, tables: list[HtmlTable], notes: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Offers of the ``<table>`` / ARIA renderings, and the sections skipped as not on-demand."""
    records: list[dict[str, Any]] = []
    skipped_sections: list[str] = []
    for table in tables:
        cols = table_columns(table, name)
        if cols is None:
            continue
        section = " / ".join(table.headings[:3])
        if _SKIP_SECTION.search(section.lower()):
            log.info("%s: skipped table %s under %r (not on-demand)", name, table.header, section)
            skipped_sections.append(section)
            continue
        records.extend(records_for_table(name, table, cols, notes))
    return records, skipped_sections


def parse(name: str, content: bytes) -> ParsedPage:
    """Candidate offers (on-demand and spot per region; inference rates for quarantine) from
    one archived CoreWeave pricing page."""
    soup = BeautifulSoup(content, "html.parser")
    for tag in soup.find_all(["script", "style", "template"]):
        tag.decompose()
    notes: dict[str, Any] = {}
    records, list_headers = listing_records(name, soup, notes)
    records.extend(grid_records(name, soup, notes))
    tables = html_tables(soup)
    table_records, skipped_sections = _table_records(name, tables, notes)
    records.extend(table_records)
    if not any(r["pricing"] in ("on_demand", "spot") for r in records):
        found = ([t.header for t in tables] + list_headers)[:8]
        detail = (
            f"; GPU tables skipped as reserved/spot: {skipped_sections}" if skipped_sections else ""
        )
        raise ParseError(
            f"{name}: no CoreWeave GPU instance pricing table found: expected {EXPECTED_HEADERS}; "
            f"found {len(tables)} table(s) and {len(list_headers)} listing(s) with headers "
            f"{found}{detail}"
        )
    return ParsedPage(kept_once(name, records, notes, _SAME_OFFER, log), notes)
