"""Replaying the real market payloads of shared/data through `gpu-tracker run --from-archive`:
SEC facts -> NVIDIA's reported quarterly gross margins; OpenRouter + LiteLLM -> API prices."""

from __future__ import annotations

import csv

import duckdb
import pytest

from pipelines.cli import main as cli
from pipelines.lib.shared_history import stage


def _rows(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.slow
def test_replayed_sec_excerpt_gives_reported_gross_margins(
    tracker_env, tmp_path, shared_data, capsys
):
    archive = tmp_path / "archive"
    staged = stage(shared_data, archive)
    assert {s.source for s in staged} >= {"sec_edgar", "openrouter", "litellm_prices"}
    # the fixed archive name of the contract
    assert (archive / "sec_edgar" / "2026-08-26" / "companyfacts_0001045810.json").exists()
    assert cli(["run", "--date", "2026-08-26", "--from-archive", str(archive)]) == 0
    assert "model/API-price/SEC rows loaded" in capsys.readouterr().out
    db = tracker_env / "gpu_market.duckdb"
    got = {
        (fy, q): gm
        for fy, q, gm in _rows(
            db, "select fiscal_year, fiscal_quarter, gross_margin from marts.nvidia_financials"
        )
    }
    expected = {}
    with open(
        next((shared_data / "nvidia_financials").glob("nvidia_quarterly_*.csv")), newline=""
    ) as fh:
        for row in csv.DictReader(fh):
            if row["period"].startswith("Q"):
                expected[
                    (
                        int(row["fiscal_year"].removeprefix("FY"))
                        if row["fiscal_year"].startswith("FY")
                        else int(row["fiscal_year"]),
                        int(row["period"][1]),
                    )
                ] = float(row["gross_margin_pct_computed"])
    overlap = sorted(set(got) & set(expected))
    assert len(overlap) == 4  # FY2026 Q1-Q4
    for key in overlap:
        assert got[key] * 100 == pytest.approx(expected[key], abs=0.05), key
    assert got[(2026, 4)] == pytest.approx(0.75, abs=0.0005)  # Q4 = FY - 9M: 51,093 / 68,127
    margin = _rows(
        db,
        "select value from marts.nvidia_margin_indicators "
        "where indicator = 'nvidia_reported_gross_margin' and subject = 'FY2026Q3'",
    )
    assert margin[0][0] == pytest.approx(0.7341, abs=0.0005)


@pytest.mark.slow
def test_replayed_openrouter_and_litellm_fill_api_prices(tracker_env, tmp_path, shared_data):
    archive = tmp_path / "archive"
    stage(shared_data, archive)
    assert (
        cli(
            [
                "backfill",
                "--from-archive",
                str(archive),
                "--start",
                "2026-02-01",
                "--end",
                "2026-03-31",
                "--sources",
                "openrouter,litellm_prices",
            ]
        )
        == 0
    )
    db = tracker_env / "gpu_market.duckdb"
    rows = _rows(
        db,
        "select date, source, input_usd_per_mtok, output_usd_per_mtok from marts.api_prices_daily "
        "where model_id in ('openai/gpt-4o', 'gpt-4o') order by date, source",
    )
    assert [(str(d), s) for d, s, _, _ in rows] == [
        ("2026-02-01", "litellm_prices"),
        ("2026-02-27", "openrouter"),
        ("2026-03-15", "openrouter"),
        ("2026-03-31", "litellm_prices"),
    ]
    assert all((i, o) == (2.5, 10.0) for _, _, i, o in rows)
    # the router pseudo-model priced "-1" is quarantined, never loaded
    assert _rows(db, "select count(*) from raw.api_prices where model_id = 'openrouter/auto'") == [
        (0,)
    ]
    assert _rows(
        db,
        "select count(*) > 0 from raw.quarantine where source = 'openrouter' "
        "and reason = 'negative_price'",
    ) == [(True,)]
    # the releases mart knows GPT-4o's listing date from OpenRouter's `created`
    assert (
        _rows(db, "select first_seen from marts.model_releases where model_key = 'gpt-4o'")[0][
            0
        ].isoformat()
        == "2024-05-13"
    )
