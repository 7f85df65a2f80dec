"""What makes a candidate record an offer, written once: the ordered quarantine rules.

``RULES`` is an ordered list of ``Rule(reason, when, detail)``: ``when`` is a polars
expression over the candidate columns (``candidates.candidate_frame``) and the derived ones
(``derive``); the first rule whose ``when`` holds quarantines the record with its reason and
``detail``; a record no rule matches is an offer. The order is the order in which the
definition checks a record, so a record with several faults is quarantined for the first
(an unnamed provider before an unknown GPU before a bad price ...). The one-record version
of the same definition lives in the tests as the oracle (``tests/offers_oracle.py``), and
tests/unit/test_offers_vectorised.py requires identical results on real payloads and on
hand-written records for every rule.

A detail quotes values as Python writes them (``repr`` of the record's value, ``str`` of a
float), which polars' own formatting does not match (``1e-09`` vs ``1e-9``): a detail
refers to such text as a column named by ``raw_repr`` / ``py_repr`` / ``py_str``, and
``python_text`` fills those in for the few records a rule quarantines.

Pure module: no I/O, no Dagster.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from pipelines.lib.gpus import UnmappedGpu, price_bounds, resolve_gpu
from pipelines.lib.offers.candidates import RawRecords
from pipelines.lib.offers.numbers import AMBIGUOUS_SUFFIX, ambiguous_column, fix_ties, near_tie
from pipelines.lib.offers.schema import MAX_GPU_COUNT, MAX_N_OFFERS, PRICE_BASES, PRICING_TYPES
from pipelines.lib.providers import provider_slug, provider_tier

# Rule.reason of the rule that quarantines what a parser flagged: the reason is the record's
# own ``quarantine_reason`` (a catalog's placeholder price ...)
PARSER_FLAG = "<the record's quarantine_reason>"
PER_GPU = {
    "price": "price_usd_per_gpu_hour",
    "price_min": "price_min_usd_per_gpu_hour",
    "price_max": "price_max_usd_per_gpu_hour",
}


@dataclass(frozen=True)
class Rule:
    """Quarantine a record with ``reason`` (and ``detail``, Utf8) when ``when`` holds."""

    reason: str
    when: pl.Expr
    detail: pl.Expr

    @property
    def reason_expr(self) -> pl.Expr:
        return pl.col("quarantine_reason") if self.reason == PARSER_FLAG else pl.lit(self.reason)


def raw_repr(key: str) -> pl.Expr:
    """``repr`` of the candidate record's own value of ``key`` (None when absent)."""
    return pl.col(f"raw:{key}")


def py_repr(column: str) -> pl.Expr:
    """``repr`` of a column's value, as Python writes it."""
    return pl.col(f"repr:{column}")


def py_str(column: str) -> pl.Expr:
    """``str`` of a column's value, as Python writes it (a float: ``1e-09``, ``inf``)."""
    return pl.col(f"str:{column}")


def _ambiguous(key: str) -> Rule:
    return Rule(
        "ambiguous_number",
        pl.col(ambiguous_column(key)),
        pl.format(f"{key}: {{}} {AMBIGUOUS_SUFFIX}", raw_repr(key)),
    )


def _out_of_bounds(label: str) -> Rule:
    value = PER_GPU[label]
    return Rule(
        "price_out_of_bounds",
        ~pl.col(value).is_between(pl.col("_lo"), pl.col("_hi")),
        pl.format(
            f"{label} {{}} USD/GPU-h for {{}} outside {{}}",
            py_str(value),
            pl.col("gpu_model"),
            pl.col("_bounds"),
        ),
    )


_count = pl.col("gpu_count")
_n_offers = pl.col("n_offers")
_non_usd = pl.col("_currency") != "USD"

RULES: list[Rule] = [
    Rule("missing_provider", pl.col("_provider") == "", pl.lit("record names no provider")),
    _ambiguous("gpu_memory_gb"),
    Rule("unknown_gpu", pl.col("gpu_model").is_null(), pl.col("_gpu_error")),
    Rule(
        PARSER_FLAG,
        pl.col("quarantine_reason").fill_null("") != "",
        pl.col("quarantine_detail").fill_null(""),
    ),
    Rule(
        "bad_pricing_type",
        ~pl.col("_pricing").is_in(PRICING_TYPES),
        pl.format(f"pricing {{}} not in {PRICING_TYPES}", raw_repr("pricing")),
    ),
    Rule(
        "bad_price_basis",
        ~pl.col("_basis").is_in(PRICE_BASES),
        pl.format(f"price basis {{}} not in {PRICE_BASES}", py_repr("_basis")),
    ),
    # a non-USD price is converted only with a reference rate of the ingest date (ecb_fx)
    Rule(
        "non_usd_currency",
        _non_usd & ~pl.col("_fx_loaded"),
        pl.format(
            "currency {}: no reference rates loaded for {} (ecb_fx), so no USD price",
            pl.col("_currency"),
            pl.col("_day"),
        ),
    ),
    Rule(
        "no_fx_rate",
        _non_usd & pl.col("_rate").is_null(),
        pl.format(
            "currency {}: the reference rates of {} have no rate for it, so no USD price",
            pl.col("_currency"),
            pl.col("_day"),
        ),
    ),
    _ambiguous("gpu_count"),
    Rule(
        "unknown_gpu_count",
        _count.is_null() & (pl.col("_basis") == "per_instance"),
        pl.lit("instance price with no GPU count: no per-GPU price"),
    ),
    Rule(
        "bad_gpu_count",
        _count.is_null() | (_count <= 0) | (_count > MAX_GPU_COUNT) | (_count != _count.floor()),
        pl.format("gpu_count {}", raw_repr("gpu_count")),
    ),
    _ambiguous("price"),
    Rule("missing_price", pl.col("price").is_null(), pl.format("price {}", raw_repr("price"))),
    Rule("non_positive_price", pl.col("price") <= 0, pl.format("price {}", py_str("price"))),
    _ambiguous("price_min"),
    _ambiguous("price_max"),
    _out_of_bounds("price"),
    _out_of_bounds("price_min"),
    _out_of_bounds("price_max"),
    _ambiguous("n_offers"),
    Rule(
        "bad_n_offers",
        _n_offers.is_not_null()
        & ~(_n_offers.is_between(1, MAX_N_OFFERS) & (_n_offers == _n_offers.floor())),
        pl.format(
            f"n_offers {{}} is not a count of offers in 1..{MAX_N_OFFERS}", raw_repr("n_offers")
        ),
    ),
    _ambiguous("available_gpus"),
]


def first_rule() -> pl.Expr:
    """The index in ``RULES`` of the first rule that quarantines the record (null: none)."""
    return _FIRST_RULE


_FIRST_RULE = pl.coalesce(
    pl.when(rule.when).then(pl.lit(i, dtype=pl.Int32)) for i, rule in enumerate(RULES)
)


# ------------------------------------------------------------------------- derived columns


def _lookup(frame: pl.DataFrame, keys: list[str], fn, out: dict[str, pl.DataType]) -> pl.DataFrame:
    """Join ``fn(*key values)`` -> a tuple of ``out`` columns, called once per distinct key."""
    distinct = frame.select(keys).unique()
    rows = [fn(*vals) for vals in distinct.iter_rows()]
    table = distinct.hstack(pl.DataFrame(rows, schema=out, orient="row"))
    return frame.join(table, on=keys, how="left", nulls_equal=True, maintain_order="left")


def _resolve(name: str, hint: str, memory: float | None) -> tuple:
    try:
        m = resolve_gpu(name, hint, memory)
    except UnmappedGpu as exc:
        return (None, None, None, None, None, None, str(exc))
    lo, hi = price_bounds(m.gpu_family)
    return (
        m.gpu_model,
        m.gpu_family,
        m.variant_assumed,
        float(lo),
        float(hi),
        f"[{lo}, {hi}]",
        None,
    )


_GPU_COLUMNS: dict[str, pl.DataType] = {
    "gpu_model": pl.Utf8,
    "gpu_family": pl.Utf8,
    "gpu_variant_assumed": pl.Boolean,
    "_lo": pl.Float64,
    "_hi": pl.Float64,
    "_bounds": pl.Utf8,
    "_gpu_error": pl.Utf8,
}


def _usable_rates(fx_rates: Mapping[str, float]) -> dict[str, float]:
    """The rates a price may be converted with: finite and positive numbers."""
    return {
        currency: float(rate)
        for currency, rate in fx_rates.items()
        if isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0
    }


_CURRENCY = (
    pl.when(pl.col("currency").fill_null("") == "")
    .then(pl.lit("USD"))
    .otherwise(pl.col("currency").str.to_uppercase())
)
_BASIS = pl.col("price_basis").fill_null("")


def _rate(fx_rates: Mapping[str, float] | None) -> pl.Expr:
    """USD per unit of the record's currency: 1 for USD, the day's reference rate, or null."""
    usd = _CURRENCY == "USD"
    if not fx_rates:
        return pl.when(usd).then(pl.lit(1.0))
    rates = _usable_rates(fx_rates)
    return (
        pl.when(usd)
        .then(pl.lit(1.0))
        .otherwise(_CURRENCY.replace_strict(rates, default=None, return_dtype=pl.Float64))
    )


def _text_columns(fx_rates: Mapping[str, float] | None, day: dt.date) -> list[pl.Expr]:
    return [
        pl.col("provider").fill_null("").alias("_provider_in"),
        pl.col("gpu_name").fill_null("").str.strip_chars().alias("gpu_name_raw"),
        pl.col("gpu_hint").fill_null("").alias("_hint"),
        pl.col("pricing")
        .fill_null("")
        .str.strip_chars()
        .str.to_lowercase()
        .str.replace_all("-", "_", literal=True)
        .alias("_pricing"),
        _BASIS.alias("_basis"),
        _CURRENCY.alias("_currency"),
        _rate(fx_rates).alias("_rate"),
        pl.lit(fx_rates is not None).alias("_fx_loaded"),
        pl.lit(day.isoformat()).alias("_day"),
    ]


def _per_gpu(fx_rates: Mapping[str, float] | None) -> list[pl.Expr]:
    """Prices in USD per GPU-hour (``_q_``), rounded to 6 places by polars (``_r_``) and where
    Python's rounding may differ (``_t_``). price * rate first, then / the GPU count of an
    instance price: the order of the definition (floats are not associative)."""
    divisor = pl.when(_BASIS == "per_instance").then(pl.col("gpu_count")).otherwise(1.0)
    out = []
    for c in PER_GPU:
        quotient = pl.col(c) * _rate(fx_rates) / divisor
        out += [
            quotient.alias(f"_q_{c}"),
            quotient.round(6).alias(f"_r_{c}"),
            near_tie(quotient, 6).alias(f"_t_{c}"),
        ]
    return out


def _provider(name: str, segment: str | None) -> tuple[str, str | None]:
    slug = provider_slug(name)
    return slug, provider_tier(slug, segment) if slug else None


def derive(frame: pl.DataFrame, fx_rates: Mapping[str, float] | None, day: dt.date) -> pl.DataFrame:
    """The candidate frame with the columns the rules and the offers need: provider slug and
    tier, the resolved GPU and its price bounds, normalised pricing / basis / currency, the
    USD rate, and the per-GPU-hour USD prices (rounded to 6 places as Python rounds; a
    missing min / max is the price)."""
    f = frame.with_columns(*_text_columns(fx_rates, day), *_per_gpu(fx_rates))
    # polars rounds the scaled value: the few near ties are rounded by Python instead
    for c in PER_GPU:
        rounded = fix_ties(f[f"_r_{c}"], f[f"_q_{c}"], f[f"_t_{c}"], 6)
        f.replace_column(f.get_column_index(f"_r_{c}"), rounded)
    f = _lookup(
        f, ["_provider_in", "segment"], _provider, {"_provider": pl.Utf8, "provider_tier": pl.Utf8}
    )
    f = _lookup(f, ["gpu_name_raw", "_hint", "gpu_memory_gb"], _resolve, _GPU_COLUMNS)
    price = pl.col("_r_price")
    return f.with_columns(
        price.alias(PER_GPU["price"]),
        pl.coalesce(pl.col("_r_price_min"), price).alias(PER_GPU["price_min"]),
        pl.coalesce(pl.col("_r_price_max"), price).alias(PER_GPU["price_max"]),
    )


# --------------------------------------------------------------------- details' Python text


def python_text(rows: pl.DataFrame, exprs: list[pl.Expr], raw: RawRecords) -> pl.DataFrame:
    """``rows`` with the ``raw:`` / ``repr:`` / ``str:`` columns ``exprs`` refer to."""
    names = {name for expr in exprs for name in expr.meta.root_names()}
    idx = rows.get_column("_i").to_list()
    columns = []
    for name in sorted(names):
        kind, _, column = name.partition(":")
        if kind == "raw":
            text = [repr(v) for v in raw.values(column, idx)]
        elif kind == "repr":
            text = [repr(v) for v in rows.get_column(column).to_list()]
        elif kind == "str":
            text = [str(v) for v in rows.get_column(column).to_list()]
        else:
            continue
        columns.append(pl.Series(name, text, dtype=pl.Utf8))
    return rows.with_columns(columns) if columns else rows
