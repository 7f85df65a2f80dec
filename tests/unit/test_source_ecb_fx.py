"""ecb_fx: the ECB daily reference-rate file -> raw.fx_rates rows and USD-per-unit rates.

Hand-written fixture in the file's exact structure (tests/fixtures/ecb_fx/README.md)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from pipelines.lib.config import load_config
from pipelines.lib.ingest import ingest_market
from pipelines.lib.sources import ecb_fx
from pipelines.lib.sources.base import ParseError

FIXTURE = Path(__file__).parents[1] / "fixtures" / "ecb_fx" / "eurofxref-daily.xml"
DAY = dt.date(2026, 11, 28)  # a Saturday: the daily file still holds Friday's rates


def _archive(root: Path, day: dt.date = DAY, content: bytes | None = None) -> Path:
    folder = root / "ecb_fx" / day.isoformat()
    folder.mkdir(parents=True)
    if content is None:
        shutil.copy(FIXTURE, folder / ecb_fx.PAYLOAD_NAME)
    else:
        (folder / ecb_fx.PAYLOAD_NAME).write_bytes(content)
    return root


def test_parse_rows_rate_date_and_bad_rate():
    frame = ecb_fx.parse(ecb_fx.PAYLOAD_NAME, FIXTURE.read_bytes())[ecb_fx.TABLE]
    assert frame.height == 5
    assert set(frame["rate_date"].to_list()) == {dt.date(2026, 11, 27)}
    rows = {r["currency"]: (r["rate"], r["problem"]) for r in frame.iter_rows(named=True)}
    assert rows["USD"] == (1.05, None)
    assert rows["GBP"] == (0.84, None)
    assert rows["JPY"] == (157.19, None)
    assert rows["SEK"] == (None, "bad_rate")


def test_usd_per_unit_goes_through_the_euro():
    frame = ecb_fx.parse(ecb_fx.PAYLOAD_NAME, FIXTURE.read_bytes())[ecb_fx.TABLE]
    rates = ecb_fx.usd_per_unit(frame)
    assert rates["EUR"] == 1.05
    assert rates["USD"] == 1.0
    assert rates["GBP"] == pytest.approx(1.25)  # 1.05 / 0.84
    assert "SEK" not in rates


@pytest.mark.parametrize(
    "content, message",
    [
        (b"<html>maintenance</html>", "gesmes:Envelope"),
        (b"not xml", "not XML"),
        (
            FIXTURE.read_bytes().replace(
                b"currency='USD' rate='1.0500'", b"currency='USD' rate='x'"
            ),
            "no usable USD rate",
        ),
        (FIXTURE.read_bytes().replace(b"<Cube time='2026-11-27'>", b"<Cube>"), "one <Cube time"),
    ],
)
def test_unrecognised_files_fail_loudly(content, message):
    with pytest.raises(ParseError, match=message):
        ecb_fx.parse(ecb_fx.PAYLOAD_NAME, content)


def test_usd_rates_for_day_reads_that_date_only(tmp_path):
    root = _archive(tmp_path)
    assert ecb_fx.usd_rates_for_day(root, DAY)["EUR"] == 1.05
    assert ecb_fx.usd_rates_for_day(root, DAY + dt.timedelta(days=1)) is None  # never carried over


def test_usd_rates_for_day_refuses_a_stale_file(tmp_path):
    root = _archive(tmp_path, day=dt.date(2026, 12, 20))  # rate date 2026-11-27: 23 days old
    assert ecb_fx.usd_rates_for_day(root, dt.date(2026, 12, 20)) is None


def test_ingest_market_loads_rates_and_quarantines_the_bad_one(tmp_path):
    root = _archive(tmp_path)
    result = ingest_market("ecb_fx", DAY, load_config(), from_archive=root)
    table = result.tables[ecb_fx.TABLE]
    assert sorted(table["currency"].to_list()) == ["CHF", "GBP", "JPY", "USD"]
    assert result.quarantine["reason"].to_list() == ["bad_rate"]
    assert result.quarantine["gpu_name_raw"].to_list() == ["SEK"]
