"""The polite HTTP client (against a local server), the raw archive and idempotent
warehouse partition writes."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from typing import ClassVar

import duckdb
import polars as pl
import pytest

from pipelines.lib import archive, warehouse
from pipelines.lib.http import FetchError, PoliteClient, parse_retry_after
from pipelines.lib.offers import empty_quarantine, normalise_offers


class _Handler(http.server.BaseHTTPRequestHandler):
    script: ClassVar[list] = []  # (status, headers, body) served in order, last one repeats
    seen: ClassVar[list] = []

    def do_GET(self):
        _Handler.seen.append((self.path, self.headers.get("User-Agent")))
        status, headers, body = _Handler.script[
            min(len(_Handler.seen) - 1, len(_Handler.script) - 1)
        ]
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Handler.seen = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _client(**kw):
    sleeps = []
    client = PoliteClient(
        user_agent="tracker-test/1",
        min_interval_seconds=0,
        backoff_seconds=0.01,
        sleep=sleeps.append,
        **kw,
    )
    return client, sleeps


def test_retries_429_honouring_retry_after(server):
    _Handler.script = [
        (429, {"Retry-After": "7"}, b""),
        (503, {}, b""),
        (200, {"Content-Type": "text/csv"}, b"ok"),
    ]
    client, sleeps = _client()
    resp = client.get(f"{server}/v8/lambda/vms.csv")
    assert resp.content == b"ok" and resp.status == 200
    assert sleeps[0] == 7  # Retry-After honoured
    assert len(_Handler.seen) == 3
    assert _Handler.seen[0][1] == "tracker-test/1"


def test_429_switches_to_fallback_mirror(server):
    _Handler.script = [(429, {}, b""), (200, {}, b"mirror")]
    client, _ = _client()
    resp = client.get(f"{server}/primary/x.csv", fallback_url=f"{server}/mirror/x.csv")
    assert resp.content == b"mirror"
    assert [p for p, _ in _Handler.seen] == ["/primary/x.csv", "/mirror/x.csv"]


def test_gives_up_after_max_retries_and_404_is_not_retried(server):
    _Handler.script = [(500, {}, b"")]
    client, _sleeps = _client(max_retries=2)
    with pytest.raises(FetchError, match="HTTP 500 after 3 attempts"):
        client.get(f"{server}/x")
    _Handler.seen = []
    _Handler.script = [(404, {}, b"")]
    with pytest.raises(FetchError, match="HTTP 404"):
        client.get(f"{server}/y")
    assert len(_Handler.seen) == 1


def test_response_size_limit(server):
    _Handler.script = [(200, {}, b"x" * 5000)]
    client, _ = _client(max_response_bytes=1000)
    with pytest.raises(FetchError, match="exceeds limit"):
        client.get(f"{server}/big")


def test_parse_retry_after_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(
        10.0
    )
    assert parse_retry_after("garbage") is None


def test_archive_roundtrip_meta_and_superseded(tmp_path):
    day = dt.date(2026, 5, 24)
    archive.write_payload(
        tmp_path,
        "skypilot_catalog",
        day,
        "lambda.csv",
        b"v1",
        url="https://example.test/v8/lambda/vms.csv?token=SECRET",
        status=200,
    )
    meta = json.loads((tmp_path / "skypilot_catalog/2026-05-24/lambda.csv.meta.json").read_text())
    assert meta["sha256"] == "3bfc269594ef649228e9a74bab00f042efc91d5acc6fbee31a382e80d42388fe"
    assert meta["bytes"] == 2 and "SECRET" not in json.dumps(meta)
    archive.write_payload(tmp_path, "skypilot_catalog", day, "lambda.csv", b"v2")
    (payload,) = archive.read_payloads(tmp_path, "skypilot_catalog", day)
    assert payload.content == b"v2"
    kept = list((tmp_path / "skypilot_catalog/2026-05-24/.superseded").iterdir())
    assert any(p.read_bytes() == b"v1" for p in kept)  # nothing destroyed
    with pytest.raises(archive.ArchiveError, match="no payloads"):
        archive.read_payloads(tmp_path, "runpod", day)


def test_archive_replay_without_meta_files(tmp_path):
    folder = tmp_path / "skypilot_catalog" / "2026-05-24"
    folder.mkdir(parents=True)
    (folder / "verda.csv").write_bytes(b"abc")
    (payload,) = archive.read_payloads(tmp_path, "skypilot_catalog", dt.date(2026, 5, 24))
    assert payload.meta == {} and payload.fetched_at is None


def _frame(day, price):
    recs = [
        {
            "provider": "lambda",
            "gpu_name": "H100",
            "gpu_hint": "gpu_8x_h100_sxm5",
            "gpu_count": 8,
            "pricing": "on_demand",
            "price": price,
            "price_basis": "per_instance",
            "instance_type": "g8",
        }
    ]
    offers, _ = normalise_offers(recs, source="t", day=day)
    return offers


def test_replace_partition_is_idempotent_and_atomic(tmp_path):
    db = tmp_path / "w.duckdb"
    d1, d2 = dt.date(2026, 1, 1), dt.date(2026, 1, 2)
    with warehouse.writer(db) as con:
        warehouse.replace_partition(
            con, "raw.gpu_offers", _frame(d1, 31.92), source="t", dates=[d1]
        )
        warehouse.replace_partition(con, "raw.gpu_offers", _frame(d2, 24.0), source="t", dates=[d2])
        warehouse.replace_partition(
            con, "raw.gpu_offers", _frame(d1, 31.92), source="t", dates=[d1]
        )
        rows = con.execute(
            "SELECT date, price_usd_per_gpu_hour FROM raw.gpu_offers ORDER BY date"
        ).fetchall()
    assert rows == [(d1, 3.99), (d2, 3.0)]
    # a failing insert leaves the previous partition in place
    bad = _frame(d1, 40.0).with_columns(pl.lit("other").alias("source"))
    with warehouse.writer(db) as con:
        with pytest.raises(ValueError, match="outside partition"):
            warehouse.replace_partition(con, "raw.gpu_offers", bad, source="t", dates=[d1])
        assert con.execute("SELECT count(*) FROM raw.gpu_offers").fetchone()[0] == 2


def test_reader_is_read_only(tmp_path):
    db = tmp_path / "w.duckdb"
    with warehouse.writer(db):
        pass
    with warehouse.reader(db) as con, pytest.raises(duckdb.Error):
        con.execute("CREATE TABLE raw.evil AS SELECT 1")


def test_load_source_day_rolls_back_everything_on_error(tmp_path):
    db = tmp_path / "w.duckdb"
    d1 = dt.date(2026, 1, 1)
    good = _frame(d1, 31.92)
    warehouse.load_source_day(
        db,
        source="t",
        days=[d1],
        offers=good,
        quarantine=empty_quarantine(),
        payloads=["a"],
        mode="archive",
    )
    broken_quarantine = normalise_offers(
        [{"provider": "x", "gpu_name": "??", "price": 1}], source="other", day=d1
    )[1]
    with pytest.raises(ValueError):
        warehouse.load_source_day(
            db,
            source="t",
            days=[d1],
            offers=_frame(d1, 16.0),
            quarantine=broken_quarantine,
            payloads=["b"],
            mode="archive",
        )
    with warehouse.reader(db) as con:
        assert con.execute("SELECT price_usd_per_gpu_hour FROM raw.gpu_offers").fetchall() == [
            (3.99,)
        ]
        assert con.execute("SELECT count(*) FROM raw.load_log").fetchone()[0] == 1


def test_duckdb_memory_and_thread_limits_come_from_the_environment(tmp_path, monkeypatch):
    from pipelines.lib import warehouse as wh

    db = tmp_path / "w.duckdb"
    monkeypatch.setenv("GPU_TRACKER_DUCKDB_MEMORY_LIMIT", "1GB")
    monkeypatch.setenv("GPU_TRACKER_DUCKDB_THREADS", "1")
    with wh.writer(db) as con:
        assert con.execute(
            "select current_setting('memory_limit'), current_setting('threads')"
        ).fetchone() == ("953.6 MiB", 1)
    with wh.reader(db) as con:
        assert con.execute("select current_setting('memory_limit')").fetchone() == ("953.6 MiB",)
        # no progress bar on stdout (it would corrupt `gpu-tracker sql --format csv > file`)
        assert con.execute("select current_setting('enable_progress_bar')").fetchone() == (False,)
    monkeypatch.delenv("GPU_TRACKER_DUCKDB_MEMORY_LIMIT")
    monkeypatch.delenv("GPU_TRACKER_DUCKDB_THREADS")
    with wh.reader(db) as con:  # unset: DuckDB's own default (80% of RAM)
        assert con.execute("select current_setting('memory_limit')").fetchone() != ("953.6 MiB",)
