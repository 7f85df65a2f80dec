"""SEC EDGAR companyfacts source: parser on the real (trimmed) NVIDIA companyfacts excerpt,
read in place from ../shared/data/nvidia_financials, synthetic facts in the API's shape, and
``fetch`` with a fake client (no network)."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import polars as pl
import pytest

from pipelines.lib.families import parsed_columns
from pipelines.lib.http import FetchedPayload, FetchError
from pipelines.lib.sources import sec_edgar
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload

EXCERPT = "nvidia_financials/sec_companyfacts_CIK0001045810_excerpt.json"
NAME = "companyfacts_0001045810.json"
DAY = dt.date(2026, 8, 27)
TABLE = "raw.sec_facts"


@pytest.fixture(scope="module")
def facts(shared_data) -> pl.DataFrame:
    out = sec_edgar.parse(NAME, (shared_data / EXCERPT).read_bytes())
    assert set(out) == {TABLE}
    return out[TABLE]


def _doc(concepts: dict, cik=1045810, entity="NVIDIA CORP") -> bytes:
    gaap = {c: {"label": c, "units": units} for c, units in concepts.items()}
    return json.dumps({"cik": cik, "entityName": entity, "facts": {"us-gaap": gaap}}).encode()


def _fact(**over) -> dict:
    base = {
        "start": "2025-07-28",
        "end": "2025-10-26",
        "val": 57006000000,
        "accn": "0001045810-25-000230",
        "fy": 2026,
        "fp": "Q3",
        "form": "10-Q",
        "filed": "2025-11-19",
        "frame": "CY2025Q3",
    }
    return {**base, **over}


# --- the real excerpt -------------------------------------------------------------------


def test_excerpt_keeps_only_the_margin_concepts(facts):
    assert facts.schema == pl.Schema(parsed_columns(TABLE))
    # 14 USD facts each of Revenues, CostOfRevenue, GrossProfit; RevenueRemainingPerformance-
    # Obligation and DepreciationDepletionAndAmortization (14 each) are not kept
    assert facts.height == 42
    assert facts.group_by("concept").len().sort("concept").rows() == [
        ("CostOfRevenue", 14),
        ("GrossProfit", 14),
        ("Revenues", 14),
    ]
    assert set(facts["cik"]) == {"0001045810"}
    assert set(facts["entity"]) == {"NVIDIA CORP"}
    assert set(facts["unit"]) == {"USD"}
    assert set(facts["payload_name"]) == {NAME}
    assert facts["problem"].null_count() == 42
    assert facts["period_start"].null_count() == 0


def test_excerpt_named_facts(facts):
    q3 = facts.filter(
        (pl.col("concept") == "Revenues")
        & (pl.col("period_end") == dt.date(2025, 10, 26))
        & (pl.col("period_start") == dt.date(2025, 7, 28))
    )
    assert q3.height == 1
    row = q3.row(0, named=True)
    assert row["value"] == 57_006_000_000.0
    assert (row["fiscal_year"], row["fiscal_period"], row["form"]) == (2026, "Q3", "10-Q")
    assert row["accession"] == "0001045810-25-000230" and row["filed"] == dt.date(2025, 11, 19)
    assert row["frame"] == "CY2025Q3"
    # the same Q1 FY2026 gross profit, once per filing that reports it: fy/fp are the filing's
    q1 = facts.filter(
        (pl.col("concept") == "GrossProfit") & (pl.col("period_end") == dt.date(2025, 4, 27))
    )
    assert q1.sort("filed").select("value", "fiscal_year", "fiscal_period", "frame").rows() == [
        (26_668_000_000.0, 2026, "Q1", None),
        (26_668_000_000.0, 2027, "Q1", "CY2025Q1"),
    ]
    fy26 = facts.filter(
        (pl.col("concept") == "CostOfRevenue")
        & (pl.col("fiscal_period") == "FY")
        & (pl.col("period_end") == dt.date(2026, 1, 25))
    )
    assert fy26["value"].to_list() == [62_475_000_000.0]
    assert fy26["period_start"].to_list() == [dt.date(2025, 1, 27)]


def test_gzip_body_parses_the_same(shared_data, facts):
    raw = (shared_data / EXCERPT).read_bytes()
    assert sec_edgar.parse(NAME, gzip.compress(raw))[TABLE].equals(facts)


# --- synthetic --------------------------------------------------------------------------


def test_revenue_from_contract_concept_is_kept_and_other_units_skipped():
    out = sec_edgar.parse(
        NAME,
        _doc(
            {
                "RevenueFromContractWithCustomerExcludingAssessedTax": {
                    "USD": [_fact()],
                    "EUR": [_fact()],
                },
                "NetIncomeLoss": {"USD": [_fact(val=1)]},
            }
        ),
    )[TABLE]
    assert out["concept"].to_list() == ["RevenueFromContractWithCustomerExcludingAssessedTax"]
    assert out["value"].to_list() == [57_006_000_000.0]


def test_problem_rows_are_kept():
    no_start = _fact()
    del no_start["start"]
    out = sec_edgar.parse(
        NAME,
        _doc(
            {
                "Revenues": {
                    "USD": [
                        _fact(),
                        no_start,
                        _fact(end=None),
                        _fact(end="26/10/2025"),
                        _fact(val=None),
                        _fact(val="n/a"),
                        _fact(val=True),
                        "not an object",
                    ]
                }
            }
        ),
    )[TABLE]
    assert out["problem"].to_list() == [
        None,
        "missing_period_start",
        "missing_period_end",
        "unparseable_date",
        "missing_value",
        "unparseable_number",
        "unparseable_number",
        "malformed_entry",
    ]
    assert out["value"][5] is None and out["period_end"][1] == dt.date(2025, 10, 26)


def test_cik_from_name_when_document_lacks_it():
    doc = json.loads(_doc({"GrossProfit": {"USD": [_fact()]}}))
    del doc["cik"]
    out = sec_edgar.parse("companyfacts_0000002488.json", json.dumps(doc).encode())[TABLE]
    assert out["cik"].to_list() == ["0000002488"]
    out = sec_edgar.parse(NAME, _doc({"GrossProfit": {"USD": [_fact()]}}, cik="2488"))[TABLE]
    assert out["cik"].to_list() == ["0000002488"]


@pytest.mark.parametrize(
    "content",
    [
        b"<html>Request Rate Threshold Exceeded</html>",
        b"",
        b"[]",
        b'"facts"',
        b'{"message": "Not Found"}',
        b'{"cik": 1045810, "facts": []}',
        b'{"cik": 1045810, "facts": {"dei": {}}}',
        b'{"cik": 1045810, "facts": {"us-gaap": {"NetIncomeLoss": {"units": {"USD": []}}}}}',
        b'{"cik": 1045810, "facts": {"us-gaap": {"Revenues": {"units": {"EUR": [{}]}}}}}',
        b'{"cik": 1045810, "facts": {"us-gaap": {"Revenues": {"label": "x"}}}}',
        b'{"cik": 1045810, "facts": {"us-gaap": {"Revenues": {"units": {"USD": {}}}}}}',
        b"\x1f\x8b\x08\x00broken",
    ],
)
def test_wrong_shapes_are_parse_errors(content):
    with pytest.raises(ParseError):
        sec_edgar.parse(NAME, content)


def test_sec_error_message_is_named():
    with pytest.raises(ParseError, match="Not Found"):
        sec_edgar.parse(NAME, b'{"message": "Not Found"}')


# --- fetch with a fake client -----------------------------------------------------------


class _FakeClient:
    def __init__(self, content: bytes = b"{}", errors: dict[str, FetchError] | None = None):
        self.content, self.errors, self.calls = content, errors or {}, []

    def get(self, url, **kwargs):
        self.calls.append((url, kwargs))
        if url in self.errors:
            raise self.errors[url]
        return FetchedPayload(
            url=url,
            status=200,
            content=self.content,
            content_type="application/json",
            fetched_at=1787788800.0,
        )


def test_fetch_without_user_agent_fails_clearly_and_sends_nothing(monkeypatch):
    monkeypatch.delenv("SEC_EDGAR_USER_AGENT", raising=False)
    client = _FakeClient()
    out = sec_edgar.fetch(client, {"base_url": "https://data.sec.gov", "ciks": ["0001045810"]}, DAY)
    assert client.calls == []
    assert len(out) == 1 and isinstance(out[0], FetchFailure)
    assert out[0].name == NAME
    assert out[0].url == "https://data.sec.gov/api/xbrl/companyfacts/CIK0001045810.json"
    assert "SEC_EDGAR_USER_AGENT" in out[0].error and "user_agent" in out[0].error


def test_fetch_rejects_user_agent_without_contact(monkeypatch):
    monkeypatch.delenv("SEC_EDGAR_USER_AGENT", raising=False)
    client = _FakeClient()
    out = sec_edgar.fetch(client, {"user_agent": "gpu-market-tracker/0.1"}, DAY)
    assert client.calls == [] and isinstance(out[0], FetchFailure)
    assert "no e-mail" in out[0].error


def test_fetch_uses_env_user_agent_and_default_cik(monkeypatch, shared_data):
    monkeypatch.setenv("SEC_EDGAR_USER_AGENT", "tracker ops@example.org")
    body = (shared_data / EXCERPT).read_bytes()
    client = _FakeClient(body)
    out = sec_edgar.fetch(client, {}, DAY)
    assert len(out) == 1 and isinstance(out[0], Payload)
    assert out[0].name == NAME and out[0].content == body and out[0].status == 200
    url, kwargs = client.calls[0]
    assert url == "https://data.sec.gov/api/xbrl/companyfacts/CIK0001045810.json"
    assert kwargs["headers"]["User-Agent"] == "tracker ops@example.org"
    assert sec_edgar.parse(out[0].name, out[0].content)[TABLE].height == 42


def test_fetch_config_user_agent_wins_and_each_cik_stands_alone(monkeypatch):
    monkeypatch.setenv("SEC_EDGAR_USER_AGENT", "env env@example.org")
    base = "https://sec.example/"
    amd = "https://sec.example/api/xbrl/companyfacts/CIK0000002488.json"
    client = _FakeClient(errors={amd: FetchError(amd, "HTTP 404", 404)})
    out = sec_edgar.fetch(
        client,
        {
            "base_url": base,
            "user_agent": "cfg admin@example.org",
            "ciks": [1045810, "CIK2488", "not-a-cik"],
        },
        DAY,
    )
    assert [type(o).__name__ for o in out] == ["Payload", "FetchFailure", "FetchFailure"]
    assert out[0].url == "https://sec.example/api/xbrl/companyfacts/CIK0001045810.json"
    assert out[1].name == "companyfacts_0000002488.json" and "HTTP 404" in out[1].error
    assert "invalid CIK" in out[2].error
    assert {c[1]["headers"]["User-Agent"] for c in client.calls} == {"cfg admin@example.org"}
    assert len(client.calls) == 2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1045810, "0001045810"),
        ("0001045810", "0001045810"),
        ("CIK0001045810", "0001045810"),
        (" 2488 ", "0000002488"),
    ],
)
def test_normalise_cik(raw, expected):
    assert sec_edgar.normalise_cik(raw) == expected


@pytest.mark.parametrize("raw", ["", "12345678901", "NVDA", "10458.10"])
def test_normalise_cik_rejects(raw):
    with pytest.raises(ValueError):
        sec_edgar.normalise_cik(raw)
