"""CoreWeave on-demand GPU instance prices, scraped from the public pricing page (HTML).

Live: one ``GET <base_url>`` (``https://www.coreweave.com/pricing``), archived as
``pricing.html``. No key is needed; CoreWeave publishes no public price API (the
becloudready scraper reads the page's HTML table, shared/data/provider_payloads/README.md).

Page structure assumed (no real capture of the page was available; this follows the
public page as remembered, unverified -- the tests use a hand-written fixture,
tests/fixtures/coreweave_pricing/): a GPU instance pricing table, one row per instance
(whole node), columns like::

    GPU Model        | GPU Count | VRAM (GB) | vCPUs | System RAM (GB) | Local Storage (TB) | Instance Price
    NVIDIA HGX H100  | 8         | 80        | 128   | 2,048           | 61.44              | $49.24

Every priced row becomes one ``on_demand`` offer with ``price_basis`` ``per_instance`` and
``gpu_count`` = the GPU count (``normalise_offers`` divides: 49.24 / 8 = 6.155 per GPU-hour),
``gpu_name`` = the model cell, ``gpu_memory_gb`` = the VRAM cell (per GPU),
``instance_type`` = an instance-type/ID column when the page has one (else None). CoreWeave
sells most GPUs only as 8-GPU nodes; its single-GPU "classic" per-component prices live on
another page (``/pricing/classic``) and are not read here.

Decisions and quirks handled:

1. Tables are found by header text, never by CSS class: a table qualifies when one header
   names the GPU (``GPU Model``, ``GPU``, ``GPU type``) and one a price. ``<table>``
   elements and ARIA grids are both read (helpers shared with ``lambda_pricing``). CPU
   instance and storage tables have no GPU column and are ignored.
2. The basis comes from the price column's wording: "Instance price", "per node" ->
   ``per_instance``; "/ GPU / hr", "per GPU" -> ``per_gpu``. Wording that says neither is a
   ``ParseError`` (an instance price read as per GPU is 8x too dear; the reverse is 8x too
   cheap and still inside the sane bounds, so it must not be guessed).
3. "HGX" names an SXM baseboard: ``gpu_hint`` = ``SXM`` for those rows, so "NVIDIA HGX
   H100" is H100-SXM-80GB without the variant being assumed. A bare "NVIDIA A100" with
   80 GB resolves to the SXM default and is flagged ``gpu_variant_assumed``.
4. Whitespace, ``&nbsp;``, ``$``, commas, footnote marks and unit words in cells are
   tolerated; a price cell that does not hold exactly one number ("Contact us", a range)
   is passed on as text so ``normalise_offers`` quarantines the row (``missing_price``); a
   count that cannot be read leaves ``gpu_count`` None (quarantined ``unknown_gpu_count``).
   Nothing is dropped silently.
5. Tables under a heading about reserved or spot capacity are skipped on
   purpose (no term, not on-demand); the skip is logged. Group-label rows (one filled
   cell) and repeated header rows are not offers; rows repeated verbatim (desktop and
   mobile renderings of one table) are kept once.

Fail loudly: a page with no table of that shape, a table with no data rows, or one in
which no price can be read raises ``ParseError`` naming the headers expected and found.
Scraped strings are data only: nothing is evaluated.

``parse`` is pure: no I/O besides logging.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from bs4 import BeautifulSoup

from pipelines.lib.http import FetchError, PoliteClient
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload
from pipelines.lib.sources.lambda_pricing import (
    HtmlTable,
    first_number,
    html_tables,
    norm_header,
    parse_count,
    parse_price,
    price_basis,
    split_count,
)

SOURCE_ID = "coreweave_pricing"
PROVIDER = "coreweave"
PAYLOAD_NAME = "pricing.html"
ACCEPT_HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
EXPECTED_HEADERS = (
    "a GPU column ('GPU Model', 'GPU') and a price column ('Instance Price', per hour), "
    "optionally 'GPU Count' and 'VRAM (GB)'"
)
log = logging.getLogger(__name__)

# Header roles, tried in this order (the first match wins): "Instance Price" is a price,
# "VRAM (GB)" memory and "GPU Count" a count before either can look like the GPU column.
_PRICE_HEADER = re.compile(r"\bprice\b|\bcost\b|\$|\busd\b|/\s*h(?:ou)?r\b|\bper hour\b")
_NOT_ON_DEMAND_PRICE = re.compile(r"reserv|commit|\bspot\b|\bterm\b|month|\byear|annual")
_VRAM_HEADER = re.compile(r"\bvram\b|\bgpu mem(?:ory)?\b|\bmemory\s*(?:/|per)\s*gpu\b")
_COUNT_HEADER = re.compile(r"\bgpu count\b|#\s*(?:of\s*)?gpus?\b|\bnumber of gpus\b|\bgpus per (?:instance|node)\b")
_INSTANCE_HEADER = re.compile(r"\binstance(?: type| id| name)?\b")
_GPU_HEADER = re.compile(r"\bgpus?\b|\bgpu (?:model|type|name)\b|\baccelerators?\b")
# not "cluster" (CoreWeave sells every GPU as cluster nodes) nor "commit" ("no commitment")
_SKIP_SECTION = re.compile(r"reserv|\bspot\b|interruptible")
_HGX = re.compile(r"\bHGX\b", re.IGNORECASE)


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """One GET of the pricing page; a failure becomes a FetchFailure entry."""
    url = source_cfg["base_url"]
    try:
        resp = client.get(url, headers={"Accept": ACCEPT_HTML})
    except FetchError as exc:
        return [FetchFailure(PAYLOAD_NAME, url, str(exc))]
    return [Payload(PAYLOAD_NAME, resp.content, resp.url, resp.status, resp.content_type, resp.fetched_at)]


@dataclass
class _Columns:
    gpu: int
    price: int
    vram: int | None
    count: int | None
    instance: int | None


def _columns(table: HtmlTable, name: str) -> _Columns | None:
    """Column roles from the header texts; None when the table is not a GPU price table."""
    headers = [norm_header(h) for h in table.header]
    price_cols: list[int] = []
    count_cols: list[int] = []
    gpu_cols: list[int] = []
    vram = instance = None
    for i, h in enumerate(headers):
        if not h:
            continue
        if _PRICE_HEADER.search(h):
            if not _NOT_ON_DEMAND_PRICE.search(h):
                price_cols.append(i)
        elif _VRAM_HEADER.search(h):
            vram = i if vram is None else vram
        elif _COUNT_HEADER.search(h):
            count_cols.append(i)
        elif _INSTANCE_HEADER.search(h):
            instance = i if instance is None else instance
        elif _GPU_HEADER.search(h):
            gpu_cols.append(i)
    # of two GPU-ish columns ("GPU", "GPUs"), the one holding only numbers is the count
    for i in list(gpu_cols):
        cells = [r[i] for r in table.rows if i < len(r) and r[i]]
        if len(gpu_cols) > 1 and cells and all(parse_count(c) is not None for c in cells):
            gpu_cols.remove(i)
            count_cols.append(i)
    if not gpu_cols:
        return None
    if not price_cols:
        log.warning("%s: table with headers %s has a GPU column but no on-demand price column; "
                    "skipped", name, table.header)
        return None
    if len(price_cols) > 1:
        on_demand = [i for i in price_cols if "on-demand" in headers[i] or "on demand" in headers[i]]
        if len(on_demand) != 1:
            raise ParseError(f"{name}: table with headers {table.header} has several price columns "
                             f"{[table.header[i] for i in price_cols]}; cannot tell the on-demand one")
        price_cols = on_demand
    return _Columns(gpu_cols[0], price_cols[0], vram, count_cols[0] if count_cols else None, instance)


def _cell(row: list[str], index: int | None) -> str:
    return row[index] if index is not None and index < len(row) else ""


def _records_for_table(name: str, table: HtmlTable, cols: _Columns) -> list[dict[str, Any]]:
    header_basis = price_basis(table.header[cols.price])
    normalised_header = [norm_header(h) for h in table.header]
    records: list[dict[str, Any]] = []
    n_priced = 0
    for row in table.rows:
        filled = [c for c in row if c]
        if not filled:
            continue
        if len(filled) == 1 and len(table.header) >= 3:
            log.debug("%s: group label row %r", name, filled[0])
            continue
        if [norm_header(c) for c in row] == normalised_header:
            continue  # the header repeated inside the table
        count, gpu_name = split_count(_cell(row, cols.gpu))
        if cols.count is not None:
            count = parse_count(_cell(row, cols.count))  # None -> quarantined, never guessed
        price_text = _cell(row, cols.price)
        price, currency = parse_price(price_text)
        basis = header_basis or price_basis(price_text)
        if basis is None:
            raise ParseError(
                f"{name}: cannot tell whether prices are per instance or per GPU: price header "
                f"{table.header[cols.price]!r}, cell {price_text!r} (expected 'Instance price' or '/ GPU / hr')"
            )
        if price is not None:
            n_priced += 1
        records.append({
            "provider": PROVIDER,
            "segment": None,
            "upstream_source": None,
            "gpu_name": gpu_name,
            "gpu_hint": "SXM" if _HGX.search(gpu_name) else "",
            "gpu_memory_gb": first_number(_cell(row, cols.vram)),
            "gpu_count": count,
            "instance_type": _cell(row, cols.instance) or None,
            "region": None,
            "pricing": "on_demand",
            "reserved_term": None,
            # an unreadable price is kept as its text: normalise_offers quarantines it
            "price": price if price is not None else price_text,
            "price_basis": basis,
            "currency": currency,
            "price_min": None,
            "price_max": None,
            "n_offers": None,
            "stock_status": None,
            "available_gpus": None,
            "payload_name": name,
            "date": None,
        })
    if not records:
        raise ParseError(f"{name}: pricing table {table.header} under {table.headings[:2]} has no data rows "
                         "(filled in by JavaScript, or the layout changed)")
    if n_priced == 0:
        raise ParseError(f"{name}: pricing table {table.header} under {table.headings[:2]}: no price "
                         f"could be read in {len(records)} rows (e.g. {records[0]['price']!r})")
    return records


def parse(name: str, content: bytes) -> list[dict[str, Any]]:
    """Candidate on-demand offers from one archived CoreWeave pricing page."""
    soup = BeautifulSoup(content, "html.parser")
    tables = html_tables(soup)
    records: list[dict[str, Any]] = []
    skipped_sections: list[str] = []
    for table in tables:
        cols = _columns(table, name)
        if cols is None:
            continue
        section = " / ".join(table.headings[:3])
        if _SKIP_SECTION.search(section.lower()):
            log.info("%s: skipped table %s under %r (not on-demand)", name, table.header, section)
            skipped_sections.append(section)
            continue
        records.extend(_records_for_table(name, table, cols))
    if not records:
        found = [t.header for t in tables][:8]
        detail = f"; GPU tables skipped as reserved/spot: {skipped_sections}" if skipped_sections else ""
        raise ParseError(f"{name}: no CoreWeave GPU instance pricing table found: expected {EXPECTED_HEADERS}; "
                         f"found {len(tables)} table(s) with headers {found}{detail}")
    unique: dict[tuple, dict[str, Any]] = {}
    for rec in records:
        key = tuple(rec[k] for k in ("gpu_name", "gpu_count", "gpu_memory_gb", "instance_type",
                                     "price", "price_basis", "currency"))
        unique.setdefault(key, rec)
    if len(unique) < len(records):
        log.info("%s: %d repeated rows (same table rendered twice) kept once", name, len(records) - len(unique))
    return list(unique.values())
