"""The HTTP client's failure modes against local servers (127.0.0.1) and a name under
``.invalid`` (RFC 6761: never resolves): unreachable hosts fail at once instead of retrying,
a dripping server hits the total deadline, a gzip bomb hits the size cap; and the preflight
that stops an offline ``gpu-tracker run`` within seconds. Every test is time-bounded."""

from __future__ import annotations

import gzip
import http.server
import socket
import threading
import time
import tracemalloc
import zlib
from typing import ClassVar

import pytest
import requests

from pipelines.cli import main as cli
from pipelines.lib import netcheck
from pipelines.lib.http import (
    DEADLINE,
    REFUSED,
    UNRESOLVABLE,
    DecompressionLimitError,
    FetchError,
    PoliteClient,
    bounded_gunzip,
)
from pipelines.lib.sources import skypilot_catalog

UNRESOLVABLE_HOST = "gpu-tracker-test.invalid"


def _refused_port() -> int:
    """A loopback port nothing listens on (bound, then closed: connecting is refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class _Handler(http.server.BaseHTTPRequestHandler):
    # path -> (headers, body, seconds between body bytes or 0)
    routes: ClassVar[dict[str, tuple[dict, bytes, float]]] = {}
    hits: ClassVar[int] = 0

    def do_GET(self):
        _Handler.hits += 1
        headers, body, drip = _Handler.routes[self.path]
        self.send_response(200)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if not drip:
                self.wfile.write(body)
                return
            for i in range(len(body)):
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                time.sleep(drip)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Handler.routes, _Handler.hits = {}, 0
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _client(**kw) -> tuple[PoliteClient, list[float]]:
    sleeps: list[float] = []
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment for 127.0.0.1
    kw.setdefault("max_retries", 4)
    kw.setdefault("backoff_seconds", 30.0)  # a retry would show as a 30 s sleep
    return PoliteClient(
        user_agent="tracker-test/1",
        min_interval_seconds=0,
        session=session,
        sleep=sleeps.append,
        **kw,
    ), sleeps


# ---------------------------------------------------------------- unreachable hosts (#13.5)


def test_refused_connection_fails_at_once_without_retries():
    client, sleeps = _client()
    started = time.monotonic()
    with pytest.raises(FetchError, match="host refused") as err:
        client.get(f"http://127.0.0.1:{_refused_port()}/v8/lambda/vms.csv")
    assert err.value.kind == REFUSED and sleeps == []
    assert time.monotonic() - started < 2


def test_unresolvable_name_fails_at_once_without_retries():
    client, sleeps = _client()
    started = time.monotonic()
    with pytest.raises(FetchError, match="host unresolvable") as err:
        client.get(f"https://{UNRESOLVABLE_HOST}/catalogs/v8/lambda/vms.csv")
    # the real resolver said so: not the test's network guard (which only sees connects)
    assert err.value.kind == UNRESOLVABLE and sleeps == []
    assert time.monotonic() - started < 10


def test_an_offline_skypilot_fetch_of_every_cloud_ends_in_seconds():
    """The 18-minute case: every cloud of the default list against a refused host."""
    client, sleeps = _client()
    cfg = {
        **skypilot_catalog.SPEC.defaults,
        "base_url": f"http://127.0.0.1:{_refused_port()}/v8",
        "fallback_url": f"https://{UNRESOLVABLE_HOST}/v8",
    }
    started = time.monotonic()
    out = skypilot_catalog.fetch(client, cfg, None)
    assert len(out) == len(skypilot_catalog.V8_CLOUDS) == 20
    assert all("host refused" in f.error for f in out)
    assert sleeps == [] and time.monotonic() - started < 5


# ----------------------------------------------------------------- total deadline (#10.11)


def test_a_dripping_server_hits_the_total_deadline(server):
    # 1 byte every 0.3 s: each read is well inside the 2 s per-read timeout, the whole body
    # (40 bytes, 12 s) is not inside the 1.5 s deadline
    _Handler.routes["/drip"] = ({"Content-Type": "text/csv"}, b"x" * 40, 0.3)
    client, sleeps = _client(timeout_seconds=2, deadline_seconds=1.5)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"deadline of 1.5s passed while reading the body") as err:
        client.get(f"{server}/drip")
    elapsed = time.monotonic() - started
    assert err.value.kind == DEADLINE and sleeps == [] and _Handler.hits == 1  # not retried
    assert 1.5 <= elapsed < 2.5


def test_a_retry_that_would_pass_the_deadline_is_not_waited_for(server):
    class Busy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(503)
            self.send_header("Retry-After", "30")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        client, sleeps = _client(deadline_seconds=5, max_backoff_seconds=60)
        with pytest.raises(FetchError, match="would pass the 5s deadline") as err:
            client.get(f"http://127.0.0.1:{httpd.server_address[1]}/x")
        assert err.value.kind == DEADLINE and err.value.status == 503 and sleeps == []
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_deadline_comes_from_config():
    client = PoliteClient.from_config({"user_agent": "x", "deadline_seconds": 7})
    assert client.deadline == 7
    assert PoliteClient(user_agent="x").deadline == 120


# ------------------------------------------------------------ decompression cap (#10.6)

BOMB_MB = 40


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """40 MB of zeros as a 40 kB gzip (the 1.5 MB -> 1.5 GiB payload of the issue, scaled)."""
    return gzip.compress(b"\0" * (BOMB_MB << 20), compresslevel=9)


def test_a_gzip_bomb_in_transit_is_refused_with_bounded_memory(server, bomb):
    _Handler.routes["/bomb"] = (
        {"Content-Type": "application/json", "Content-Encoding": "gzip"},
        bomb,
        0,
    )
    client, _ = _client(max_response_bytes=1 << 20)
    tracemalloc.start()
    try:
        with pytest.raises(
            FetchError,
            match=r"Content-Encoding gzip: compressed body of \d+ bytes "
            r"inflates beyond the 1048576-byte limit",
        ):
            client.get(f"{server}/bomb")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(bomb) < 100_000 and peak < 8 << 20  # never near the 40 MB it inflates to


def test_gzip_and_deflate_bodies_are_decoded_and_other_encodings_refused(server):
    text = b'{"data": [' + b'{"id": "m"},' * 1000 + b'{"id": "z"}]}'
    deflate = zlib.compressobj(wbits=zlib.MAX_WBITS)
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    _Handler.routes.update(
        {
            "/gz": ({"Content-Encoding": "gzip"}, gzip.compress(text), 0),
            "/deflate": (
                {"Content-Encoding": "deflate"},
                deflate.compress(text) + deflate.flush(),
                0,
            ),
            "/raw-deflate": (
                {"Content-Encoding": "deflate"},
                raw_deflate.compress(text) + raw_deflate.flush(),
                0,
            ),
            "/plain": ({}, text, 0),
            "/br": ({"Content-Encoding": "br"}, b"\x0b\x02\x80", 0),
            "/broken": ({"Content-Encoding": "gzip"}, gzip.compress(text)[:-30], 0),
        }
    )
    client, _ = _client(max_response_bytes=len(text))  # exactly the decoded size: allowed
    for path in ("/gz", "/deflate", "/raw-deflate", "/plain"):
        assert client.get(f"{server}{path}").content == text, path
    with pytest.raises(FetchError, match="unsupported Content-Encoding 'br'"):
        client.get(f"{server}/br")
    with pytest.raises(FetchError, match="body does not decode"):
        client.get(f"{server}/broken")
    small, _ = _client(max_response_bytes=len(text) - 1)
    with pytest.raises(FetchError, match="inflates beyond"):
        small.get(f"{server}/gz")


def test_bounded_gunzip_equals_gzip_on_real_payloads(shared_data):
    paths = sorted((shared_data / "api_prices" / "litellm").glob("*.json.gz"))[:3]
    assert paths
    for path in paths:
        data = path.read_bytes()
        expected = gzip.decompress(data)
        assert bounded_gunzip(data, len(expected)) == expected
        with pytest.raises(DecompressionLimitError):
            bounded_gunzip(data, len(expected) - 1)


def test_bounded_gunzip_edge_cases(bomb):
    two = gzip.compress(b"abc") + gzip.compress(b"def") + b"\0\0"
    assert bounded_gunzip(two) == gzip.decompress(two) == b"abcdef"
    with pytest.raises(DecompressionLimitError):
        bounded_gunzip(two, 5)  # the cap spans members
    with pytest.raises(DecompressionLimitError, match="inflates beyond the 1000-byte limit"):
        bounded_gunzip(bomb, 1000)
    with pytest.raises(EOFError):
        bounded_gunzip(gzip.compress(b"x" * 1000)[:-12])
    with pytest.raises(OSError):
        bounded_gunzip(b"\x1f\x8b" + b"\xff" * 30)
    with pytest.raises(OSError):
        bounded_gunzip(b"plain text")
    with pytest.raises(OSError, match="garbage after"):
        bounded_gunzip(gzip.compress(b"abc") + b"trailing")


# ------------------------------------------------------------------------ preflight (#13.5)


def test_preflight_partial_outage_goes_on_and_names_the_failing_host(server):
    port = int(server.rsplit(":", 1)[1])
    sections = {
        "up": {"base_url": f"{server}/x"},
        "down": {"base_url": f"http://127.0.0.1:{_refused_port()}/y", "enabled": True},
        "gone": {"base_url": f"https://{UNRESOLVABLE_HOST}/z", "fallback_url": f"{server}/mirror"},
    }
    checks = netcheck.preflight(sections, ["up", "down", "gone"], deadline_seconds=5)
    by_host = {(c.host, c.port): c for c in checks}
    assert by_host[("127.0.0.1", port)].ok and by_host[("127.0.0.1", port)].sources == (
        "up",
        "gone",
    )
    assert [c.error for c in checks if c.host == UNRESOLVABLE_HOST] == ["name does not resolve"]
    assert [c.error for c in checks if c.port not in (port, 443)] == ["connection refused"]


def test_preflight_with_no_reachable_host_is_one_line_with_the_advice():
    sections = {
        "a": {"base_url": f"http://127.0.0.1:{_refused_port()}/x"},
        "b": {"base_url": f"https://{UNRESOLVABLE_HOST}/y"},
    }
    started = time.monotonic()
    with pytest.raises(netcheck.NetworkUnreachable) as err:
        netcheck.preflight(sections, ["a", "b"], deadline_seconds=5)
    message = str(err.value)
    assert message.startswith(
        "network unreachable: none of the 2 source host(s) answered within 5s ("
    )
    assert (
        "connection refused" in message and f"{UNRESOLVABLE_HOST}: name does not resolve" in message
    )
    assert message.endswith("; replay with --from-archive DIR") and "\n" not in message
    assert time.monotonic() - started < 5


def test_preflight_deadline_bounds_a_resolver_that_hangs(monkeypatch):
    real = socket.getaddrinfo

    def slow(host, *args, **kwargs):
        if host == "hangs.invalid":
            time.sleep(5)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(netcheck.socket, "getaddrinfo", slow)
    started = time.monotonic()
    with pytest.raises(netcheck.NetworkUnreachable, match=r"hangs.invalid: no answer within 0.5s"):
        netcheck.preflight(
            {"a": {"base_url": "https://hangs.invalid/"}}, ["a"], deadline_seconds=0.5
        )
    assert time.monotonic() - started < 1.5


def test_offline_run_stops_within_seconds_with_one_line(tracker_env, capsys):
    config = tracker_env.parent / "gpu_tracker.toml"
    config.write_text(
        config.read_text()
        + (
            "[sources.skypilot_catalog]\n"
            f'base_url = "http://127.0.0.1:{_refused_port()}/v8"\n'
            f'fallback_url = "https://{UNRESOLVABLE_HOST}/v8"\n'
            "[sources.openrouter]\n"
            f'base_url = "https://{UNRESOLVABLE_HOST}/api/v1/models"\n'
        )
    )
    started = time.monotonic()
    code = cli(["run", "--sources", "skypilot_catalog,openrouter"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and time.monotonic() - started < 15
    assert len(err) == 1 and err[0].startswith(
        "gpu-tracker: network unreachable: none of the 2 source host(s)"
    )
    assert err[0].endswith("replay with --from-archive DIR")


def test_gzip_payload_parsers_refuse_a_bomb_instead_of_inflating_it():
    """openrouter / litellm_prices / sec_edgar accept payloads that are gzip files (the shared
    captures): a gzip that inflates past the 64 MiB transfer cap is a ParseError."""
    from pipelines.lib.http import DEFAULT_MAX_RESPONSE_BYTES
    from pipelines.lib.sources import litellm_prices, openrouter, sec_edgar
    from pipelines.lib.sources.base import ParseError

    big_bomb = gzip.compress(b" " * (DEFAULT_MAX_RESPONSE_BYTES + 1), compresslevel=1)
    assert len(big_bomb) < 1 << 20
    for module in (openrouter, litellm_prices, sec_edgar):
        with pytest.raises(ParseError, match="inflates beyond the 67108864-byte limit"):
            module.parse("payload.json", big_bomb)
