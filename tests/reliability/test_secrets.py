"""Secrets from the environment never leave the process except towards the service they are for.

Every secret the tracker reads from the environment (``RUNPOD_API_KEY``, ``VAST_API_KEY``,
``OPENROUTER_API_KEY``, ``HF_TOKEN``, ``SEC_EDGAR_USER_AGENT``, ``GPU_TRACKER_WEBHOOK_URL``,
``GPU_TRACKER_SMTP_PASSWORD``) is set to a canary value. The *live* path (CLI -> Dagster ->
fetch -> archive -> parse -> load -> models -> published report; then ``gpu-tracker alerts``)
runs against a local HTTP server and a local SMTP server that serve the real recorded payloads
of ../shared/data (SkyPilot Lambda catalog, RunPod capture, Hugging Face list, SEC excerpt)
and, for some requests, hostile answers that echo the credentials they received: RunPod's
community query gets a GraphQL ``errors`` answer with HTTP 200, OpenRouter an error object
with HTTP 200, Vast.ai 401, the second SEC CIK 403, Hugging Face a ``Link`` to page 2 that
carries the token in its query string (then 500), the webhook 500, SMTP 535; and finally the
webhook URL on a closed port, whose connection error quotes the URL (token path).

The test first proves each secret was really *used* (the servers saw the Bearer tokens, the
SEC User-Agent, the webhook token path, the SMTP password) and that the error paths really
ran; then it scans, for every canary: captured logs (caplog at DEBUG, stdout/stderr at the fd
level), every Dagster event of every run (materialization and check metadata, step failures,
log lines) and every file of DAGSTER_HOME, every file name and byte of the raw archive
(payloads and ``.meta.json``), the published files and report, every column of every
warehouse table, and the alert bodies the webhook received.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import logging
import secrets
import socket
import socketserver
import threading
import time
from pathlib import Path
from typing import ClassVar

import dagster as dg
import duckdb
import pytest

from pipelines.cli import main as cli

DAY = "2026-05-01"
LAMBDA = "skypilot_catalog/lambda/v8_0f40703_us-east-1.csv"
RUNPOD = "provider_payloads/runpod/gpuport_runpod_sample_2025-11-14_0cb9709.json"
HF = "model_releases/hf_api_excerpt/hf_list_models_excerpt_2025-11.json"
SEC = "nvidia_financials/sec_companyfacts_CIK0001045810_excerpt.json"
SOURCES = "skypilot_catalog,runpod,vastai,openrouter,huggingface,sec_edgar"


class _Http(http.server.BaseHTTPRequestHandler):
    """Serves the recorded payloads; error answers echo the credentials they received."""

    files: ClassVar[dict[str, bytes]] = {}
    base: ClassVar[str] = ""
    seen: ClassVar[list[dict]] = []  # every request: method, path, headers, body

    def log_message(self, *args):
        pass

    def _echo(self) -> bytes:
        return (
            f"denied: Authorization={self.headers.get('Authorization')!s} "
            f"User-Agent={self.headers.get('User-Agent')!s} path={self.path}"
        ).encode()

    def _send(self, status: int, body: bytes, ctype="application/json", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self, method: str):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        _Http.seen.append(
            {"method": method, "path": self.path, "headers": dict(self.headers), "body": body}
        )
        path, _, query = self.path.partition("?")
        if path == "/sky/lambda/vms.csv":
            return self._send(200, self.files["lambda"], "text/csv")
        if path == "/runpod/graphql":
            if b"secureCloud: true" in body:
                return self._send(200, self.files["runpod"])
            # GraphQL servers answer auth errors with HTTP 200 and an ``errors`` list
            err = {
                "data": None,
                "errors": [
                    {"message": self._echo().decode(), "extensions": {"code": "UNAUTHENTICATED"}}
                ],
            }
            return self._send(200, json.dumps(err).encode())
        if path == "/vast/bundles/":
            return self._send(
                401, json.dumps({"error": "invalid_api_key", "msg": self._echo().decode()}).encode()
            )
        if path == "/openrouter/models":
            # an error object with HTTP 200 (as a proxy in front of the API may answer)
            err = {"error": {"code": 401, "message": self._echo().decode()}}
            return self._send(200, json.dumps(err).encode())
        if path == "/hf/api/models":
            if "cursor=" in query:
                return self._send(500, self._echo(), "text/plain")
            # a next link that carries the caller's token in its query string
            token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            link = f'<{self.base}/hf/api/models?cursor=page2&limit=100&token={token}>; rel="next"'
            return self._send(200, self.files["hf"], headers={"Link": link})
        if path == "/sec/api/xbrl/companyfacts/CIK0001045810.json":
            return self._send(200, self.files["sec"])
        if path.startswith("/sec/"):
            return self._send(
                403,
                b"<html>Your request has been identified as undeclared automated tool "
                b"traffic. " + self._echo() + b"</html>",
                "text/html",
            )
        if path.startswith("/hooks/"):
            return self._send(500, b"webhook rejected " + self._echo(), "text/plain")
        return self._send(404, b"not found " + self._echo(), "text/plain")

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")


class _Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP to receive AUTH PLAIN and refuse it, quoting the credentials back."""

    auths: ClassVar[list[str]] = []

    def handle(self):
        self.wfile.write(b"220 localhost ESMTP test\r\n")
        for raw in self.rfile:
            line = raw.decode(errors="replace").strip()
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.wfile.write(b"250-localhost\r\n250 AUTH PLAIN\r\n")
            elif verb == "AUTH":
                creds = base64.b64decode(line.split()[-1]).decode(errors="replace")
                _Smtp.auths.append(creds)
                self.wfile.write(f"535 5.7.8 authentication failed for {creds!r}\r\n".encode())
            elif verb == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def servers(shared_data):
    http_srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Http)
    smtp_srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    smtp_srv.daemon_threads = True
    for srv in (http_srv, smtp_srv):
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    _Http.base = f"http://127.0.0.1:{http_srv.server_address[1]}"
    _Http.files = {
        "lambda": (shared_data / LAMBDA).read_bytes(),
        "runpod": (shared_data / RUNPOD).read_bytes(),
        "hf": (shared_data / HF).read_bytes(),
        "sec": (shared_data / SEC).read_bytes(),
    }
    _Http.seen, _Smtp.auths = [], []
    yield _Http.base, smtp_srv.server_address[1]
    for srv in (http_srv, smtp_srv):
        srv.shutdown()
        srv.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def env(tmp_path, monkeypatch, servers):
    base, smtp_port = servers
    wh = tmp_path / "warehouse"
    cfg = tmp_path / "gpu_tracker.toml"
    cfg.write_text(
        "[paths]\n"
        f'warehouse = "{wh / "gpu_market.duckdb"}"\narchive = "{wh / "raw"}"\n'
        f'published = "{wh / "published"}"\ndagster_home = "{wh / "dagster_home"}"\n'
        "[schedule]\nfetch_retries = 0\n"
        "[http]\ntimeout_seconds = 5\nmax_retries = 1\nbackoff_seconds = 0.01\nmax_backoff_seconds = 0.1\n"
        "min_interval_seconds = 0\n"
        f'[sources.skypilot_catalog]\nbase_url = "{base}/sky"\nfallback_url = ""\nclouds = ["lambda"]\n'
        f'[sources.runpod]\nbase_url = "{base}/runpod/graphql"\n'
        f'[sources.vastai]\nbase_url = "{base}/vast/bundles/"\n'
        f'[sources.openrouter]\nbase_url = "{base}/openrouter/models"\n'
        f'[sources.huggingface]\nbase_url = "{base}/hf"\n'
        f'[sources.sec_edgar]\nbase_url = "{base}/sec"\nciks = ["0001045810", "0000002488"]\n'
        f"[alerts.webhook]\ntimeout_seconds = 5\n"
        f'[alerts.email]\nhost = "127.0.0.1"\nport = {smtp_port}\nstarttls = false\nssl = false\n'
        'username = "tracker"\nfrom_addr = "tracker@example.org"\nto = ["ops@example.org"]\ntimeout_seconds = 5\n'
    )
    monkeypatch.setenv("GPU_TRACKER_CONFIG", str(cfg))
    monkeypatch.setenv("DAGSTER_HOME", str(wh / "dagster_home"))
    for name in ("GPU_TRACKER_WAREHOUSE", "GPU_TRACKER_ARCHIVE"):
        monkeypatch.delenv(name, raising=False)
    # one distinctive token per secret: finding the token anywhere means (part of) that secret leaked
    tokens = {
        name: secrets.token_hex(10)
        for name in (
            "RUNPOD_API_KEY",
            "VAST_API_KEY",
            "OPENROUTER_API_KEY",
            "HF_TOKEN",
            "SEC_EDGAR_USER_AGENT",
            "GPU_TRACKER_WEBHOOK_URL",
            "GPU_TRACKER_SMTP_PASSWORD",
        )
    }
    values = {
        "RUNPOD_API_KEY": f"rpa_canary{tokens['RUNPOD_API_KEY']}",
        "VAST_API_KEY": f"vast-canary{tokens['VAST_API_KEY']}",
        "OPENROUTER_API_KEY": f"sk-or-v1-canary{tokens['OPENROUTER_API_KEY']}",
        "HF_TOKEN": f"hf_canary{tokens['HF_TOKEN']}",
        "SEC_EDGAR_USER_AGENT": f"Canary Tester canary{tokens['SEC_EDGAR_USER_AGENT']}@example.org",
        "GPU_TRACKER_WEBHOOK_URL": f"{base}/hooks/T0CANARY/B0CANARY/canary{tokens['GPU_TRACKER_WEBHOOK_URL']}",
        "GPU_TRACKER_SMTP_PASSWORD": f"smtp-canary{tokens['GPU_TRACKER_SMTP_PASSWORD']}",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return {"wh": wh, "tokens": tokens, "values": values, "base": base}


def _leaks(text: str | bytes, tokens: dict[str, str], where: str) -> list[str]:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return [f"{name} in {where}" for name, tok in tokens.items() if tok in text]


def _seen(path_prefix: str, method: str | None = None) -> list[dict]:
    return [
        r
        for r in _Http.seen
        if r["path"].startswith(path_prefix) and (method is None or r["method"] == method)
    ]


def _db_rows(db: Path) -> dict[str, list[tuple]]:
    """Every warehouse table, every column as text."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE'"
        ).fetchall()
        out = {}
        for schema, table in tables:
            cols = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where "
                    "table_schema = ? and table_name = ?",
                    [schema, table],
                ).fetchall()
            ]
            select = ", ".join(f'cast("{c}" as varchar)' for c in cols)
            out[f"{schema}.{table}"] = con.execute(
                f'select {select} from "{schema}"."{table}"'
            ).fetchall()
        return out
    finally:
        con.close()


def test_secrets_never_leak(env, caplog, capfd, monkeypatch):
    tokens, values, wh = env["tokens"], env["values"], env["wh"]
    assert _leaks(f"x{tokens['HF_TOKEN']}y", tokens, "self-check") == ["HF_TOKEN in self-check"]
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()

    # --- the live daily run: sources through Dagster, then the models, published files and report
    # (a live run loads today's date only: the servers' recorded payloads are "today" = DAY)
    monkeypatch.setattr("pipelines.cli._today", lambda: dt.date.fromisoformat(DAY))
    code = cli(["run", "--date", DAY, "--sources", SOURCES])
    assert (
        code == 1
    )  # vastai (401) and openrouter (error object) fail, the others load (some partially)
    # --- alert delivery: webhook answers 500 and SMTP refuses the login, both echoing what they got
    assert cli(["alerts", "--date", DAY]) == 1
    # --- the webhook on a closed port: a connection error that must not quote the URL's token path
    closed = values["GPU_TRACKER_WEBHOOK_URL"].replace(
        env["base"], f"http://127.0.0.1:{_closed_port()}"
    )
    monkeypatch.setenv("GPU_TRACKER_WEBHOOK_URL", closed)
    assert cli(["alerts", "--date", DAY]) == 1
    elapsed = time.monotonic() - started
    out, err = capfd.readouterr()

    # --- the secrets were really used, and the hostile error paths really ran (no vacuous pass)
    bearer = {
        p: {r["headers"].get("Authorization") for r in _seen(p)}
        for p in ("/runpod/", "/vast/", "/openrouter/", "/hf/")
    }
    assert bearer == {
        "/runpod/": {f"Bearer {values['RUNPOD_API_KEY']}"},
        "/vast/": {f"Bearer {values['VAST_API_KEY']}"},
        "/openrouter/": {f"Bearer {values['OPENROUTER_API_KEY']}"},
        "/hf/": {f"Bearer {values['HF_TOKEN']}"},
    }
    page2 = _seen("/hf/api/models?cursor=")
    assert len(page2) == 2 and all(
        values["HF_TOKEN"] in r["path"] for r in page2
    )  # a URL holding the token
    assert {r["headers"].get("User-Agent") for r in _seen("/sec/")} == {
        values["SEC_EDGAR_USER_AGENT"]
    }
    hooks = _seen("/hooks/", "POST")
    assert hooks and all(tokens["GPU_TRACKER_WEBHOOK_URL"] in r["path"] for r in hooks)
    assert _Smtp.auths and all(a.endswith(values["GPU_TRACKER_SMTP_PASSWORD"]) for a in _Smtp.auths)

    db = wh / "gpu_market.duckdb"
    rows = _db_rows(db)
    load_log = {r[1]: r for r in rows["raw.load_log"]}
    con = duckdb.connect(str(db), read_only=True)
    try:
        status = dict(con.execute("select source, status from raw.load_log").fetchall())
        errors = dict(con.execute("select source, error from raw.load_log").fetchall())
        last_errors = [e for (e,) in con.execute("select last_error from marts.alerts").fetchall()]
    finally:
        con.close()
    assert load_log and status == {
        "skypilot_catalog": "ok",
        "runpod": "partial",
        "vastai": "failed",
        "openrouter": "failed",
        "huggingface": "partial",
        "sec_edgar": "partial",
    }
    assert "GraphQL errors" in errors["runpod"] and "HTTP 401" in errors["vastai"]
    assert "denied: Authorization=" in errors["openrouter"]  # the echoed body is quoted ...
    assert (
        "<redacted>" in errors["openrouter"] + errors["runpod"] + errors["huggingface"]
    )  # ... scrubbed
    assert "HTTP 500" in errors["huggingface"] and "HTTP 403" in errors["sec_edgar"]
    assert any(e and "webhook" in e and "email" in e for e in last_errors)
    assert any(e and "ConnectionRefusedError" in e for e in last_errors)  # the closed-port delivery

    # the echoed payloads were archived with the secret scrubbed (and say so), and the errors
    # quoting them reached the alert channels (source_health alerts carry load_log's error)
    metas = {
        p.parent.parent.name + "/" + p.name: json.loads(p.read_text())
        for p in (wh / "raw").rglob("*.meta.json")
    }
    assert metas["runpod/gpu_types_community.json.meta.json"].get("secrets_redacted") is True
    assert metas["openrouter/models.json.meta.json"].get("secrets_redacted") is True
    assert "secrets_redacted" not in metas["runpod/gpu_types_secure.json.meta.json"]
    assert any(
        b"source openrouter failed" in r["body"] and b"<redacted>" in r["body"] for r in hooks
    )

    # --- Dagster: every event of every run (metadata of materializations and checks, failures, logs)
    instance = dg.DagsterInstance.get()
    metadata_seen = 0
    leaks: list[str] = []
    for run in instance.get_runs():
        for entry in instance.all_logs(run.run_id):
            leaks += _leaks(dg.serialize_value(entry), tokens, f"dagster event ({run.job_name})")
            dagster_event = entry.dagster_event
            if dagster_event is None:
                continue
            data = dagster_event.event_specific_data
            meta = getattr(getattr(data, "materialization", None), "metadata", None) or getattr(
                data, "metadata", None
            )
            if meta:
                metadata_seen += 1
                leaks += _leaks(repr(meta), tokens, f"metadata of {dagster_event.event_type_value}")
    assert metadata_seen >= 20  # materializations and check evaluations were examined
    runpod_check = [
        e
        for e in instance.all_logs(
            next(r.run_id for r in instance.get_runs() if r.job_name == "daily_sources_job")
        )
        if e.dagster_event
        and e.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.dagster_event.event_specific_data.check_name == "fetch_and_parse_errors"
        and e.dagster_event.event_specific_data.asset_key.path[-1] == "runpod"
    ]
    assert (
        "GraphQL errors"
        in runpod_check[0].dagster_event.event_specific_data.metadata["first_errors"].value
    )

    # --- files: the raw archive (names and bytes, meta files), published files, DAGSTER_HOME
    archived = [p for p in (wh / "raw").rglob("*") if p.is_file()]
    assert any(p.name.endswith(".meta.json") for p in archived)
    assert {p.parent.parent.name for p in archived} >= {
        "runpod",
        "huggingface",
        "sec_edgar",
        "openrouter",
    }
    published = [p for p in (wh / "published").rglob("*") if p.is_file()]
    assert any(p.name == "report.html" for p in published)
    for path in [
        *archived,
        *published,
        *(p for p in (wh / "dagster_home").rglob("*") if p.is_file()),
    ]:
        leaks += _leaks(str(path.relative_to(wh)), tokens, f"file name {path.relative_to(wh)}")
        leaks += _leaks(path.read_bytes(), tokens, f"file {path.relative_to(wh)}")

    # --- the warehouse: every column of every table (load_log, quarantine, alerts outbox ...)
    for table, table_rows in rows.items():
        leaks += _leaks(repr(table_rows), tokens, f"table {table}")

    # --- what the alert channels received (the webhook body goes to a chat room)
    for r in hooks:
        leaks += _leaks(r["body"], tokens, "webhook body")

    # --- logs: every record caplog saw (DEBUG and up, any logger) and stdout / stderr
    assert caplog.records and err
    for record in caplog.records:
        leaks += _leaks(record.getMessage(), tokens, f"log record {record.name}")
        if record.exc_info:
            leaks += _leaks(
                logging.Formatter().formatException(record.exc_info), tokens, "log traceback"
            )
    leaks += _leaks(out, tokens, "stdout") + _leaks(err, tokens, "stderr")

    assert not sorted(set(leaks)), "secrets leaked:\n" + "\n".join(sorted(set(leaks)))
    with capfd.disabled():
        print(
            f"\nsecrets: {len(tokens)} canaries used by the live path, none found in logs, Dagster events, "
            f"{len(archived)} archive files, {len(published)} published files or {len(rows)} tables "
            f"({elapsed:.1f} s)"
        )


def test_redaction_helpers(monkeypatch, caplog):
    """The pieces the live test relies on: URL parts of a webhook, short values left alone,
    clean bytes untouched, names read through ``config.secret`` covered, log records scrubbed."""
    from pipelines.lib import redact as R
    from pipelines.lib.config import secret

    monkeypatch.setenv(
        "GPU_TRACKER_WEBHOOK_URL", "https://hooks.example.org/services/T0/B0/tok3nXYZ?sig=abcdef123"
    )
    monkeypatch.setenv(
        "HF_TOKEN", "short"
    )  # under MIN_LENGTH: not a secret worth corrupting data for
    monkeypatch.setenv("SOME_NEW_API_KEY", "new-key-0123456789")
    assert secret("SOME_NEW_API_KEY") == "new-key-0123456789"
    text = "POST /services/T0/B0/tok3nXYZ?sig=abcdef123 with new-key-0123456789, a short word"
    assert R.redact(text) == "POST <redacted>?<redacted> with <redacted>, a short word"
    clean = b'{"data": []}'
    assert R.redact_bytes(clean) is clean
    assert R.redact_bytes(b'{"e": "Bearer new-key-0123456789"}') == b'{"e": "Bearer <redacted>"}'
    R.install_log_redaction()
    R.install_log_redaction()  # idempotent
    # the quiet CLI sets urllib3's logger to ERROR (an earlier test in this process may have):
    # open that logger too, so the line is emitted and its redaction can be checked
    with (
        caplog.at_level(logging.DEBUG),
        caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"),
    ):
        logging.getLogger("urllib3.connectionpool").debug(
            '"%s %s" %s', "POST", "/services/T0/B0/tok3nXYZ", 500
        )
        try:
            raise RuntimeError("key new-key-0123456789 refused")
        except RuntimeError:
            logging.getLogger("x").exception("failed")
    assert "tok3nXYZ" not in caplog.text and "new-key-0123456789" not in caplog.text
    assert (
        '"POST <redacted>" 500' in caplog.text
        and "RuntimeError: key <redacted> refused" in caplog.text
    )
