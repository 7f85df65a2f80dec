"""The page-independent cell readers of ``sources._price_tables`` (shared by the Lambda and
CoreWeave parsers): prices, bases, cluster sizes and "no price" cells as real pages print
them, and their old import path ``lambda_pricing`` still giving the same functions."""

from __future__ import annotations

import pytest

from pipelines.lib.sources import _price_tables, coreweave_pricing, lambda_pricing
from pipelines.lib.sources._price_tables import (
    is_not_priced,
    parse_cluster_count,
    parse_price,
    price_basis,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$3.99", (3.99, "USD")),
        ("  $ 3.99 / GPU / hr ", (3.99, "USD")),
        ("$49.24/hr", (49.24, "USD")),
        ("$3.99 per GPU-hour*", (3.99, "USD")),
        ("$1.89/H100/hour", (1.89, "USD")),
        ("US$1,234.50", (1234.5, "USD")),
        ("2.99 USD", (2.99, "USD")),
        ("€2.10", (2.1, "EUR")),
        ("Contact sales", (None, "USD")),
        ("from $2.99", (None, "USD")),
        ("$2.99 – $3.49", (None, "USD")),
        ("$3.29 $2.99", (None, "USD")),
        ("", (None, "USD")),
        ("__import__('os').system('x')", (None, "USD")),
    ],
)
def test_parse_price(text, expected):
    assert parse_price(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Price / GPU / hr*", "per_gpu"),
        ("PRICE/GPU/HR*", "per_gpu"),
        ("$1.89/H100/hour", "per_gpu"),
        ("$3.99 per GPU", "per_gpu"),
        ("GPU-hour", "per_gpu"),
        ("Instance Price (per hour)", "per_instance"),
        ("Price per node / hr", "per_instance"),
        ("Price", None),
        ("$20.72 / hr", None),
    ],
)
def test_price_basis(text, expected):
    assert price_basis(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("16", 16),
        ("256+", 256),
        ("64 - 60,000", 64),
        ("2,000+ GPUs", 2000),
        ("a few", None),
        ("", None),
    ],
)
def test_parse_cluster_count(text, expected):
    assert parse_cluster_count(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Contact sales", True),
        ("CONTACT SALES", True),
        ("N/A", True),
        ("Sold out", True),
        ("—", True),
        ("$2.99", False),
        ("from $2.99", False),
        ("", False),
    ],
)
def test_is_not_priced(text, expected):
    assert is_not_priced(text) is expected


def test_helpers_stay_importable_from_lambda_pricing():
    for name in (
        "HtmlTable",
        "ParsedPage",
        "first_number",
        "html_tables",
        "is_not_priced",
        "norm_header",
        "parse_cluster_count",
        "parse_count",
        "parse_price",
        "price_basis",
        "split_count",
    ):
        assert getattr(lambda_pricing, name) is getattr(_price_tables, name), name
    assert coreweave_pricing.ParsedPage is lambda_pricing.ParsedPage
