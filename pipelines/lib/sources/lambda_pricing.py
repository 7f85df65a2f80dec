"""Lambda GPU instance prices (on-demand, and reserved cluster rates), scraped from the public
pricing page (HTML).

Live: one ``GET <base_url>`` (``https://lambda.ai/pricing``), archived as ``pricing.html``.
No key is needed. Lambda's instance API (``cloud.lambdalabs.com/api/v1/instance-types``)
needs an account key, so the page is the public source.

Terms (checked 2026-12-01): Lambda's "Website Terms of Service" (lambdalabs.com/legal/
terms-of-service, "Last updated October 24, 2023"; lambda.ai/legal is its current home)
bind anyone "visiting or browsing the Sites" and incorporate the Acceptable Use Policy and
the Cloud Terms of Service. The stored copy we could read gives no clause on robots,
scraping or automated access, nor on re-use of the published prices in a comparison, so
the verdict is ``unknown``: an operator should read the current terms before enabling the
live fetch for anything beyond personal use. The fetch is one polite GET a day.

Page structures read (real captures in ``../shared/data/pricing_pages/lambda/``):

* **2026 lambda.ai/pricing** ("Instances pricing" block): a tab list ``8x | 4x | 2x | 1x``
  (``role="tab"`` buttons with ``aria-controls``) and one ``role="tabpanel"`` per tab, each
  holding a ``<table>``. A row's GPU count exists ONLY in which tab it sits in: it is read
  from the panel's tab (``aria-labelledby`` -> the tab's label, or the tab whose
  ``aria-controls`` names the panel, or the panel's position among its siblings, or a
  Webflow ``data-w-tab`` label). The first header cell is empty or a visually hidden
  ``Plan``; the GPU name is a ``<th>`` in each row; price header ``PRICE/GPU/HR*`` = USD per
  GPU per hour. A separate "1-Click Clusters" block lists reserved cluster rates per GPU
  with a duration (``2 weeks – 1 year``) and a cluster size (``16``, ``64``, ``256+``):
  those rows are ``pricing="reserved"``, ``price_basis="cluster_per_gpu"``,
  ``reserved_term`` = the duration text, ``gpu_count`` = the smallest cluster the rate is
  for (``256+`` -> 256, ``64 - 60,000`` -> 64; the printed size stays in
  ``instance_type``). A cluster table laid out GPU x size (columns ``16 GPUs | 64 GPUs |
  256+ GPUs``) is read the same way, one rate per cell. They never enter on-demand.
  Every table is repeated, unicode-escaped, inside a ``<script>`` (the page's hydration
  data): script content is never parsed as markup, so the copies are not read twice; they
  are counted in the notes.
* **2024 lambdalabs.com/service/gpu-cloud**: one table whose GPU cells say
  ``On-demand 8x NVIDIA H100 SXM`` / ``Reserved 8x NVIDIA H100 SXM`` and price cells
  ``$2.99 / GPU / hr``; reserved rows say ``CONTACT SALES``. The capture starts inside the
  header row (no ``<table>`` tag): rows outside any table are read as one table whose
  columns are told by their content (the GPU cell, the ``80 GB`` VRAM cell, the ``$`` cell).
* **2023 lambdalabs.com/service/gpu-cloud**: "On-demand GPU cloud pricing" with header
  ``Price`` and cells ``$20.72 / hr`` for ``8x NVIDIA H100 SXM``: the price of the whole
  instance (``price_basis="per_instance"``, ``normalise_offers`` divides: 20.72 / 8 = 2.59);
  "Reserved Cloud Cluster pricing" with ``$1.89/H100/hour`` (per GPU), a ``Term``
  (``3-years``) and ``# of GPUs`` (``64 - 60,000``).

Decisions:

1. Tables are found by header text and ARIA roles, never by CSS classes (generated, they
   change with every build). A table qualifies when one column names the GPU (a header
   ``GPUs``/``GPU``/``Instance type``, or an empty/``Plan`` header over text cells) and
   one a price.
2. Pricing type: the tab or the block's heading decides (``cluster``/``reserv``/``private
   cloud`` -> reserved, else on-demand); a table that lists cluster sizes (a GPU-count
   column above 8 or with ``+``) or terms is reserved whatever its heading (so cluster
   rates cannot leak into on-demand when a page drops the heading); a row's own label
   overrides both (``On-demand ...``, ``Reserved ...``; a label column ``Reserved`` /
   ``Sprint``).
3. Basis: ``/ GPU / hr``, ``per GPU`` or ``/H100/hour`` in the header or cell -> per GPU
   (``cluster_per_gpu`` for reserved cluster rates); ``instance``/``node`` -> per instance.
   A price that says neither (``$20.72 / hr`` under ``Price``) is the price of the row's
   ``Nx`` instance -- Lambda prices what the row names -- and is checked against the
   table: where one GPU appears at several sizes, instance prices must grow with the GPU
   count (2023: A100 1x 1.10, 2x 2.20, 4x 4.40, 8x 8.80); flat prices across sizes mean
   per-GPU prices with the unit dropped, and the page is a ``ParseError`` rather than a
   guess. A price with neither unit nor GPU count is a ``ParseError`` too. A reserved
   cluster rate without a unit keeps ``price_basis`` None and is quarantined
   (``bad_price_basis``): it is never divided by a cluster size it may not be for.
4. GPU count: the ``Nx`` in the GPU cell, else a GPU-count column, else the tab, else an
   ``Nx`` in the heading. A cell ``Nx`` that contradicts the tab's makes the count None
   (``normalise_offers`` quarantines it): never guessed.
5. ``Contact sales`` / ``N/A`` / ``Sold out`` price cells are not offers and not parse
   errors: they are counted in the payload's notes (``ParsedPage.notes["not_priced"]``).
   Any other unreadable price (a range, ``from $2.99``) is passed on as text and
   quarantined by ``normalise_offers`` as ``missing_price``; never dropped.
6. Badges in the GPU cell (``New``) are not part of the name; footnote marks are dropped.
   Rows with one filled cell (group labels) and repeated header rows are not offers; rows
   repeated verbatim (desktop + mobile renderings, a ``<noscript>`` copy) are kept once.
7. Headline cards ("from $2.99/GPU/hr") are not tables and are not read.

Fail loudly: a page with no on-demand instance table (a redesign, a page moved, a page whose
tables are filled in by JavaScript), an on-demand table with no rows, or one in which no
price can be read raises ``ParseError`` naming the headers expected and found. Tabs whose
panel is missing from the markup are logged and noted. Scraped strings are data only:
nothing is evaluated.

Layout: this module is the source (SPEC, fetch, parse); ``_lambda_layout`` tells a table's
columns, tab and block, ``_lambda_rows`` turns its rows into offers, and the page-independent
helpers (``html_tables``, ``parse_price``, ``price_basis``, ``norm_header``, ``first_number``,
``split_count``, ``parse_count``, ``is_not_priced``, ``ParsedPage``), shared with
``coreweave_pricing``, live in ``_price_tables`` and stay importable from here.

``parse`` is pure: no I/O besides logging.
"""

from __future__ import annotations

import logging
from typing import Any

from bs4 import BeautifulSoup

from pipelines.lib.http import PoliteClient
from pipelines.lib.sources._lambda_layout import (
    HIDDEN,
    block_mode,
    missing_panels,
    script_copies,
    tab_label,
    table_columns,
)
from pipelines.lib.sources._lambda_rows import (
    PROVIDER,
    check_instance_basis,
    records_for_table,
    size_columns,
    wide_cluster_records,
)
from pipelines.lib.sources._page import ACCEPT_HTML, fetch_page
from pipelines.lib.sources._price_tables import (
    HtmlTable,
    ParsedPage,
    first_number,
    html_tables,
    is_not_priced,
    kept_once,
    norm_header,
    orphan_tables,
    parse_cluster_count,
    parse_count,
    parse_price,
    price_basis,
    split_count,
)
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "lambda_pricing"
PAYLOAD_NAME = "pricing.html"
BASE_URL = "https://lambda.ai/pricing"
EXPECTED_HEADERS = (
    "a GPU column ('GPUs', 'GPU', 'Instance type', or an empty/'Plan' first column) and a price "
    "column ('Price / GPU / hr', 'PRICE/GPU/HR*'), optionally 'VRAM / GPU' and a GPU count"
)
# the fields that make two rows the same offer (a table rendered twice is read once)
_SAME_OFFER = (
    "gpu_name",
    "gpu_count",
    "gpu_memory_gb",
    "instance_type",
    "pricing",
    "reserved_term",
    "price",
    "price_basis",
    "currency",
)
log = logging.getLogger(__name__)

# the source, and the page-independent helpers importable from here as before (tests, docs)
__all__ = [
    "EXPECTED_HEADERS",
    "PAYLOAD_NAME",
    "PROVIDER",
    "SOURCE_ID",
    "SPEC",
    "HtmlTable",
    "ParsedPage",
    "fetch",
    "first_number",
    "html_tables",
    "is_not_priced",
    "norm_header",
    "parse",
    "parse_cluster_count",
    "parse_count",
    "parse_price",
    "price_basis",
    "split_count",
]

SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="gpu_offers",
    providers=(PROVIDER,),
    defaults={"enabled": True, "base_url": BASE_URL},
    terms=Terms(
        url="https://lambda.ai/legal/terms-of-service",
        verdict="unknown",
        checked="2026-12-01",
        quote=(
            "Website Terms of Service (last updated October 24, 2023) bind anyone 'visiting or "
            "browsing the Sites'; no clause on automated access or on re-use of the published "
            "prices could be read in the stored copy"
        ),
        licence="proprietary; published price list",
    ),
    description="Lambda pricing page (HTML): on-demand per-GPU prices per instance size, "
    "1-Click Cluster reserved rates",
)


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """One GET of the pricing page; a failure becomes a FetchFailure entry."""
    return fetch_page(client, source_cfg["base_url"], PAYLOAD_NAME, ACCEPT_HTML)


def _table_records(
    name: str,
    tables: list[HtmlTable],
    notes: dict[str, Any],
    inferred: list[tuple[str, dict[str, Any]]],
) -> list[dict[str, Any]]:
    """Offers of every table that is a GPU price table, in page order."""
    records: list[dict[str, Any]] = []
    for table in tables:
        sizes = size_columns(table)
        if sizes:  # never on-demand: one price column per cluster size
            records.extend(wide_cluster_records(name, table, sizes, notes))
            continue
        tab = tab_label(table.element) if table.element is not None else None
        cols = table_columns(table, name, block_mode(table, tab) == "reserved")
        if cols is None:
            continue
        records.extend(records_for_table(name, table, cols, notes, inferred))
    return records


def _require_on_demand(name: str, tables: list[HtmlTable], records: list[dict[str, Any]]) -> None:
    """A page without a single on-demand offer is not a page this parser understands."""
    if any(r["pricing"] == "on_demand" for r in records):
        return
    found = [t.header for t in tables][:8]
    reserved = sum(r["pricing"] == "reserved" for r in records)
    detail = f"; {reserved} reserved cluster row(s) only" if reserved else ""
    raise ParseError(
        f"{name}: no Lambda on-demand pricing table found: expected {EXPECTED_HEADERS}; "
        f"found {len(tables)} table(s) with headers {found}{detail}"
    )


def parse(name: str, content: bytes) -> ParsedPage:
    """Candidate offers (on-demand instances, reserved cluster rates) from one archived
    Lambda pricing page."""
    soup = BeautifulSoup(content, "html.parser")
    notes: dict[str, Any] = {"script_copies_ignored": script_copies(soup)}
    for tag in soup.find_all(HIDDEN):
        tag.decompose()
    tables = html_tables(soup) + orphan_tables(soup)
    inferred: list[tuple[str, dict[str, Any]]] = []
    records = _table_records(name, tables, notes, inferred)
    check_instance_basis(name, inferred)
    missing = missing_panels(soup)
    if missing:
        log.warning(
            "%s: tabs %s have no panel in the markup (filled in by JavaScript?)", name, missing
        )
        notes["tabs_without_panel"] = missing
    _require_on_demand(name, tables, records)
    unique = kept_once(name, records, notes, _SAME_OFFER, log)
    if notes.get("not_priced"):
        log.info(
            "%s: %d rows without a price (not offers): %s",
            name,
            len(notes["not_priced"]),
            notes["not_priced"][:5],
        )
    return ParsedPage(unique, notes)
