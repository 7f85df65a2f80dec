"""The HTTP client's retries now made by urllib3's ``Retry`` (``pipelines.lib.http_retry``):
the waits between attempts are the project's (backoff from the first retry, Retry-After read
tolerantly and capped, the politeness interval, the deadline), the attempt budget spans a
switch to the fallback URL, and only what should be retried is. Local servers on 127.0.0.1
with a scripted answer per request; waits are recorded, not slept."""

from __future__ import annotations

import http.server
import threading
import time
from typing import ClassVar

import pytest
import requests

from pipelines.lib.http import DEADLINE, FetchError, PoliteClient
from pipelines.lib.http_retry import FetchRetry, PerFetchRetryAdapter


class _Scripted(http.server.BaseHTTPRequestHandler):
    # (status, headers, body, seconds before answering) served in order; the last repeats
    script: ClassVar[list[tuple[int, dict, bytes, float]]] = []
    seen: ClassVar[list[tuple[str, str]]] = []

    def _answer(self):
        _Scripted.seen.append((self.command, self.path))
        status, headers, body, delay = _Scripted.script[
            min(len(_Scripted.seen) - 1, len(_Scripted.script) - 1)
        ]
        if delay:
            time.sleep(delay)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self):
        self._answer()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer()

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Scripted.script, _Scripted.seen = [], []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _client(**kw) -> tuple[PoliteClient, list[float]]:
    sleeps: list[float] = []
    session = requests.Session()
    session.trust_env = False
    kw.setdefault("min_interval_seconds", 0)
    kw.setdefault("backoff_seconds", 2.0)
    client = PoliteClient(user_agent="tracker-test/1", session=session, sleep=sleeps.append, **kw)
    return client, sleeps


def test_urllib3_makes_the_attempts_with_the_old_backoff(server):
    _Scripted.script = [
        (500, {}, b"", 0),
        (502, {}, b"", 0),
        (504, {}, b"", 0),
        (200, {}, b"ok", 0),
    ]
    client, sleeps = _client(max_retries=4, max_backoff_seconds=5)
    assert isinstance(client.session.get_adapter(server), PerFetchRetryAdapter)
    assert client.get(f"{server}/x").content == b"ok"
    # 2 s before the first retry (urllib3 alone would not wait), doubling, capped at 5 s
    assert sleeps == [2.0, 4.0, 5.0] and len(_Scripted.seen) == 4


def test_retry_after_is_honoured_capped_and_a_bad_one_falls_back_to_the_backoff(server):
    _Scripted.script = [
        (503, {"Retry-After": "3"}, b"", 0),
        (429, {"Retry-After": "999999999"}, b"", 0),  # absurd: capped at max_backoff
        (503, {"Retry-After": "soon"}, b"", 0),  # unparseable: the backoff (2 * 2**2)
        (200, {}, b"ok", 0),
    ]
    client, sleeps = _client(max_retries=3, max_backoff_seconds=10)
    assert client.get(f"{server}/x").content == b"ok"
    assert sleeps == [3.0, 10.0, 8.0]


def test_an_absurd_retry_after_past_the_deadline_is_not_waited_for(server):
    _Scripted.script = [(429, {"Retry-After": "86400"}, b"", 0)]
    client, sleeps = _client(deadline_seconds=5, max_backoff_seconds=3600)
    with pytest.raises(
        FetchError, match=r"HTTP 429; the next attempt \(in 3600.0s\) would pass"
    ) as err:
        client.get(f"{server}/x")
    assert err.value.kind == DEADLINE and err.value.status == 429 and sleeps == []
    assert len(_Scripted.seen) == 1


def test_the_fallback_switch_counts_against_the_attempt_budget(server):
    _Scripted.script = [(429, {}, b"", 0), (503, {}, b"", 0)]
    client, sleeps = _client(max_retries=2)
    with pytest.raises(FetchError, match="HTTP 503 after 3 attempts") as err:
        client.get(f"{server}/primary", fallback_url=f"{server}/mirror")
    assert err.value.url == f"{server}/mirror" and err.value.status == 503
    assert [p for _, p in _Scripted.seen] == ["/primary", "/mirror", "/mirror"]
    # no wait before switching; the backoff after the mirror's first 503 is the second retry's
    assert sleeps == [4.0]


def test_a_429_on_the_fallback_itself_is_retried_there(server):
    _Scripted.script = [(429, {}, b"", 0), (429, {"Retry-After": "1"}, b"", 0), (200, {}, b"m", 0)]
    client, sleeps = _client(max_retries=2)
    assert client.get(f"{server}/p", fallback_url=f"{server}/m").content == b"m"
    assert [p for _, p in _Scripted.seen] == ["/p", "/m", "/m"] and sleeps == [1.0]


def test_posts_are_retried_and_other_client_errors_are_not(server):
    _Scripted.script = [(503, {}, b"", 0), (200, {}, b"{}", 0)]
    client, sleeps = _client(max_retries=1)
    assert client.post(f"{server}/graphql", json={"query": "{ gpus }"}).content == b"{}"
    assert [m for m, _ in _Scripted.seen] == ["POST", "POST"] and sleeps == [2.0]
    _Scripted.script, _Scripted.seen = [(413, {"Retry-After": "1"}, b"", 0)], []
    with pytest.raises(FetchError, match=r": HTTP 413$"):
        client.get(f"{server}/big")
    assert len(_Scripted.seen) == 1 and sleeps == [2.0]


def test_the_politeness_interval_holds_between_retries(server):
    _Scripted.script = [(500, {}, b"", 0), (200, {}, b"ok", 0)]
    client, sleeps = _client(min_interval_seconds=30, backoff_seconds=0.01)
    client.get(f"{server}/x")
    # the backoff, then what is left of the 30 s interval since the first attempt
    assert sleeps[0] == 0.01 and len(sleeps) == 2 and 29 < sleeps[1] <= 30


def test_each_attempt_times_out_at_the_deadline_not_after_the_per_read_timeout(server):
    # the server answers after 3 s; per-read timeout 10 s; the whole fetch may take 1 s
    _Scripted.script = [(200, {}, b"late", 3)]
    client, _ = _client(timeout_seconds=10, deadline_seconds=1, max_retries=0)
    started = time.monotonic()
    with pytest.raises(FetchError):
        client.get(f"{server}/slow")
    assert time.monotonic() - started < 2


def test_concurrent_fetches_keep_their_own_attempt_budget(server):
    """One client, two threads: each fetch has its own Retry (the adapter's is per thread)."""
    _Scripted.script = [(500, {}, b"", 0)]
    client, _ = _client(max_retries=2, backoff_seconds=0.05)
    client._sleep = time.sleep  # real (short) waits, so the two fetches overlap
    errors: list[str] = []

    def fetch(path: str) -> None:
        try:
            client.get(f"{server}/{path}")
        except FetchError as exc:
            errors.append(str(exc).split(": ", 2)[-1])

    threads = [threading.Thread(target=fetch, args=(p,)) for p in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == ["HTTP 500 after 3 attempts"] * 2
    assert sorted(p for _, p in _Scripted.seen) == ["/a"] * 3 + ["/b"] * 3


def test_retry_state_survives_urllib3_copying_it():
    """urllib3 makes a new Retry per attempt (``new``): the fetch's URL, deadline, fallback
    flag and pause must carry over, and the client's rules with them."""
    client = PoliteClient(user_agent="x", max_retries=3)
    retry = client._retry("http://h/x", 12.5, (), True)
    assert isinstance(retry, FetchRetry)
    copy = retry.new(total=2)
    assert (copy.url, copy.deadline, copy.may_fall_back, copy.pause, copy.total) == (
        "http://h/x",
        12.5,
        True,
        retry.pause,
        2,
    )
    assert not copy.is_retry("GET", 429) and copy.is_retry("GET", 503)
    assert not copy.is_retry("GET", 404) and copy.is_retry("POST", 500)
    assert client._retry("http://h/x", 12.5, (), False).is_retry("GET", 429)


class _BigError(http.server.BaseHTTPRequestHandler):
    """A 503 with a large (or dripping) body, then 200: the retried answer's body must not be
    read (urllib3 drains it to reuse the connection, past the size cap and the deadline)."""

    hits: ClassVar[int] = 0
    body: ClassVar[bytes] = b""
    drip: ClassVar[float] = 0.0

    def do_GET(self):
        _BigError.hits += 1
        if _BigError.hits > 1:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            return
        self.send_response(503)
        self.send_header("Content-Length", str(len(_BigError.body)))
        self.end_headers()
        try:
            if not _BigError.drip:
                self.wfile.write(_BigError.body)
                return
            for i in range(len(_BigError.body)):
                self.wfile.write(_BigError.body[i : i + 1])
                self.wfile.flush()
                time.sleep(_BigError.drip)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(("size", "drip"), [(30 << 20, 0.0), (40, 0.3)], ids=["big", "drip"])
def test_the_body_of_a_retried_answer_is_not_read(size, drip):
    import tracemalloc

    _BigError.hits, _BigError.body, _BigError.drip = 0, b"x" * size, drip
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BigError)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        client, sleeps = _client(max_response_bytes=1 << 20, deadline_seconds=3, max_retries=1)
        tracemalloc.start()
        started = time.monotonic()
        try:
            assert client.get(f"http://127.0.0.1:{httpd.server_address[1]}/x").content == b"ok"
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert time.monotonic() - started < 2 and sleeps == [2.0] and _BigError.hits == 2
        assert peak < 8 << 20  # the 30 MB error body was never held
    finally:
        httpd.shutdown()
        httpd.server_close()
