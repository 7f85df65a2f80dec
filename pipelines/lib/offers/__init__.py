"""The canonical offer schema and the one place raw source records become offers.

Every source's ``parse`` yields *candidate records* (plain dicts with the ``RAW_OFFER_KEYS``,
or for high-volume sources a polars frame of them) straight from its payload.
``normalise_offers`` turns them into two polars frames:

* ``offers``      -- canonical offers (``OFFER_SCHEMA``): provider slug and tier, canonical
  GPU id, per-GPU-hour USD price beside the original price, its basis and currency;
* ``quarantine``  -- every record that could not become a trustworthy offer, with the
  reason (``QUARANTINE_SCHEMA``): unknown GPU name, non-USD currency, missing/zero/negative
  price, per-GPU price outside the family's sane bounds, bad GPU count, a number written in a
  form that is not positively understood (``ambiguous_number``: ``2,49``, ``1_0``), an
  offer count that is not a count (``bad_n_offers``).

Nothing is dropped silently: ``len(offers) + len(quarantine) == len(records)``.

The package, by concern: ``schema`` (schemas, record keys, limits), ``numbers`` (numbers
read from text, never guessed), ``candidates`` (records -> typed columns), ``rules`` (the
ordered (reason, expression) rules: what an offer is, written once) and ``normalise``
(``normalise_offers``). Every public name is re-exported here.

Pure modules: no I/O, no Dagster.
"""

from __future__ import annotations

from pipelines.lib.offers.normalise import normalise_offers
from pipelines.lib.offers.numbers import (
    PRICE_TEXT_PATTERN,
    AmbiguousNumber,
    parse_price_text,
    read_number,
    round_like_python,
)
from pipelines.lib.offers.rules import RULES, Rule
from pipelines.lib.offers.schema import (
    FLAG_KEYS,
    MAX_GPU_COUNT,
    MAX_N_OFFERS,
    OFFER_SCHEMA,
    PRICE_BASES,
    PRICING_TYPES,
    QUARANTINE_SCHEMA,
    RAW_OFFER_KEYS,
    empty_offers,
    empty_quarantine,
    quarantine_payload,
)

__all__ = [
    "FLAG_KEYS",
    "MAX_GPU_COUNT",
    "MAX_N_OFFERS",
    "OFFER_SCHEMA",
    "PRICE_BASES",
    "PRICE_TEXT_PATTERN",
    "PRICING_TYPES",
    "QUARANTINE_SCHEMA",
    "RAW_OFFER_KEYS",
    "RULES",
    "AmbiguousNumber",
    "Rule",
    "empty_offers",
    "empty_quarantine",
    "normalise_offers",
    "parse_price_text",
    "quarantine_payload",
    "read_number",
    "round_like_python",
]
