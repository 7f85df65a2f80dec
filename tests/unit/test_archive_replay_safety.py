"""Archive replay reads only regular files inside the archive (issue #10, item 9).

A symlink in a date folder used to be followed: the first line of a file outside the archive
reached ``raw.quarantine.detail`` and ``raw.load_log.error``. Now symlinks (of files, date
folders and source folders) and other non-regular entries are refused by name, unread; a FIFO
cannot hang the reader; a date with no payloads for an explicitly requested source fails
with a line saying so instead of ``run ok`` with nothing loaded. The good payload beside a
refused entry is the real SkyPilot Lambda catalog (../shared/data, read in place).
"""

from __future__ import annotations

import datetime as dt
import os
import threading

import duckdb
import pytest

from pipelines.cli import main as cli
from pipelines.lib import archive
from pipelines.lib.config import load_config
from pipelines.lib.ingest import SourceFailed, ingest

LAMBDA = "skypilot_catalog/lambda/v8_0f40703_us-east-1.csv"
DAY = dt.date(2026, 5, 24)
OUTSIDE_LINE = "root:x:0:0:outside-the-archive:/root:/bin/bash"


@pytest.fixture
def outside(tmp_path):
    path = tmp_path / "outside" / "passwd"
    path.parent.mkdir()
    path.write_text(OUTSIDE_LINE + "\nsecond line\n")
    return path


def _date_folder(root, source="skypilot_catalog", day=DAY):
    folder = root / source / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _q(db, sql, params=None):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_a_symlinked_payload_is_refused_unread_and_the_real_one_loads(
    tracker_env, tmp_path, shared_data, outside
):
    root = tmp_path / "archive"
    folder = _date_folder(root)
    (folder / "lambda.csv").write_bytes((shared_data / LAMBDA).read_bytes())
    (folder / "verda.csv").symlink_to(outside)
    (folder / "lambda.csv.meta.json").symlink_to(outside)  # a linked meta file is not read either
    stored = {p.name: p for p in archive.read_payloads(root, "skypilot_catalog", DAY)}
    assert (
        stored["verda.csv"].content == b""
        and stored["verda.csv"].refused == "symlink: refused, not read"
    )
    assert stored["lambda.csv"].meta == {}
    assert (
        stored["lambda.csv"].meta_error
        == "meta file lambda.csv.meta.json: symlink: refused, not read"
    )
    result = ingest("skypilot_catalog", DAY, load_config(), from_archive=root)
    assert result.offers.height > 0 and set(result.offers["payload_name"]) == {"lambda.csv"}
    refused = result.quarantine.filter(result.quarantine["reason"] == "refused_archive_entry")
    assert refused.select("payload_name", "detail").rows() == [
        ("verda.csv", "symlink: refused, not read")
    ]
    assert "verda.csv" in result.payloads
    everything = " ".join([*result.errors, *map(str, result.quarantine.rows())])
    assert "outside-the-archive" not in everything


@pytest.mark.parametrize("linked", ["date folder", "source folder"])
def test_a_symlinked_folder_is_refused_through_the_cli(
    tracker_env, tmp_path, shared_data, outside, linked
):
    """``gpu-tracker run --from-archive``: a date (or source) folder that is a symlink to a
    folder outside the archive is not entered; the run fails with a load_log line naming it."""
    elsewhere = outside.parent / "2026-05-24"
    elsewhere.mkdir()
    (elsewhere / "lambda.csv").write_text(OUTSIDE_LINE + "\n")
    root = tmp_path / "archive"
    if linked == "date folder":
        (root / "skypilot_catalog").mkdir(parents=True)
        (root / "skypilot_catalog" / "2026-05-24").symlink_to(elsewhere)
    else:
        root.mkdir()
        (root / "skypilot_catalog").symlink_to(outside.parent)
    assert archive.list_payload_names(root, "skypilot_catalog", DAY) == ["2026-05-24"]
    with pytest.raises(
        archive.ArchiveError, match="is a symlink, not a folder of the archive: not followed"
    ):
        archive.read_payloads(root, "skypilot_catalog", DAY)
    assert cli(["run", "--date", DAY.isoformat(), "--from-archive", str(root)]) == 1
    db = tracker_env / "gpu_market.duckdb"
    [(status, error)] = _q(
        db, "select status, error from raw.load_log where source = 'skypilot_catalog'"
    )
    assert status == "failed"
    assert "refused" in error and "is a symlink" in error and "outside-the-archive" not in error
    assert _q(
        db, "select count(*) from raw.quarantine where detail like '%outside-the-archive%'"
    ) == [(0,)]


def test_a_fifo_does_not_hang_the_reader(tracker_env, tmp_path, shared_data):
    root = tmp_path / "archive"
    folder = _date_folder(root)
    (folder / "lambda.csv").write_bytes((shared_data / LAMBDA).read_bytes())
    os.mkfifo(folder / "verda.csv")
    os.mkfifo(folder / "lambda.csv.meta.json")
    (folder / "nested").mkdir()
    out: dict = {}
    reader = threading.Thread(
        target=lambda: out.update(
            result=ingest("skypilot_catalog", DAY, load_config(), from_archive=root)
        ),
        daemon=True,
    )
    reader.start()
    reader.join(timeout=20)
    assert not reader.is_alive(), "a FIFO in the archive blocked the replay"
    result = out["result"]
    assert result.offers.height > 0
    refused = dict(
        result.quarantine.filter(result.quarantine["reason"] == "refused_archive_entry")
        .select("payload_name", "detail")
        .rows()
    )
    assert refused == {
        "verda.csv": "FIFO: refused, not read",
        "nested": "directory: refused, not read",
    }
    assert any(
        "meta file lambda.csv.meta.json: FIFO: refused, not read" in e for e in result.errors
    )


def test_only_refused_entries_fail_the_date_with_their_names(tracker_env, tmp_path, outside):
    root = tmp_path / "archive"
    (_date_folder(root) / "lambda.csv").symlink_to(outside)
    with pytest.raises(SourceFailed) as failed:
        ingest("skypilot_catalog", DAY, load_config(), from_archive=root)
    assert "lambda.csv: symlink: refused, not read" in str(failed.value)
    assert failed.value.result.quarantine["reason"].to_list() == ["refused_archive_entry"]


def test_an_empty_date_with_sources_says_so(tracker_env, tmp_path, capsys):
    """``--sources skypilot_catalog`` on an archive without that date: a failed run whose line
    says there were no payloads, and a load_log line -- not ``run ok`` with nothing loaded."""
    root = tmp_path / "archive"
    _date_folder(root, day=DAY - dt.timedelta(days=1))  # another date exists, not this one
    assert (
        cli(
            [
                "run",
                "--date",
                DAY.isoformat(),
                "--from-archive",
                str(root),
                "--sources",
                "skypilot_catalog",
            ]
        )
        == 1
    )
    captured = capsys.readouterr()
    assert f"skypilot_catalog {DAY}: no payloads in archive {root}" in captured.err
    assert "run ok" not in captured.out
    db = tracker_env / "gpu_market.duckdb"
    [(status, error)] = _q(
        db, "select status, error from raw.load_log where source = 'skypilot_catalog'"
    )
    assert status == "failed" and error.startswith(
        f"skypilot_catalog {DAY}: no payloads in archive {root}"
    )
