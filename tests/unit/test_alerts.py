"""Alert rules on small frames, the outbox, delivery to a local webhook (down, then up), and
the whole path on the real imported observation log."""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import logging
import socket
import socketserver
import threading
import time
from typing import ClassVar

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipelines.cli import main as cli
from pipelines.lib import alerts as A

D = [dt.date(2026, 6, 1) + dt.timedelta(days=i) for i in range(21)]


def changes(rows):
    """(date, provider, gpu, pricing, kind, prev, now)"""
    out = []
    for d, p, g, pr, kind, prev, now in rows:
        out.append(
            {
                "date": d,
                "provider": p,
                "gpu_model": g,
                "pricing": pr,
                "kind": kind,
                "price_prev": prev,
                "price_now": now,
                "change_pct": (now / prev - 1) * 100 if prev else None,
                "prev_date": d - dt.timedelta(days=1),
            }
        )
    return pl.DataFrame(out)


def test_provider_price_move_both_directions_and_threshold():
    frame = changes(
        [
            (D[1], "lambda", "H100-SXM-80GB", "on_demand", "up", 2.00, 2.30),  # +15%
            (D[1], "nebius", "H100-SXM-80GB", "on_demand", "down", 2.00, 1.70),  # -15%
            (
                D[1],
                "vastai",
                "H100-SXM-80GB",
                "on_demand",
                "down",
                2.00,
                1.90,
            ),  # -5%: below threshold
        ]
    )
    out = A.evaluate_rules(
        {"price_changes": frame}, D[1], {"rules": {"source_health": {"enabled": False}}}
    )
    assert out["subject"].to_list() == [
        "lambda/H100-SXM-80GB/on_demand",
        "nebius/H100-SXM-80GB/on_demand",
    ]
    msg = out["message"][0]
    assert "rose 15.0% from $2.00 (2026-06-01) to $2.30 per GPU-hour on 2026-06-02" in msg
    assert "marts.price_changes" in msg
    assert "fell 15.0%" in out["message"][1]


def test_flapping_series_alerts_once_per_week():
    rows, price = [], 1.0
    for d in D[1:]:  # alternates daily between 1.0 and 1.5 for 20 days
        new = 1.5 if price == 1.0 else 1.0
        rows.append(
            (d, "vastai", "RTX4090-24GB", "spot", "up" if new > price else "down", price, new)
        )
        price = new
    frame = changes(rows)
    ids = {}
    for d in D[1:]:
        out = A.evaluate_rules({"price_changes": frame.filter(pl.col("date") <= d)}, d)
        assert out.height == 1
        ids.setdefault(d.isocalendar()[:2], set()).add(out["alert_id"][0])
        if "flapping" in out["message"][0]:
            assert "between $1.00 and $1.50" in out["message"][0]
    # week 23: three plain moves until the 3rd reversal, then one flap alert for the rest of the
    # week; weeks 24 and 25 (7 moves each): exactly one alert id each
    assert [len(ids[w]) for w in sorted(ids)] == [4, 1, 1]


def test_market_move_availability_new_and_source_health():
    summary = pl.DataFrame(
        {
            "date": D[:8],
            "gpu_model": ["H100-SXM-80GB"] * 8,
            "pricing": ["on_demand"] * 8,
            "market_median": [2.0] * 7 + [2.4],
            "n_providers": [5] * 8,
            "change_7d_like_for_like_pct": [None] * 7 + [20.0],
        }
    )
    prices = pl.DataFrame(
        {
            "date": [D[0], D[0], D[0], D[1], D[1], D[1], D[1]],
            "provider": ["aws", "aws", "runpod", "aws", "runpod", "runpod", "newco"],
            "gpu_model": [
                "A100-SXM-80GB",
                "H100-SXM-80GB",
                "H100-SXM-80GB",
                "A100-SXM-80GB",
                "H100-SXM-80GB",
                "B300-288GB",
                "H100-SXM-80GB",
            ],
            "pricing": ["on_demand"] * 7,
            "price_min": [1.0, 3.0, 2.0, 1.0, 2.0, 6.0, 1.5],
            "n_offers": [4, 1, 10, 4, 4, 1, 1],
            "available_gpus": [None] * 7,
        },
        schema_overrides={"available_gpus": pl.Int64},
    )
    load_log = pl.DataFrame(
        {
            "source": ["runpod", "vastai"],
            "date": [D[1], D[1]],
            "status": ["ok", "failed"],
            "error": [None, "HTTP 500 after 5 attempts"],
            "payloads": ["", ""],
            "mode": ["live", "live"],
            "loaded_at": [dt.datetime(2026, 6, 2, 6, tzinfo=dt.UTC)] * 2,
        }
    )
    out = A.evaluate_rules(
        {"daily_summary": summary, "gpu_price_daily": prices, "load_log": load_log}, D[1]
    )
    subjects = dict(zip(out["subject"], out["message"], strict=True))
    assert "offers fell to zero" in subjects["aws/H100-SXM-80GB/on_demand"]
    assert "offers fell 60% from 10 (2026-06-01) to 4" in subjects["runpod/H100-SXM-80GB/on_demand"]
    assert "new GPU model B300-288GB" in subjects["GPU model/B300-288GB"]
    assert "new provider newco" in subjects["provider/newco"]
    assert "source vastai failed for 2026-06-02: HTTP 500" in subjects["source/vastai"]
    market = A.evaluate_rules({"daily_summary": summary}, D[7])
    assert market["message"][0].startswith(
        "H100-SXM-80GB on_demand market rose 20.0% like for like in 7 days "
        "to 2026-06-08 (providers present on both dates); cross-sectional "
        "median $2.00 (7-day) -> $2.40"
    )
    # a cross-sectional jump with no like-for-like move (a cheaper provider joined) alerts nothing
    composition = summary.with_columns(pl.lit(0.0).alias("change_7d_like_for_like_pct"))
    assert A.evaluate_rules({"daily_summary": composition}, D[7]).height == 0


# --------------------------------------------------------------------------- delivery


class _Hook(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list] = []
    keys: ClassVar[list] = []  # Idempotency-Key header of each POST
    delay: ClassVar[float] = 0.0  # answer this late (the body is read first: the alert arrived)
    status: ClassVar[int] = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        _Hook.keys.append(self.headers.get("Idempotency-Key"))
        if _Hook.delay:
            threading.Event().wait(_Hook.delay)
        try:
            self.send_response(_Hook.status)
            self.end_headers()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(port):
    server = http.server.HTTPServer(("127.0.0.1", port), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _outbox(n=2):
    con = duckdb.connect()
    rows = [
        A._alert(
            "provider_price_move", f"p{i}/H100-SXM-80GB/on_demand", D[1], "warning", f"move {i}", {}
        )
        for i in range(n)
    ]
    A.record(
        con, pl.DataFrame(rows).cast({"date": pl.Date}), dt.datetime(2026, 6, 2, tzinfo=dt.UTC)
    )
    return con


def test_webhook_down_then_up_delivers_exactly_once_and_hides_the_secret(monkeypatch, caplog):
    port = _free_port()
    secret_url = f"http://127.0.0.1:{port}/hooks/T000/SECRET-TOKEN"
    monkeypatch.setenv("GPU_TRACKER_WEBHOOK_URL", secret_url)
    cfg = A.alert_config({})
    con = _outbox()
    now = dt.datetime(2026, 6, 2, 7, tzinfo=dt.UTC)
    with caplog.at_level(logging.DEBUG):
        stats = A.deliver(con, cfg, now)  # nobody listening: connection refused
    assert stats == {"pending_before": 2, "delivered": 0, "still_pending": 2, "unknown": 0}
    attempts, err, chans, unknown = con.execute(
        "select attempts, last_error, channels_delivered, delivery_unknown from marts.alerts limit 1"
    ).fetchone()
    assert attempts == 1 and chans == "log" and unknown is None  # refused: failed, not unknown
    assert err == "webhook: ConnectionRefusedError: [Errno 111] Connection refused"
    assert "SECRET-TOKEN" not in err and "SECRET-TOKEN" not in caplog.text
    _Hook.received.clear()
    _Hook.keys.clear()
    server = _serve(port)
    try:
        assert A.deliver(con, cfg, now)["delivered"] == 2
        assert A.deliver(con, cfg, now) == {
            "pending_before": 0,
            "delivered": 0,
            "still_pending": 0,
            "unknown": 0,
        }
    finally:
        server.shutdown()
    assert len(_Hook.received) == 1  # one POST carrying both alerts
    body = _Hook.received[0]
    ids = [a["alert_id"] for a in body["alerts"]]
    assert _Hook.keys == [body["idempotency_key"]] == [A.delivery_key(ids)]
    assert body["text"].startswith("GPU tracker: 2 alert(s)") and len(body["alerts"]) == 2
    assert {a["subject"] for a in body["alerts"]} == {
        "p0/H100-SXM-80GB/on_demand",
        "p1/H100-SXM-80GB/on_demand",
    }
    # the log channel was not repeated on the retry
    assert caplog.text.count("ALERT move 0") == 1


def test_same_alert_is_never_recorded_twice():
    con = _outbox(1)
    again = pl.DataFrame(
        [
            A._alert(
                "provider_price_move", "p0/H100-SXM-80GB/on_demand", D[1], "warning", "move 0", {}
            )
        ]
    ).cast({"date": pl.Date})
    assert A.record(con, again, dt.datetime(2026, 6, 3, tzinfo=dt.UTC)) == 0


# --------------------------------------------------------------------------- real history


@pytest.mark.slow
def test_real_history_sustained_move_alerts_once_and_delivers_once(
    tracker_env, shared_data, monkeypatch, capsys
):
    log_csv = next(
        (shared_data / "price_history/cherielilili_gpu_pricing_tracker").glob("observations_*.csv")
    )
    assert cli(["import", str(log_csv), "--format", "obs-log"]) == 0
    port = _free_port()
    monkeypatch.setenv("GPU_TRACKER_WEBHOOK_URL", f"http://127.0.0.1:{port}/hook")
    _Hook.received.clear()
    server = _serve(port)
    try:
        assert cli(["alerts", "--date", "2026-06-01"]) == 0
        first = capsys.readouterr().out
        assert cli(["alerts", "--date", "2026-06-01"]) == 0
        second = capsys.readouterr().out
    finally:
        server.shutdown()
    assert len(_Hook.received) == 1
    posted = [
        a
        for a in _Hook.received[0]["alerts"]
        if a["subject"] == "vastai/B200-180GB/on_demand" and a["rule"] == "provider_price_move"
    ]
    assert len(posted) == 1
    assert (
        "fell 11.6% from $5.08 (2026-05-31) to $4.49 per GPU-hour on 2026-06-01"
        in posted[0]["message"]
    )
    assert "0 new, 0 delivered, 0 still pending" in second and " new, " in first
    # the real flapping series: vast.ai's RTX 4090 spot lowest price reversed 8 times in 14 days
    flap = [a for a in _Hook.received[0]["alerts"] if a["subject"] == "vastai/RTX4090-24GB/spot"]
    assert len(flap) == 1 and "is flapping between $0.0667 and $0.831" in flap[0]["message"]
    # the next day of the same ISO week adds no new alert for that subject
    from pipelines.lib import alerts as alerts_mod
    from pipelines.lib.config import load_config

    con = duckdb.connect(str(tracker_env / "gpu_market.duckdb"), read_only=True)
    frames = alerts_mod._tables(con)
    con.close()
    nxt = alerts_mod.evaluate_rules(
        frames, dt.date(2026, 6, 2), load_config().data.get("alerts", {})
    )
    same = nxt.filter(pl.col("subject") == "vastai/RTX4090-24GB/spot")
    assert same.height == 0 or same["alert_id"][0] == flap[0]["alert_id"]
    db = tracker_env / "gpu_market.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    n = con.execute(
        "select count(*) from marts.alerts where subject = 'vastai/B200-180GB/on_demand' "
        "and rule = 'provider_price_move' and delivered_at is not null"
    ).fetchone()[0]
    con.close()
    assert n == 1


def test_email_delivery_to_a_local_smtp_server_and_password_never_logged(monkeypatch, caplog):
    from aiosmtpd.controller import Controller

    class Sink:
        messages: ClassVar[list] = []

        async def handle_DATA(self, server, session, envelope):
            Sink.messages.append(envelope.content.decode())
            return "250 OK"

    port = _free_port()
    monkeypatch.delenv("GPU_TRACKER_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("GPU_TRACKER_SMTP_PASSWORD", "hunter2-smtp")
    cfg = A.alert_config(
        {
            "email": {
                "host": "127.0.0.1",
                "port": port,
                "starttls": False,
                "from_addr": "tracker@example.org",
                "to": ["ops@example.org"],
            }
        }
    )
    con = _outbox()
    now = dt.datetime(2026, 6, 2, 7, tzinfo=dt.UTC)
    with caplog.at_level(logging.DEBUG):
        assert A.deliver(con, cfg, now)["still_pending"] == 2  # server not up yet
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert A.deliver(con, cfg, now)["delivered"] == 2
        assert A.deliver(con, cfg, now)["pending_before"] == 0
    finally:
        controller.stop()
    assert len(Sink.messages) == 1
    assert "Subject: GPU tracker: 2 alert(s)" in Sink.messages[0] and "move 1" in Sink.messages[0]
    assert "hunter2-smtp" not in caplog.text
    errors = [r[0] for r in con.execute("select last_error from marts.alerts").fetchall()]
    assert all(e is None for e in errors)  # cleared once delivered


def test_alerts_job_evaluates_and_delivers_through_dagster(tracker_env, monkeypatch):
    from pipelines.definitions import defs

    monkeypatch.delenv("GPU_TRACKER_WEBHOOK_URL", raising=False)
    db = tracker_env / "gpu_market.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema marts")
    frame = changes([(D[1], "lambda", "H100-SXM-80GB", "on_demand", "up", 2.0, 2.5)])
    con.register("frame", frame.to_arrow())
    con.execute("create table marts.price_changes as select * from frame")
    con.execute(
        "create table marts.gpu_price_daily as select date '2026-06-02' as date, 'lambda' as provider, "
        "'H100-SXM-80GB' as gpu_model, 'on_demand' as pricing, 2.5 as price_min, 1 as n_offers, "
        "null::bigint as available_gpus"
    )
    con.close()
    result = defs.resolve_job_def("alerts_job").execute_in_process(
        run_config={"ops": {"evaluate_alerts": {"config": {"date": "2026-06-02"}}}},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(
        "select rule, subject, delivered_at is not null from marts.alerts"
    ).fetchall()
    con.close()
    assert rows == [("provider_price_move", "lambda/H100-SXM-80GB/on_demand", True)]


# --------------------------------------------------------------------------- delivery faults (#10)


@pytest.fixture
def hook(monkeypatch):
    """A local webhook whose answer can be delayed or fail; its URL in the environment."""
    port = _free_port()
    monkeypatch.setenv(
        "GPU_TRACKER_WEBHOOK_URL", f"http://127.0.0.1:{port}/hooks/T000/SECRET-TOKEN"
    )
    _Hook.received, _Hook.keys, _Hook.delay, _Hook.status = [], [], 0.0, 200
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Hook)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _state(con):
    return con.execute(
        "select channels_delivered, delivery_unknown, delivered_at is not null, last_error "
        "from marts.alerts order by alert_id"
    ).fetchall()


def test_an_answer_after_the_timeout_is_unknown_and_never_resent_blindly(hook):
    """The webhook takes the POST but answers 200 after the client's 0.5 s timeout: the two
    alerts arrived, so resending them would show every alert twice. They are recorded as
    "unknown" (not "failed"), and the next run does not send them again."""
    _Hook.delay = 1.5
    cfg = A.alert_config({"webhook": {"timeout_seconds": 0.5, "deadline_seconds": 5}})
    con = _outbox()
    now = dt.datetime(2026, 6, 2, 7, tzinfo=dt.UTC)
    assert A.deliver(con, cfg, now) == {
        "pending_before": 2,
        "delivered": 0,
        "still_pending": 2,
        "unknown": 2,
    }
    for chans, unknown, done, err in _state(con):
        assert (chans, unknown, done) == ("log", "webhook", False)
        assert err == "webhook: delivery unknown: sent, then TimeoutError: timed out"
    _Hook.delay = 0.0
    assert A.deliver(con, cfg, now) == {
        "pending_before": 2,
        "delivered": 0,
        "still_pending": 2,
        "unknown": 2,
    }
    assert len(_Hook.received) == 1  # not re-sent
    assert _state(con)[0][3] == "webhook: delivery unknown (not re-sent, see the delivery policy)"
    # a receiver that dedupes: resend_unknown sends the same batch with the same key
    cfg = A.alert_config({"webhook": {"timeout_seconds": 0.5, "resend_unknown": True}})
    assert A.deliver(con, cfg, now)["delivered"] == 2
    assert (
        len(_Hook.received) == 2
        and _Hook.keys[0] == _Hook.keys[1] == _Hook.received[1]["idempotency_key"]
    )
    assert [r[:3] for r in _state(con)] == [("log,webhook", None, True)] * 2
    assert A.deliver(con, cfg, now)["pending_before"] == 0


def test_an_http_error_is_failed_and_retried(hook):
    _Hook.status = 503
    cfg = A.alert_config({})
    con = _outbox(1)
    now = dt.datetime(2026, 6, 2, 7, tzinfo=dt.UTC)
    assert A.deliver(con, cfg, now) == {
        "pending_before": 1,
        "delivered": 0,
        "still_pending": 1,
        "unknown": 0,
    }
    assert _state(con) == [("log", None, False, "webhook: webhook answered HTTP 503")]
    _Hook.status = 200
    assert A.deliver(con, cfg, now)["delivered"] == 1
    assert (
        len(_Hook.received) == 2 and _Hook.keys[0] == _Hook.keys[1]
    )  # the same alert, the same key


class _Drip(http.server.BaseHTTPRequestHandler):
    """Reads the POST, then answers one byte every 0.4 s: never trips a per-read timeout."""

    arrived: ClassVar[threading.Event] = threading.Event()

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        _Drip.arrived.set()
        try:
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                threading.Event().wait(0.4)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


def test_a_dripping_webhook_is_cut_at_the_deadline_and_holds_no_lock(tracker_env, monkeypatch):
    """A webhook dripping its answer (16 s in all) with timeout_seconds = 2: the delivery ends at
    its 2 s deadline as "unknown", and while it waits a writer gets the warehouse at once
    (before, the writer lock was held for the whole delivery: 156 s in the issue)."""
    from pipelines.lib import warehouse

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(
        "GPU_TRACKER_WEBHOOK_URL", f"http://127.0.0.1:{server.server_address[1]}/hook"
    )
    db = tracker_env / "gpu_market.duckdb"
    now = dt.datetime(2026, 6, 2, 7, tzinfo=dt.UTC)
    with warehouse.writer(db) as con:
        A.record(
            con,
            pl.DataFrame(
                [
                    A._alert(
                        "provider_price_move",
                        "lambda/H100-SXM-80GB/on_demand",
                        D[1],
                        "warning",
                        "move",
                        {},
                    )
                ]
            ).cast({"date": pl.Date}),
            now,
        )
    _Drip.arrived.clear()
    out: dict = {}

    def run():
        started = time.monotonic()
        out["result"] = A.evaluate_and_deliver(
            db, D[1], {"webhook": {"timeout_seconds": 2, "deadline_seconds": 2}}, now=now
        )
        out["seconds"] = time.monotonic() - started

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    try:
        assert _Drip.arrived.wait(10)
        started = time.monotonic()
        with warehouse.writer(db) as con:  # the model build, an import: not kept waiting
            con.execute("select 1").fetchall()
        waited = time.monotonic() - started
        worker.join(15)
        assert not worker.is_alive()
    finally:
        server.shutdown()
        server.server_close()
    assert waited < 1.0
    assert 1.9 < out["seconds"] < 5.0
    assert (out["result"].still_pending, out["result"].unknown) == (1, 1)
    con = duckdb.connect(str(db), read_only=True)
    cut = (
        "webhook: delivery unknown: sent, then no complete answer within the 2 s delivery deadline"
    )
    assert _state(con)[0][1:] == ("webhook", False, cut)
    con.close()


def test_a_second_deliverer_does_not_send_claimed_alerts(hook):
    """Sending happens with no lock held, so two deliverers may overlap: the alerts the first
    one claimed are not sent by the second."""
    cfg = A.alert_config({})
    con = _outbox(2)
    claimed = A.claim_pending(con, cfg)
    assert len(claimed) == 2
    assert A.claim_pending(con, cfg) == []  # the second deliverer finds nothing to send
    outcomes = A.send_pending(cfg, claimed)
    stats = A.record_outcomes(
        con, cfg, claimed, outcomes, dt.datetime(2026, 6, 2, 7, tzinfo=dt.UTC)
    )
    assert stats["delivered"] == 2 and len(_Hook.received) == 1


class _EchoingSmtp(socketserver.StreamRequestHandler):
    """An SMTP server that refuses the login quoting the AUTH lines it got, base64 and all
    (seen in the wild: 55 rows of marts.alerts.last_error held the credentials)."""

    mechanism: ClassVar[str] = "PLAIN"

    def handle(self):
        self.wfile.write(b"220 localhost ESMTP test\r\n")
        for raw in self.rfile:
            line = raw.decode(errors="replace").strip()
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.wfile.write(f"250-localhost\r\n250 AUTH {_EchoingSmtp.mechanism}\r\n".encode())
            elif verb == "AUTH" and _EchoingSmtp.mechanism == "LOGIN":
                self.wfile.write(b"334 UGFzc3dvcmQ6\r\n")  # "Password:"
                answer = self.rfile.readline().decode().strip()
                self.wfile.write(f"535 5.7.8 rejected {line!r} then {answer!r}\r\n".encode())
            elif verb == "AUTH":
                self.wfile.write(f"535 5.7.8 authentication failed: {line}\r\n".encode())
            elif verb == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_an_smtp_server_echoing_the_auth_line_leaks_no_base64_credentials(
    monkeypatch, caplog, capsys, mechanism
):
    user, password = "alerts-bot@example.org", "hunter2-smtp-secret"
    forms = [
        base64.b64encode(f"\0{user}\0{password}".encode()).decode(),
        base64.b64encode(user.encode()).decode(),
        base64.b64encode(password.encode()).decode(),
        password,
    ]
    _EchoingSmtp.mechanism = mechanism
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _EchoingSmtp)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.delenv("GPU_TRACKER_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("GPU_TRACKER_SMTP_PASSWORD", password)
    cfg = A.alert_config(
        {
            "email": {
                "host": "127.0.0.1",
                "port": server.server_address[1],
                "starttls": False,
                "username": user,
                "to": ["ops@example.org"],
            }
        }
    )
    con = _outbox()
    try:
        with caplog.at_level(logging.DEBUG):
            assert (
                A.deliver(con, cfg, dt.datetime(2026, 6, 2, 7, tzinfo=dt.UTC))["still_pending"] == 2
            )
    finally:
        server.shutdown()
        server.server_close()
    errors = [r[0] for r in con.execute("select last_error from marts.alerts").fetchall()]
    assert all(
        e.startswith("email: SMTPAuthenticationError: (535, b") and "5.7.8" in e for e in errors
    ), errors
    assert "<redacted>" in errors[0]
    written = "\n".join([*errors, caplog.text, *capsys.readouterr()])
    for form in forms:
        assert form not in written and form.rstrip("=") not in written
