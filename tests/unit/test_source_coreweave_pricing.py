"""``coreweave_pricing`` on the real CoreWeave page captures and on a hand-written 2026 page.

Real captures (read in place from ../shared/data/pricing_pages/coreweave/, see its README):
the 2026-10-07 trimmed page, the undated (~2026-10) whole page, the 2023-09-21 old grid.
The hand-written fixture (tests/fixtures/coreweave_pricing/, README there) carries what the
captures lack: a ``<sup>`` footnote count, an ``&nbsp;`` price, an unknown GPU."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from pipelines.lib.config import load_config
from pipelines.lib.http import FetchedPayload, FetchError
from pipelines.lib.ingest import ingest
from pipelines.lib.offers import RAW_OFFER_KEYS, normalise_offers
from pipelines.lib.sources import coreweave_pricing
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec

DAY = dt.date(2026, 10, 7)
PAGE = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "coreweave_pricing"
    / "pricing_handwritten.html"
)


def _real(shared_data: Path, prefix: str) -> bytes:
    files = sorted((shared_data / "pricing_pages" / "coreweave").glob(f"{prefix}*"))
    assert len(files) == 1, files
    return files[0].read_bytes()


def _normalised(html: bytes | str):
    content = html.encode() if isinstance(html, str) else html
    records = coreweave_pricing.parse("pricing.html", content)
    offers, quarantine = normalise_offers(records, source=coreweave_pricing.SOURCE_ID, day=DAY)
    assert offers.height + quarantine.height == len(records)
    return records, offers, quarantine


def _rows(frame: pl.DataFrame, *cols: str) -> list[tuple]:
    return frame.sort(list(cols)).select(cols).rows()


def _one(offers: pl.DataFrame, **where) -> dict:
    rows = offers.filter(pl.all_horizontal(*[pl.col(k) == v for k, v in where.items()]))
    assert rows.height == 1, rows
    return rows.row(0, named=True)


@pytest.fixture(scope="module")
def real_2026(shared_data):
    return _normalised(_real(shared_data, "2026-10-07"))


def test_real_2026_on_demand_instance_prices_per_gpu(real_2026):
    records, offers, _ = real_2026
    assert all(set(RAW_OFFER_KEYS) <= set(r) for r in records)
    od = offers.filter(pl.col("pricing") == "on_demand")
    assert set(od["price_basis"]) == {"per_instance"} and set(od["provider"]) == {"coreweave"}
    na = od.filter(pl.col("region") == "North America")
    assert _rows(
        na, "instance_type", "gpu_model", "gpu_count", "price_original", "price_usd_per_gpu_hour"
    ) == [
        ("NVIDIA A100", "A100-SXM-80GB", 8, 21.6, 2.7),
        ("NVIDIA GB200 NVL72", "GB200-186GB", 4, 42.0, 10.5),  # "4^1": 2 Superchips x 2 GPUs
        ("NVIDIA GH200", "GH200-96GB", 1, 6.5, 6.5),
        ("NVIDIA HGX B200", "B200-180GB", 8, 68.8, 8.6),
        ("NVIDIA HGX H100", "H100-SXM-80GB", 8, 49.24, 6.155),
        ("NVIDIA HGX H200", "H200-SXM-141GB", 8, 50.44, 6.305),
        ("NVIDIA L40", "L40-48GB", 8, 10.0, 1.25),
        ("NVIDIA L40S", "L40S-48GB", 8, 18.0, 2.25),
        (
            "NVIDIA RTX PRO 6000 Blackwell Server Edition (High Memory)",
            "RTXPRO6000-96GB",
            8,
            20.0,
            2.5,
        ),
    ]
    assert _one(na, gpu_model="H100-SXM-80GB")["gpu_variant_assumed"] is False  # HGX -> SXM
    assert _one(na, gpu_model="A100-SXM-80GB")["gpu_variant_assumed"] is True  # bare "A100", 80 GB
    assert od.filter(pl.col("region") == "Europe").height == 9


def test_real_2026_spot_kept_apart_per_region(real_2026):
    _, offers, _ = real_2026
    spot = offers.filter(pl.col("pricing") == "spot")
    h100 = spot.filter(pl.col("gpu_model") == "H100-SXM-80GB")
    assert _rows(h100, "region", "price_original", "price_usd_per_gpu_hour") == [
        ("Europe", 19.51, 2.43875),
        ("North America", 19.71, 2.46375),
    ]
    # HGX B300: on-demand "Contact sales", spot priced in both regions
    b300 = offers.filter(pl.col("gpu_model") == "B300-288GB")
    assert _rows(b300, "pricing", "region", "price_original") == [
        (
            "spot",
            "Europe",
            36.7,
        ),
        ("spot", "North America", 35.84),
    ]
    assert spot.height == 16 and offers.height == 34


def test_real_2026_inference_rates_are_quarantined_not_on_demand(real_2026):
    records, offers, quarantine = real_2026
    assert set(offers["pricing"]) == {"on_demand", "spot"}
    assert set(quarantine["reason"]) == {"bad_pricing_type"} and quarantine.height == 9
    inference = [r for r in records if r["pricing"] == coreweave_pricing.INFERENCE_PRICING]
    assert {r["region"] for r in inference} == {"North America"}  # only that listing has the column
    h100 = next(r for r in inference if r["gpu_name"] == "NVIDIA HGX H100")
    assert (h100["price"], h100["price_basis"], h100["gpu_count"]) == (6.16, "per_gpu", 1)
    assert (
        "inference platform" in h100["note"]
        and "NVIDIA HGX H100" in quarantine["gpu_name_raw"].to_list()
    )
    # each per-GPU inference rate matched the instance price / GPU count (GH200 has 1 GPU)
    assert records.notes["inference_checked"] == 8


def test_real_2026_contact_sales_and_na_are_noted_not_offers(real_2026):
    records, _, _ = real_2026
    noted = records.notes["not_priced"]
    assert len(noted) == 17
    assert "North America NVIDIA GB300 NVL72 on-demand: Contact sales" in noted
    assert "Europe NVIDIA L40S spot: N/A" in noted
    assert not any(isinstance(r["price"], str) for r in records)


def test_real_undated_whole_page_gives_the_same_records(shared_data, real_2026):
    # the whole page adds CPU, storage, networking lists and per-model cards: none is read
    records = coreweave_pricing.parse("pricing.html", _real(shared_data, "undated"))
    assert list(records) == list(real_2026[0]) and records.notes == real_2026[0].notes


def test_real_2023_component_grid(shared_data):
    _, offers, quarantine = _normalised(_real(shared_data, "2023-09-21"))
    assert (
        quarantine.height == 0 and offers.height == 11
    )  # the cut "Tesla V100 NVLINK" row is not read
    assert set(offers["price_basis"]) == {"per_gpu"} and set(offers["gpu_count"]) == {1}
    assert _rows(
        offers.filter(pl.col("gpu_family").is_in(["H100", "A100"])),
        "gpu_model",
        "price_usd_per_gpu_hour",
    ) == [
        ("A100-PCIE-40GB", 2.06),
        ("A100-PCIE-80GB", 2.21),
        ("A100-SXM-40GB", 2.06),
        ("A100-SXM-80GB", 2.21),
        ("H100-PCIE-80GB", 4.25),
        ("H100-SXM-80GB", 4.76),
    ]
    h100 = _one(offers, gpu_model="H100-SXM-80GB")  # "$4.76" beside a "Reserve Now" link
    assert (h100["instance_type"], h100["gpu_variant_assumed"]) == (
        "NVIDIA HGX H100 (GPU component)",
        False,
    )
    assert _one(offers, gpu_model="QRTX4000-8GB")["price_usd_per_gpu_hour"] == 0.24


# --- the hand-written page --------------------------------------------------------------------


def test_handwritten_listing_variations():
    records, offers, quarantine = _normalised(PAGE.read_bytes())
    assert offers.height == 12
    gb200 = _one(offers, gpu_model="GB200-186GB")  # "4<sup>1</sup>": the footnote is not the count
    assert (gb200["gpu_count"], gb200["price_usd_per_gpu_hour"]) == (4, 10.5)
    assert (
        _one(offers, gpu_model="H100-SXM-80GB", region="North America", pricing="on_demand")[
            "price_original"
        ]
        == 49.24
    )  # "$&nbsp;49.24"
    assert sorted(quarantine.select("gpu_name_raw", "reason").rows()) == [
        ("NVIDIA A100", "bad_pricing_type"),
        ("NVIDIA GB200 NVL72", "bad_pricing_type"),
        ("NVIDIA GH200", "bad_pricing_type"),
        ("NVIDIA HGX H100", "bad_pricing_type"),
        ("NVIDIA HGX H200", "bad_pricing_type"),
        ("NVIDIA Rubin CPX", "unknown_gpu"),
        ("NVIDIA Rubin CPX", "unknown_gpu"),
    ]
    # the CPU list, the banner list and the script copy give nothing
    assert not any("AMD" in r["gpu_name"] or "Announcement" in r["gpu_name"] for r in records)
    assert len(records.notes["not_priced"]) == 6


def test_unreadable_price_and_count_are_quarantined_not_dropped():
    html = (
        PAGE.read_text()
        .replace("<div>$18.00</div>", "<div>$18.00 – $20.00</div>")
        .replace(
            '<div class="table-v2-cell"><div>1</div></div>',
            '<div class="table-v2-cell"><div>1 or 2</div></div>',
        )
    )
    _, offers, quarantine = _normalised(html)
    reasons = dict(quarantine.group_by("gpu_name_raw").agg(pl.col("reason").sort()).iter_rows())
    # a price range is kept as text (offers.py: ambiguous_number, older missing_price)
    assert len(reasons["NVIDIA L40S"]) == 1 and reasons["NVIDIA L40S"][0] in (
        "ambiguous_number",
        "missing_price",
    )
    # "1 or 2" GPUs: no count, so no per-GPU price (the inference rate is quarantined anyway)
    assert reasons["NVIDIA GH200"] == ["bad_pricing_type", "unknown_gpu_count"]
    assert offers.height == 10


def test_inference_equal_to_the_instance_price_is_a_parse_error():
    # an inference (per-GPU) price equal to the 8-GPU row's price: the prices are per GPU
    html = PAGE.read_text().replace("<div>$6.31</div>", "<div>$50.44</div>")
    with pytest.raises(
        ParseError, match=r"NVIDIA HGX H200 on-demand '\$50.44' equals its per-GPU inference price"
    ):
        coreweave_pricing.parse("pricing.html", html.encode())


def test_misaligned_row_is_a_parse_error():
    html = PAGE.read_text().replace('<div class="table-v2-cell"><div>270</div></div>', "", 1)
    with pytest.raises(ParseError, match=r"do not line up with the header"):
        coreweave_pricing.parse("pricing.html", html.encode())


def test_page_without_a_listing_is_a_parse_error(shared_data):
    with pytest.raises(
        ParseError, match=r"no CoreWeave GPU instance pricing table found: expected .*GPU Model"
    ):
        coreweave_pricing.parse(
            "pricing.html", b"<html><body><p>We moved our pricing!</p></body></html>"
        )
    renamed = PAGE.read_text().replace(">GPU Model<", ">Platform<")
    with pytest.raises(
        ParseError, match=r"found 0 table\(s\) and 3 listing\(s\) with headers .*'Platform'"
    ):
        coreweave_pricing.parse("pricing.html", renamed.encode())
    # a header without a unit and no GPU count column cannot be priced safely
    no_count = PAGE.read_text().replace(">GPU Count<", ">Interconnect<")
    with pytest.raises(ParseError, match="per instance or per GPU"):
        coreweave_pricing.parse("pricing.html", no_count.encode())


def test_table_rendering_still_reads():
    table = (
        "<h2>GPU pricing</h2><table><tr><th>GPU Model</th><th>GPU Count</th><th>VRAM (GB)</th>"
        "<th>Instance Price (per hour)</th></tr><tr><td>NVIDIA HGX H100</td><td>8</td><td>80</td>"
        "<td>$49.24</td></tr><tr><td>NVIDIA HGX B300</td><td>8</td><td>288</td><td>Contact sales</td></tr></table>"
    )
    records, offers, quarantine = _normalised(table)
    assert quarantine.height == 0
    assert _rows(offers, "gpu_model", "gpu_count", "price_basis", "price_usd_per_gpu_hour") == [
        ("H100-SXM-80GB", 8, "per_instance", 6.155)
    ]
    assert records.notes["not_priced"] == ["NVIDIA HGX B300 on-demand: Contact sales"]


def test_aria_grid_and_per_gpu_wording():
    grid = (
        '<h2>GPU pricing</h2><div role="table">'
        '<div role="row"><span role="columnheader">GPU</span><span role="columnheader">GPUs</span>'
        '<span role="columnheader">VRAM (GB)</span><span role="columnheader">Price per GPU/hr</span></div>'
        '<div role="row"><span role="cell">NVIDIA HGX H100</span><span role="cell">8</span>'
        '<span role="cell">80</span><span role="cell">$6.16</span></div></div>'
    )
    _, offers, quarantine = _normalised(grid)
    assert quarantine.height == 0
    row = offers.row(0, named=True)
    assert (
        row["gpu_model"],
        row["gpu_count"],
        row["price_basis"],
        row["price_usd_per_gpu_hour"],
    ) == ("H100-SXM-80GB", 8, "per_gpu", 6.16)


def test_spec_declares_the_source():
    spec = coreweave_pricing.SPEC
    assert (
        isinstance(spec, SourceSpec)
        and spec.id == "coreweave_pricing" == coreweave_pricing.SOURCE_ID
    )
    assert (spec.kind, spec.providers) == ("gpu_offers", ("coreweave",))
    assert spec.defaults == {"enabled": True, "base_url": "https://www.coreweave.com/pricing"}
    assert (spec.terms.verdict, spec.terms.checked) == ("unknown", "2026-12-01")


# --- fetch (fake client, no network) and ingest replay ------------------------------------


class _FakeClient:
    def __init__(self, content: bytes = b"", error: FetchError | None = None):
        self.content, self.error, self.calls = content, error, []

    def get(self, url, **kwargs):
        self.calls.append((url, kwargs))
        if self.error is not None:
            raise self.error
        return FetchedPayload(
            url=url,
            status=200,
            content=self.content,
            content_type="text/html; charset=utf-8",
            fetched_at=1779600000.0,
        )


def test_fetch_gets_the_page_once_and_reports_failures():
    url = "https://pricing.example.test/coreweave"
    client = _FakeClient(PAGE.read_bytes())
    out = coreweave_pricing.fetch(client, {"base_url": url, "enabled": True}, DAY)
    assert len(client.calls) == 1 and client.calls[0][0] == url
    assert "text/html" in client.calls[0][1]["headers"]["Accept"]
    assert isinstance(out[0], Payload) and (out[0].name, out[0].status) == ("pricing.html", 200)
    failed = coreweave_pricing.fetch(
        _FakeClient(error=FetchError(url, "HTTP 403", 403)), {"base_url": url}, DAY
    )
    assert isinstance(failed[0], FetchFailure) and "HTTP 403" in failed[0].error


def test_ingest_replays_a_real_capture(tracker_env, tmp_path, shared_data):
    folder = tmp_path / "archive" / "coreweave_pricing" / DAY.isoformat()
    folder.mkdir(parents=True)
    (folder / "pricing.html").write_bytes(_real(shared_data, "2026-10-07"))
    result = ingest("coreweave_pricing", DAY, load_config(), from_archive=tmp_path / "archive")
    assert (result.mode, result.status, result.errors) == ("archive", "ok", [])
    assert result.offers.height == 34 and result.quarantine.height == 9
    assert set(result.quarantine["reason"]) == {"bad_pricing_type"}
    assert set(result.offers["region"]) == {"North America", "Europe"}


def test_short_labelled_detail_block_is_not_a_cell():
    # a mobile block of two pieces ("GPU Count", "8") beside the value cells is dropped by its label
    header = "".join(
        f"<div><div>{h}</div></div>"
        for h in ("GPU Model", "GPU Count", "On-Demand Price (Per Hour)")
    )
    item = (
        '<div role="listitem"><div class="grid"><div><h3>NVIDIA HGX H100</h3></div><div><div>8</div></div>'
        "<div><div>$49.24</div></div><div><div>GPU Count</div><div>8</div></div></div></div>"
    )
    page = f'<h5>REGION: US</h5><div><div class="h">{header}</div><div><div role="list">{item}</div></div></div>'
    _, offers, _ = _normalised(page)
    assert _rows(offers, "region", "gpu_count", "price_usd_per_gpu_hour") == [("US", 8, 6.155)]
