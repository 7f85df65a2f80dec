"""ECB euro foreign exchange reference rates: the daily rates that turn EUR prices into USD.

Live: ``GET <base_url>`` (``https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml``),
archived as ``eurofxref-daily.xml``. No key. The ECB publishes the reference rates at about
16:00 CET on every TARGET working day; the daily file always holds the latest set, so a
fetch on a Saturday archives Friday's rates, and the archive date (the observation date) and
the ECB's own rate date (``<Cube time="...">``) are both kept.

The file's structure (an SDMX-flavoured ``gesmes:Envelope``)::

    <gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"
                     xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
      <gesmes:subject>Reference rates</gesmes:subject>
      <gesmes:Sender><gesmes:name>European Central Bank</gesmes:name></gesmes:Sender>
      <Cube><Cube time="2026-11-30">
        <Cube currency="USD" rate="1.0412"/> <Cube currency="JPY" rate="157.19"/> ...
      </Cube></Cube>
    </gesmes:Envelope>

Every rate is "1 EUR = ``rate`` units of ``currency``" (the ECB's "certain" quotation).
``parse`` writes one ``raw.fx_rates`` row per currency (see ``pipelines.lib.families``); a
rate that is not a positive number becomes a problem row (``bad_rate``, quarantined), and an
envelope without the time cube or without a USD rate raises ``ParseError`` -- a file that
cannot convert EUR to USD is not a success.

How the rates are used (the conversion design, kept pure):

1. ``ecb_fx`` is a market-kind source: it archives the XML and loads ``raw.fx_rates``.
2. ``usd_rates_for_day(archive_dir, day)`` reads the ECB payload archived for ``day`` (the same
   bytes the warehouse rows come from) and returns ``{currency: USD per 1 unit}``:
   ``EUR -> rate(USD)``, ``X -> rate(USD) / rate(X)``, ``USD -> 1``. ``None`` when nothing
   is archived for that date: rates are never carried over from another date here.
3. ``pipelines.lib.ingest`` passes that mapping to ``normalise_offers(fx_rates=...)``, which
   converts a non-USD offer's price with the rate of its date and keeps the original price and
   currency beside the USD value (``price_original``, ``currency``); an offer whose currency
   has no rate for the date is quarantined (``non_usd_currency`` when no rates were loaded
   for that date at all, ``no_fx_rate`` when the currency is missing from them) -- never
   guessed. Re-running the GPU source for that date after ``ecb_fx`` converts it.

The ECB reference rates are "published for information purposes only"; using one day's rate
for a day's list prices is exactly that use. A rate set older than ``MAX_RATE_AGE_DAYS``
before the archive date (a broken mirror serving an old file) is refused by
``usd_rates_for_day`` (``None``), since a weekend or a TARGET holiday run of at most four days
covers every legitimate gap.

``parse`` is pure: no I/O besides logging.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.lib import archive
from pipelines.lib.families import parsed_columns
from pipelines.lib.http import FetchError, PoliteClient
from pipelines.lib.offers import parse_price_text
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "ecb_fx"
TABLE = "raw.fx_rates"
PAYLOAD_NAME = "eurofxref-daily.xml"
DEFAULT_BASE_URL = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"
BASE_CURRENCY = "EUR"
MAX_RATE_AGE_DAYS = 7
_ECB_NS = "http://www.ecb.int/vocabulary/2002-08-01/eurofxref"
_GESMES_NS = "http://www.gesmes.org/xml/2002-08-01"

SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="market",
    providers=("ecb",),
    defaults={"enabled": True, "base_url": DEFAULT_BASE_URL},
    raw_tables=(TABLE,),
    terms=Terms(
        url="https://www.ecb.europa.eu/services/disclaimer/html/index.en.html",
        verdict="permits",
        checked="2026-12-01",
        quote="ECB press releases on the reference rates end 'Reproduction is permitted provided "
        "that the source is acknowledged' (German edition: 'Nachdruck nur mit Quellenangabe "
        "gestattet'); the rates 'are provided as a public good' and 'published for "
        "information purposes only. Using the rates for transaction purposes is strongly "
        "discouraged.' The disclaimer page itself could not be retrieved here.",
        licence="ECB reference rates; free reuse with the source acknowledged",
    ),
    description="ECB euro reference rates (daily): converts EUR-priced offers to USD",
)

log = logging.getLogger(__name__)


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """GET the daily reference-rate file (one payload)."""
    url = source_cfg["base_url"]
    try:
        resp = client.get(url)
    except FetchError as exc:
        return [FetchFailure(PAYLOAD_NAME, url, str(exc))]
    return [
        Payload(
            PAYLOAD_NAME, resp.content, resp.url, resp.status, resp.content_type, resp.fetched_at
        )
    ]


def _rate_cube(content: bytes) -> tuple[dt.date, list[tuple[str, str]]]:
    """(the ECB's rate date, [(currency, rate text)]) of a daily file; ParseError otherwise."""
    try:
        root = ET.fromstring(content)
    except ET.ParseError as exc:
        raise ParseError(f"not XML: {exc}") from None
    if root.tag != f"{{{_GESMES_NS}}}Envelope":
        raise ParseError(f"root element {root.tag!r} is not a gesmes:Envelope")
    dated = root.findall(f"{{{_ECB_NS}}}Cube/{{{_ECB_NS}}}Cube[@time]")
    if len(dated) != 1:
        raise ParseError(
            f"expected one <Cube time=...> of daily rates, found {len(dated)} "
            "(the daily file holds exactly one; a history file is not read here)"
        )
    try:
        rate_date = dt.date.fromisoformat(dated[0].get("time", ""))
    except ValueError:
        raise ParseError(f"rate date {dated[0].get('time')!r} is not YYYY-MM-DD") from None
    rates = [
        (str(c.get("currency") or ""), str(c.get("rate") or ""))
        for c in dated[0].findall(f"{{{_ECB_NS}}}Cube")
    ]
    if not rates:
        raise ParseError(f"rate cube of {rate_date} lists no currency")
    return rate_date, rates


def parse(name: str, content: bytes) -> dict[str, pl.DataFrame]:
    """One daily file -> ``{"raw.fx_rates": rows}``: one row per currency, ``rate`` = units of
    ``currency`` per 1 EUR; a rate that is not a positive number is a ``bad_rate`` row."""
    try:
        rate_date, rates = _rate_cube(content)
    except ParseError as exc:
        raise ParseError(f"{name}: {exc}") from None
    rows = []
    for currency, text in rates:
        problem = None
        try:
            rate: float | None = parse_price_text(text)
        except ValueError:
            rate = None
        if not currency or len(currency) != 3 or not currency.isalpha():
            problem = "bad_currency"
        elif rate is None or not math.isfinite(rate) or rate <= 0:
            problem, rate = "bad_rate", None
        rows.append(
            {
                "rate_date": rate_date,
                "base_currency": BASE_CURRENCY,
                "currency": currency.upper(),
                "rate": rate,
                "rate_raw": text,
                "payload_name": name,
                "problem": problem,
            }
        )
    if not any(r["currency"] == "USD" and r["problem"] is None for r in rows):
        raise ParseError(
            f"{name}: rate cube of {rate_date} has no usable USD rate: EUR prices cannot be "
            "converted with this file"
        )
    return {TABLE: pl.DataFrame(rows, schema=parsed_columns(TABLE))}


def usd_per_unit(frame: pl.DataFrame) -> dict[str, float]:
    """``raw.fx_rates`` rows of one date (good rows only) -> ``{currency: USD per 1 unit}``,
    EUR included; USD is 1. Cross rates go through the euro, as the ECB quotes them."""
    good = frame.filter(pl.col("problem").is_null())
    per_eur = dict(zip(good["currency"].to_list(), good["rate"].to_list(), strict=True))
    usd = per_eur.get("USD")
    if not usd:
        return {}
    out = {cur: usd / rate for cur, rate in per_eur.items() if cur != "USD"}
    out[BASE_CURRENCY] = usd
    out["USD"] = 1.0
    return out


def usd_rates_for_day(archive_dir: Path, day: dt.date) -> dict[str, float] | None:
    """USD per unit of each currency from the ECB file archived for ``day``, or ``None`` when
    the archive holds none for that date, none of its files parse, or its rate date is more
    than ``MAX_RATE_AGE_DAYS`` before ``day`` (see the module docstring)."""
    try:
        stored = archive.read_payloads(Path(archive_dir), SOURCE_ID, day)
    except archive.ArchiveError:
        return None
    for payload in stored:
        if payload.refused:
            continue
        try:
            frame = parse(payload.name, payload.content)[TABLE]
        except ParseError as exc:
            log.warning("%s %s %s: %s", SOURCE_ID, day, payload.name, exc)
            continue
        rate_date = frame["rate_date"][0]
        if not 0 <= (day - rate_date).days <= MAX_RATE_AGE_DAYS:
            log.warning(
                "%s %s: rate date %s is not within %d days before the archive date",
                SOURCE_ID,
                day,
                rate_date,
                MAX_RATE_AGE_DAYS,
            )
            continue
        rates = usd_per_unit(frame)
        if rates:
            return rates
    return None
