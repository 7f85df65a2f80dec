"""One bad payload never stops the others (issue #10, item 5).

A parser that raises something other than ``ParseError`` (``RecursionError`` on deep JSON
nesting, ``ValueError`` on a 5000-digit integer, ``csv.Error`` on a huge CSV field) used to
escape ``ingest``: the Dagster step died and the later dates of a single-run backfill were
never loaded, with no load_log line. Every payload's failure is now caught, quarantined as
``unparseable_payload`` with ``ExceptionClass: message``, and the other payloads and dates load.
The payloads are real (../shared/data, read in place); only the poison is written here.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json

import duckdb
import pytest

from pipelines.cli import main as cli
from pipelines.lib import archive
from pipelines.lib.config import load_config
from pipelines.lib.ingest import GPU_SOURCES, MARKET_SOURCES, SourceFailed, ingest, ingest_market

LITELLM = "api_prices/litellm/model_prices_and_context_window_{}.json.gz"
V100 = LITELLM.format("2023-11-14_litellm-1.0.0")  # 90 entries
V114 = LITELLM.format("2023-12-13_litellm-1.14.0")  # 138 entries
LAMBDA = "skypilot_catalog/lambda/v8_0f40703_us-east-1.csv"
DEEP = b'{"gpt-4": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"  # RecursionError in json.loads
HUGE_INT = (
    b'{"gpt-4": {"input_cost_per_token": ' + b"9" * 5000 + b"}}"
)  # ValueError (int digits limit)
DAY = dt.date(2026, 3, 2)


def _write(root, source, day, name, content: bytes):
    folder = root / source / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content)
    return folder / name


def _q(db, sql, params=None):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("source", [*GPU_SOURCES, *MARKET_SOURCES])
def test_deep_nesting_is_quarantined_with_its_exception_class(tracker_env, tmp_path, source):
    """Each source's parse meets 100,000 nested brackets: not a crash, an unparseable payload
    whose detail names the exception class (what failed, for whoever re-parses later)."""
    root = tmp_path / "archive"
    name = "lambda.csv" if source == "skypilot_catalog" else "payload.json"
    _write(root, source, DAY, name, DEEP)
    run = ingest if source in GPU_SOURCES else ingest_market
    with pytest.raises(SourceFailed) as failed:
        run(source, DAY, load_config(), from_archive=root)
    q = failed.value.result.quarantine
    assert q.height == 1
    assert q["reason"].to_list() == ["unparseable_payload"]
    assert q["payload_name"].to_list() == [name]
    detail = q["detail"][0]
    # a ParseError keeps its own message; anything else is "ExceptionClass: message"
    assert detail.startswith(("RecursionError: ", "_csv.Error: ", f"{name}: ")), detail
    assert (
        "maximum recursion depth" in detail
        or "field larger than field limit" in detail
        or name in detail
    )


def test_one_poisoned_payload_leaves_the_other_payloads_of_the_date(
    tracker_env, tmp_path, shared_data
):
    """Two SkyPilot catalogs on one date: the real Lambda one loads in full beside a poisoned
    one (a 200 kB field before the header, csv.Error), which is quarantined whole."""
    root = tmp_path / "archive"
    real = (shared_data / LAMBDA).read_bytes()
    _write(root, "skypilot_catalog", DAY, "lambda.csv", real)
    _write(root, "skypilot_catalog", DAY, "verda.csv", b'"' + b"x" * 200_000 + b'"\n' + real)
    alone = ingest(
        "skypilot_catalog", DAY, load_config(), from_archive=_only_lambda(tmp_path, real)
    )
    result = ingest("skypilot_catalog", DAY, load_config(), from_archive=root)
    assert result.offers.height == alone.offers.height > 0
    assert result.status == "partial"
    bad = result.quarantine.filter(result.quarantine["payload_name"] == "verda.csv")
    assert bad["reason"].to_list() == ["unparseable_payload"]
    assert bad["detail"][0].startswith("_csv.Error: field larger than field limit")
    assert any(e.startswith(f"skypilot_catalog {DAY} verda.csv: _csv.Error") for e in result.errors)


def _only_lambda(tmp_path, real: bytes):
    root = tmp_path / "lambda_only"
    _write(root, "skypilot_catalog", DAY, "lambda.csv", real)
    return root


def test_a_huge_integer_is_quarantined_not_raised(tracker_env, tmp_path):
    root = tmp_path / "archive"
    _write(root, "litellm_prices", DAY, "model_prices.json", HUGE_INT)
    with pytest.raises(SourceFailed) as failed:
        ingest_market("litellm_prices", DAY, load_config(), from_archive=root)
    detail = failed.value.result.quarantine["detail"][0]
    assert detail.startswith("ValueError: Exceeds the limit (4300 digits)"), detail


def test_a_broken_meta_file_does_not_lose_its_payload(tracker_env, tmp_path, shared_data):
    """A ``.meta.json`` that is not JSON (or has an unreadable fetched_at) beside a valid
    payload: the payload is used without its meta and the problem is recorded."""
    root = tmp_path / "archive"
    real = gzip.decompress((shared_data / V114).read_bytes())
    path = _write(root, "litellm_prices", DAY, "model_prices.json", real)
    reference = ingest_market("litellm_prices", DAY, load_config(), from_archive=root)
    for broken in (
        b"{not json",
        b"[1, 2]",
        json.dumps({"fetched_at": "yesterday-ish"}).encode(),
        b"\xff\xfe garbage",
    ):
        path.with_name(path.name + archive.META_SUFFIX).write_bytes(broken)
        [stored] = archive.read_payloads(root, "litellm_prices", DAY)
        assert stored.meta == {} and stored.fetched_at is None
        assert stored.meta_error and "model_prices.json.meta.json" in stored.meta_error
        result = ingest_market("litellm_prices", DAY, load_config(), from_archive=root)
        assert result.rows == reference.rows > 0
        assert result.status == "partial"
        assert any("meta file" in e and "used without its metadata" in e for e in result.errors), (
            result.errors
        )


@pytest.mark.slow
def test_backfill_with_a_poisoned_middle_date_loads_the_third(tracker_env, tmp_path, shared_data):
    """Three dates of real LiteLLM price maps in one single-run backfill; the middle date's map
    has one entry replaced by 100,000 nested brackets. Dates 1 and 3 load in full, date 2 is
    logged as failed with the exception class, and every date has its load_log line."""
    root = tmp_path / "archive"
    d1, d2, d3 = (dt.date(2026, 3, 1) + dt.timedelta(days=i) for i in range(3))
    v100 = gzip.decompress((shared_data / V100).read_bytes())
    v114 = gzip.decompress((shared_data / V114).read_bytes())
    poisoned = v114.replace(
        b'"gpt-4": {', b'"gpt-4": ' + b"[" * 100_000 + b"]" * 100_000 + b', "was": {', 1
    )
    assert poisoned != v114
    _write(root, "litellm_prices", d1, "model_prices.json", v100)
    _write(root, "litellm_prices", d2, "model_prices.json", poisoned)
    _write(root, "litellm_prices", d3, "model_prices.json", v114)
    expected = {
        d: ingest_market("litellm_prices", d, load_config(), from_archive=root).rows
        for d in (d1, d3)
    }
    assert (
        cli(
            [
                "backfill",
                "--from-archive",
                str(root),
                "--start",
                d1.isoformat(),
                "--end",
                d3.isoformat(),
                "--sources",
                "litellm_prices",
            ]
        )
        == 1
    )
    db = tracker_env / "gpu_market.duckdb"
    loaded = dict(
        _q(
            db,
            "select date, count(*) from raw.api_prices where source = 'litellm_prices' group by 1",
        )
    )
    assert loaded == expected
    assert expected[d1] > 0 and expected[d3] > 0
    log = {
        d: (s, e)
        for d, s, e in _q(
            db, "select date, status, error from raw.load_log where source = 'litellm_prices'"
        )
    }
    assert sorted(log) == [d1, d2, d3]
    assert log[d1][0] == "ok" and log[d3][0] == "ok"
    assert log[d2][0] == "failed" and "RecursionError: maximum recursion depth" in log[d2][1]
    assert _q(
        db,
        "select reason, payload_name, starts_with(detail, 'RecursionError: ') from raw.quarantine "
        "where source = 'litellm_prices' and date = ?",
        [d2],
    ) == [("unparseable_payload", "model_prices.json", True)]


@pytest.mark.slow
def test_a_date_whose_ingest_raises_anything_does_not_stop_the_next(
    tracker_env, tmp_path, shared_data, monkeypatch
):
    """The source assets' per-date loop (``pipelines.lib.source_load``): an unforeseen
    exception on date 2 (injected, a KeyError from inside ingest) is logged for date 2 with
    its class, and date 3 still loads."""
    from pipelines.lib import source_load

    root = tmp_path / "archive"
    d1, d2, d3 = (dt.date(2026, 3, 1) + dt.timedelta(days=i) for i in range(3))
    v114 = gzip.decompress((shared_data / V114).read_bytes())
    for d in (d1, d2, d3):
        _write(root, "litellm_prices", d, "model_prices.json", v114)
    real_ingest = source_load.ingest

    def ingest_failing_on_d2(source, day, config, **kw):
        if day == d2:
            raise KeyError("input_cost_per_token")
        return real_ingest(source, day, config, **kw)

    monkeypatch.setattr(source_load, "ingest", ingest_failing_on_d2)
    assert (
        cli(
            [
                "backfill",
                "--from-archive",
                str(root),
                "--start",
                d1.isoformat(),
                "--end",
                d3.isoformat(),
                "--sources",
                "litellm_prices",
            ]
        )
        == 1
    )
    db = tracker_env / "gpu_market.duckdb"
    rows = dict(_q(db, "select date, count(*) from raw.api_prices group by 1"))
    good = real_ingest("litellm_prices", d1, load_config(), from_archive=root).rows
    assert good == 133  # 138 entries of litellm 1.14.0, 5 of them quarantined (no token price ...)
    assert rows == {d1: good, d3: good}
    log = {d: (s, e) for d, s, e in _q(db, "select date, status, error from raw.load_log")}
    assert log[d1] == ("ok", None) and log[d3] == ("ok", None)
    assert log[d2] == ("failed", "KeyError: 'input_cost_per_token'")
