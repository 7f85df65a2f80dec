"""Dates on the command line (issue #10 item 12): each refusal is one line, before any fetch.

Before: a live ``run --date 2026-06-10`` stored today's prices under 2026-06-10, dates before
the first partition and ``--date tomorrow`` gave tracebacks / usage blocks, and ``--end`` a
year ahead was accepted.
"""

from __future__ import annotations

import datetime as dt

import pytest

from pipelines.cli import main as cli

TODAY = dt.datetime.now(dt.UTC).date()


def _one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1, captured
    return lines[0]


def _no_fetch(monkeypatch):
    from pipelines.lib import ingest

    def refuse(*args, **kwargs):
        raise AssertionError("a refused date must not reach a fetch or a load")

    monkeypatch.setattr(ingest, "ingest", refuse)


def test_live_run_for_a_past_date_is_refused(tracker_env, capsys, monkeypatch):
    _no_fetch(monkeypatch)
    past = TODAY - dt.timedelta(days=3)
    assert cli(["run", "--date", past.isoformat()]) == 2
    line = _one_line_error(capsys)
    assert line == (
        f"gpu-tracker: --date {past}: a live fetch gets today's ({TODAY}) prices; "
        f"to load {past}, replay its payloads with --from-archive DIR"
    )
    assert not (tracker_env / "gpu_market.duckdb").exists()


def test_live_run_for_tomorrow_is_refused_too(tracker_env, capsys, monkeypatch):
    _no_fetch(monkeypatch)
    tomorrow = TODAY + dt.timedelta(days=1)  # a partition exists, but live prices are today's
    assert cli(["run", "--date", tomorrow.isoformat()]) == 2
    assert "a live fetch gets today's" in _one_line_error(capsys)


def test_date_before_the_first_partition(tracker_env, tmp_path, capsys):
    assert cli(["run", "--date", "2022-12-31", "--from-archive", str(tmp_path)]) == 2
    assert (
        _one_line_error(capsys)
        == "gpu-tracker: --date 2022-12-31 is before the first partition 2023-01-01"
    )
    assert (
        cli(
            [
                "backfill",
                "--from-archive",
                str(tmp_path),
                "--start",
                "2022-06-01",
                "--end",
                "2023-01-05",
            ]
        )
        == 2
    )
    assert (
        _one_line_error(capsys)
        == "gpu-tracker: --start 2022-06-01 is before the first partition 2023-01-01"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["backfill", "--start", "2026-01-01", "--end", "{year_ahead}"],
        ["run", "--date", "{year_ahead}"],
        ["run", "--date", "{day_after_tomorrow}"],
    ],
)
def test_dates_after_the_last_partition(tracker_env, tmp_path, capsys, argv):
    year_ahead = TODAY + dt.timedelta(days=365)
    day_after = TODAY + dt.timedelta(days=2)
    argv = [a.format(year_ahead=year_ahead, day_after_tomorrow=day_after) for a in argv]
    assert cli([*argv, "--from-archive", str(tmp_path)]) == 2
    flag, value = (
        ("--end", year_ahead) if "backfill" in argv else ("--date", dt.date.fromisoformat(argv[2]))
    )
    last = TODAY + dt.timedelta(days=1)
    assert _one_line_error(capsys) == (
        f"gpu-tracker: {flag} {value} is in the future: the last "
        f"partition is {last} (today UTC + 1)"
    )


@pytest.mark.parametrize("value", ["tomorrow", "2026-13-01", "06/10/2026", ""])
def test_unparseable_dates_are_one_line(tracker_env, capsys, value):
    with pytest.raises(SystemExit) as exit_:
        cli(["run", "--date", value])
    assert exit_.value.code == 2
    assert _one_line_error(capsys) == (
        f"gpu-tracker run: error: argument --date: not a date "
        f"(YYYY-MM-DD): {value!r} (see gpu-tracker run --help)"
    )


def test_a_valid_archive_date_is_not_refused_by_the_checks(tracker_env, tmp_path, capsys):
    # an empty archive for a date inside the partitions reaches the archive check, not a date refusal
    assert cli(["run", "--date", "2023-01-01", "--from-archive", str(tmp_path)]) == 2
    assert (
        _one_line_error(capsys)
        == f"gpu-tracker: {tmp_path} holds no payloads for 2023-01-01..2023-01-01"
    )
