"""Backup / restore (issue #10 item 4): restore verifies a temporary copy before anything is
swapped, refuses manifest paths outside the backup, and a SIGKILL at any step of a backup
into the same directory leaves the previous good backup restorable.

The warehouse holds the real Lambda v8 SkyPilot catalog (22 offers) and, after a "bad"
reload, the real Verda catalog, so a restore is visible as a change of concrete rows."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main as cli
from pipelines.lib import backup, warehouse
from pipelines.lib.offers import normalise_offers
from pipelines.lib.sources import skypilot_catalog as sky

DAY = dt.date(2026, 5, 24)
LAMBDA = "skypilot_catalog/lambda/v8_0f40703_us-east-1.csv"
VERDA = "skypilot_catalog/verda/v8_000c1d0.csv"
REPO = Path(__file__).resolve().parents[2]


def _load(db: Path, shared_data: Path, rel: str) -> int:
    cloud = rel.split("/")[1]
    records = sky.parse(f"{cloud}.csv", (shared_data / rel).read_bytes())
    offers, quarantine = normalise_offers(records, source="skypilot_catalog", day=DAY)
    warehouse.load_source_day(
        db,
        source="skypilot_catalog",
        days=[DAY],
        offers=offers,
        quarantine=quarantine,
        payloads=[f"{cloud}.csv"],
        mode="archive",
    )
    return offers.height


def _providers(db: Path) -> tuple:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "select count(*), min(provider), max(provider) from raw.gpu_offers"
        ).fetchone()
    finally:
        con.close()


def _files(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def wh(tracker_env, shared_data) -> Path:
    db = tracker_env / "gpu_market.duckdb"
    assert _load(db, shared_data, LAMBDA) == 22
    return db


def _current(out: Path) -> Path:
    return out / (out / "CURRENT").read_text().strip()


def test_round_trip_layout_pointer_and_pruning(wh, shared_data, tmp_path, capsys):
    out = tmp_path / "bk"
    assert cli(["backup", "--out", str(out)]) == 0
    line = capsys.readouterr().out
    first = _current(out)
    assert line.startswith(f"backup ok: {first / 'gpu_market.duckdb'} (")
    manifest = json.loads((first / "manifest.json").read_text())
    assert manifest["tables"]["raw.gpu_offers"] == 22 and manifest["file"] == "gpu_market.duckdb"
    verda = _load(wh, shared_data, VERDA)  # a later load replaces the partition
    assert _providers(wh) == (verda, "verda", "verda")
    assert cli(["restore", str(out)]) == 0
    assert "rows verified" in capsys.readouterr().out
    assert _providers(wh) == (22, "lambda", "lambda")
    # the previous warehouse is kept beside it, not lost
    assert _providers(wh.with_name(wh.name + ".pre-restore")) == (verda, "verda", "verda")
    # each backup is a new folder; CURRENT moves last; only the newest 3 stay
    names = [first.name]
    for _ in range(3):
        time.sleep(0.01)
        assert cli(["backup", "--out", str(out)]) == 0
        names.append(_current(out).name)
    assert len(set(names)) == 4
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == names[1:]
    capsys.readouterr()


def _tamper(out: Path, **changes) -> Path:
    path = _current(out) / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))
    return path


def _restore_refused(wh: Path, out: Path, capsys, expect: str) -> None:
    before = _files(wh.parent)
    rc = cli(["restore", str(out)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert expect in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert _files(wh.parent) == before  # the live warehouse is byte for byte as it was


@pytest.fixture
def damaged(wh, shared_data, tmp_path, capsys) -> Path:
    """A backup of the Lambda warehouse, then the live warehouse changed to Verda."""
    out = tmp_path / "bk"
    assert backup.backup(wh, out)["tables"]["raw.gpu_offers"] == 22
    _load(wh, shared_data, VERDA)
    return out


def test_a_row_count_off_by_one_is_refused_before_the_swap(wh, damaged, capsys):
    manifest = json.loads((_current(damaged) / "manifest.json").read_text())
    tables = dict(manifest["tables"], **{"raw.gpu_offers": 23})
    _tamper(damaged, tables=tables)
    _restore_refused(wh, damaged, capsys, "raw.gpu_offers: manifest 23 file 22")
    assert _providers(wh)[1] == "verda"


def test_garbage_with_a_matching_sha256_is_refused(wh, damaged, capsys):
    data = _current(damaged) / "gpu_market.duckdb"
    data.write_bytes(b"not a duckdb file\n" * 1000)
    _tamper(damaged, sha256=hashlib.sha256(data.read_bytes()).hexdigest())
    _restore_refused(wh, damaged, capsys, "is not a readable DuckDB database")


def test_a_corrupt_backup_is_refused(wh, damaged, capsys):
    with open(_current(damaged) / "gpu_market.duckdb", "r+b") as fh:
        fh.seek(5000)
        fh.write(b"\x00garbage\x00")
    _restore_refused(wh, damaged, capsys, "sha256 does not match")


@pytest.mark.parametrize("escape", ["abs", "dotdot", "symlink"])
def test_manifest_paths_outside_the_backup_are_refused(wh, damaged, tmp_path, capsys, escape):
    # a complete, valid backup elsewhere: followed, it would pass every check
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copyfile(_current(damaged) / "gpu_market.duckdb", elsewhere / "w.duckdb")
    target = {
        "abs": str(elsewhere / "w.duckdb"),
        "dotdot": "../../elsewhere/w.duckdb",
        "symlink": "link.duckdb",
    }[escape]
    if escape == "symlink":
        (_current(damaged) / "link.duckdb").symlink_to(elsewhere / "w.duckdb")
    _tamper(damaged, file=target)
    _restore_refused(wh, damaged, capsys, "nothing restored")


def test_a_pointer_outside_the_backup_dir_is_refused(wh, damaged, tmp_path, capsys):
    (tmp_path / "other").mkdir()
    shutil.copytree(_current(damaged), tmp_path / "other" / "bk")
    (damaged / "CURRENT").write_text("../other/bk\n")
    _restore_refused(wh, damaged, capsys, "is not a plain name inside the backup")


def test_a_malformed_manifest_is_one_line(wh, damaged, capsys):
    (_current(damaged) / "manifest.json").write_text("{not json")
    _restore_refused(wh, damaged, capsys, "is not valid JSON")


def test_a_backup_folder_of_the_old_layout_still_restores(wh, damaged, capsys):
    old = damaged.parent / "old-layout"
    shutil.copytree(_current(damaged), old)  # manifest.json + gpu_market.duckdb, no CURRENT
    assert cli(["restore", str(old)]) == 0
    assert _providers(wh) == (22, "lambda", "lambda")
    capsys.readouterr()


def test_restore_moves_the_live_wal_aside(wh, damaged, capsys):
    con = duckdb.connect(str(wh))
    con.execute("PRAGMA disable_checkpoint_on_shutdown")
    con.execute("create table marts.wal_only as select 1 as x")
    con.close()
    wal = wh.with_name(wh.name + ".wal")
    wal_bytes = wal.read_bytes()
    assert cli(["restore", str(damaged)]) == 0
    assert not wal.exists()
    assert wh.with_name(wh.name + ".pre-restore.wal").read_bytes() == wal_bytes
    assert _providers(wh) == (22, "lambda", "lambda")
    capsys.readouterr()


CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from pipelines.lib import backup
    step = {step!r}
    real = getattr(backup, step)
    def then_hang(*args, **kwargs):
        result = real(*args, **kwargs) if {after!r} else None
        Path({flag!r}).write_text(step)
        time.sleep(60)
        return result
    setattr(backup, step, then_hang)
    backup.backup(Path({db!r}), Path({out!r}))
""")


@pytest.mark.parametrize(
    "step,after",
    [
        ("_row_counts", False),  # data file in place, manifest not yet written
        ("_write_manifest", True),  # manifest written, pointer not yet switched
        ("_switch_pointer", False),  # just before the switch
    ],
)
def test_sigkill_during_backup_keeps_the_previous_good_backup(
    wh, shared_data, tmp_path, capsys, step, after
):
    out = tmp_path / "bk"
    backup.backup(wh, out)  # the previous good backup: Lambda, 22 offers
    verda = _load(wh, shared_data, VERDA)
    flag = tmp_path / "flag"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD.format(step=step, after=after, flag=str(flag), db=str(wh), out=str(out)),
        ],
        cwd=REPO,
    )
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert child.poll() is None, "the backup died before reaching the step"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert cli(["restore", str(out)]) == 0  # restores the previous good backup
    assert _providers(wh) == (22, "lambda", "lambda")
    _load(wh, shared_data, VERDA)
    # the next backup runs (the dead one's lock is gone) and becomes current
    assert cli(["backup", "--out", str(out)]) == 0
    assert (
        json.loads((_current(out) / "manifest.json").read_text())["tables"]["raw.gpu_offers"]
        == verda
    )
    assert not [p for p in out.iterdir() if p.is_dir() and not (p / "manifest.json").exists()]
    capsys.readouterr()


RESTORE_CHILD = textwrap.dedent("""
    import time
    from pathlib import Path
    from pipelines.lib import backup
    real = backup.verify
    def verify_then_hang(*args, **kwargs):  # the copy is verified, the swap not yet done
        real(*args, **kwargs)
        Path({flag!r}).write_text("verified")
        time.sleep(60)
    backup.verify = verify_then_hang
    backup.restore(Path({out!r}), Path({db!r}))
""")


def test_sigkill_during_restore_leaves_the_warehouse_and_the_next_restore_works(
    wh, damaged, tmp_path, capsys
):
    before = {k: v for k, v in _files(wh.parent).items() if not k.endswith(".restoring")}
    flag = tmp_path / "flag"
    child = subprocess.Popen(
        [sys.executable, "-c", RESTORE_CHILD.format(flag=str(flag), out=str(damaged), db=str(wh))],
        cwd=REPO,
    )
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert child.poll() is None, "the restore died before verifying"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    after = {k: v for k, v in _files(wh.parent).items() if not k.endswith(".restoring")}
    assert after == before and _providers(wh)[1] == "verda"  # untouched
    assert cli(["restore", str(damaged)]) == 0  # not blocked by the dead restore's lock
    assert _providers(wh) == (22, "lambda", "lambda")
    assert not wh.with_name(wh.name + ".restoring").exists()
    capsys.readouterr()
