"""Numbers are read, never guessed: prices and counts written as text.

``parse_price_text`` is the strict reader of one text (parsers of pages and catalogs use it),
``read_number`` the reading of one candidate-record value, ``number_frame`` the same over
whole columns (the normaliser's), which also says which values were ambiguous, and
``round_like_python`` rounds a column exactly as Python's ``round`` does.

Pure module: no I/O, no Dagster.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl


class AmbiguousNumber(ValueError):
    """A text holds digits, but not in a form that says one number for certain."""


# What a price (or count) written as text may look like -- everything else with a digit in it
# is ambiguous and quarantined, never guessed:
#   2.49  .5  2.  1e-05  +3  -1.5     plain decimals (Python/polars float syntax without "_")
#   $2.49  -$2.49  $ 2.49             a dollar sign before the number
#   1,234.56  12,345  1,234,567       commas only as thousands separators: groups of exactly
#                                     three digits after the first group of one to three
# Refused: "2,49" (a decimal comma: 249 or 2.49?), "1_0" (Python's float() reads 10),
# "1.234,56", "1 0", "2.49/hr", "1,2345". The one form left open to a decimal-comma misreading,
# "2,490" (2490 or 2.490), reads as 2490 -- for a per-GPU-hour price that is far outside every
# family's bounds (price_out_of_bounds), so it cannot be accepted as a plausible price either.
# ASCII digits only: "\d" would also take other scripts' digits, which polars cannot cast.
_NUMBER_TEXT = (
    r"(?:[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?"
    r"|\.[0-9]+(?:[eE][+-]?[0-9]+)?"
    r"|[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?)"
)
PRICE_TEXT_PATTERN = rf"^(?:[+-]\$?|\$[+-]?)?\s*{_NUMBER_TEXT}$"
_PRICE_TEXT = re.compile(PRICE_TEXT_PATTERN)
_STRIP_FROM_PRICE_TEXT = r"[$,\s]"  # what is removed from an accepted text before float()
# what an AmbiguousNumber says after the text it refused
AMBIGUOUS_SUFFIX = (
    "is not a number in a form read without guessing "
    "(plain decimal, optional $, thousands separators 1,234.56)"
)


def parse_price_text(text: str) -> float:
    """A price (or count) written as text -> float, strictly: the forms above only.

    Raises ``AmbiguousNumber`` (a ``ValueError``) for text with digits in any other form, and
    ``ValueError`` for text with no digit at all ("", "N/A", "nan", "-"). For parsers of
    pages and catalogs that turn text into numbers themselves: use this, not ``float()`` or
    ``.replace(",", "")``, so that every source reads "2,49" and "1_0" the same way."""
    stripped = text.strip()
    if not re.search(r"[0-9]", stripped):
        raise ValueError(f"no number in {text!r}")
    if not _PRICE_TEXT.match(stripped):
        raise AmbiguousNumber(f"{text!r} {AMBIGUOUS_SUFFIX}")
    return float(re.sub(_STRIP_FROM_PRICE_TEXT, "", stripped))


def read_number(value: Any) -> float | None:
    """A price/count as float; '' / None / NaN / text without digits -> None. Text is read by
    ``parse_price_text`` ('$2.49', '1,234.56'), which raises ``AmbiguousNumber`` for text it
    does not positively understand ('2,49', '1_0'). An integer too large for a float is +/-inf
    (out of every bound), not an error."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            f = parse_price_text(value)
        except AmbiguousNumber:
            raise
        except ValueError:
            return None
        return None if math.isnan(f) else f
    try:
        f = float(value)
    except OverflowError:  # an int beyond float range (a 400-digit JSON number)
        return math.inf if value > 0 else -math.inf
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def ambiguous_column(key: str) -> str:
    """The column that says ``key``'s text was not a number in a form read without guessing."""
    return f"_amb_{key}"


def _text_number(key: str) -> list[pl.Expr]:
    """``key`` (text) read as ``parse_price_text`` reads it -> (value, ambiguous): text in
    one of its forms is cast by polars, text with digits in any other form is null and
    ambiguous, text without digits is null."""
    text = pl.col(key).str.strip_chars()
    value = pl.when(text.str.contains(PRICE_TEXT_PATTERN)).then(
        text.str.replace_all(_STRIP_FROM_PRICE_TEXT, "").cast(pl.Float64, strict=False)
    )
    digits = text.str.contains("[0-9]").fill_null(False)
    return [value.alias(key), (value.is_null() & digits).alias(ambiguous_column(key))]


def _number(key: str) -> list[pl.Expr]:
    return [pl.col(key).fill_nan(None), pl.lit(False).alias(ambiguous_column(key))]


def _as_column(key: str, values: Sequence[Any] | pl.Series) -> tuple[pl.Series, dict[int, Any]]:
    """``values`` as a Float64 column (numbers) or a Utf8 one (text to read), and the values
    that are neither (``True`` in a mixed column), by position."""
    if isinstance(values, pl.Series) and values.dtype in (pl.Utf8, pl.Float64):
        return values.alias(key), {}
    try:
        return pl.Series(key, values, dtype=pl.Float64, strict=True), {}
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
        pass
    text = pl.Series(key, [v if isinstance(v, str) else None for v in values], dtype=pl.Utf8)
    return text, {i: v for i, v in enumerate(values) if v is not None and not isinstance(v, str)}


def number_frame(values_by_key: Mapping[str, Sequence[Any] | pl.Series]) -> pl.DataFrame:
    """``read_number`` over whole columns -> a frame of ``key`` (Float64, NaN as null) and
    ``ambiguous_column(key)`` (Boolean) per key, in one polars pass: numbers convert in one
    step, text (``"8"`` from a CSV, ``"$2.49"`` from a page) is read by ``_text_number``;
    values that are neither (``True`` in a mixed column) take ``read_number`` one by one."""
    columns = {key: _as_column(key, values) for key, values in values_by_key.items()}
    read = pl.DataFrame([col for col, _ in columns.values()]).select(
        e
        for key, (col, _) in columns.items()
        for e in (_text_number(key) if col.dtype == pl.Utf8 else _number(key))
    )
    for key, (_, other) in columns.items():
        if other:
            fixed = pl.Series([read_number(v) for v in other.values()], dtype=pl.Float64)
            value = read.get_column(key).scatter(list(other), fixed)
            read.replace_column(read.get_column_index(key), value)
    return read


def near_tie(values: pl.Expr, digits: int) -> pl.Expr:
    """True where polars' ``round(digits)`` may land the other side of a tie from Python's."""
    scaled = values * 10.0**digits
    return ((scaled - scaled.floor()) - 0.5).abs() < 1e-6


def fix_ties(rounded: pl.Series, values: pl.Series, ties: pl.Series, digits: int) -> pl.Series:
    """``rounded`` (polars' rounding of ``values``) with the near ties rounded by Python."""
    if not ties.any():
        return rounded
    idx = ties.arg_true()
    exact = [None if v is None else round(v, digits) for v in values.gather(idx).to_list()]
    return rounded.scatter(idx, pl.Series(exact, dtype=pl.Float64))


def round_like_python(values: pl.Series, digits: int) -> pl.Series:
    """``round(v, digits)`` over a column, exactly as Python rounds: polars rounds the scaled
    value, which can land the other side of a tie (11.7655 / 8 = 1.47068749999... -> Python
    1.470687, polars 1.470688), so the values within reach of a tie are rounded by Python."""
    v = pl.col(values.name)
    read = values.to_frame().select(v.round(digits).alias("r"), near_tie(v, digits).alias("t"))
    return fix_ties(read.get_column("r"), values, read.get_column("t"), digits).alias(values.name)
