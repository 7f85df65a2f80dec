"""A 127.0.0.1 page server and a polite client for the pricing-page fetch tests (no network)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from pipelines.lib.http import PoliteClient


def serve(status: int, body: bytes, content_type: str = "text/html; charset=utf-8"):
    """A 127.0.0.1 server answering every GET with (status, body); returns (server, url, paths)."""
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            paths.append(self.path)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/pricing", paths


def polite_client() -> PoliteClient:
    """The tracker's client with no retries, no rate-limit sleeps and no proxy from the env."""
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment for 127.0.0.1
    return PoliteClient(
        user_agent="test",
        session=session,
        max_retries=0,
        min_interval_seconds=0,
        sleep=lambda s: None,
    )
