"""The one polite HTTP client every live source uses.

* identifying User-Agent (config ``[http] user_agent``);
* a timeout on every request;
* retries with exponential backoff on connection errors, 429 and 5xx, honouring
  ``Retry-After`` (seconds or HTTP date), capped at ``max_backoff_seconds``;
* a per-host minimum interval between requests (rate limit);
* a response size limit: a body larger than ``max_response_bytes`` is an error, not a
  memory blow-up;
* optional fallback URL used when the primary answers 429 (SkyPilot's S3 mirror);
* a host that cannot be reached at all -- its name does not resolve, the connection is
  refused, the network is unreachable -- fails at once (``FetchError.kind``): retrying with
  backoff cannot fix it, and an offline machine must not wait minutes per source;
* a total wall-clock deadline per request (``deadline_seconds``, retries and waits
  included): ``timeout_seconds`` bounds each socket read only, so a server dripping one
  byte every few seconds would otherwise hold a fetch forever;
* ``Content-Encoding: gzip``/``deflate`` bodies are read raw and inflated here, with the
  decompressed size capped by the same ``max_response_bytes`` (a 1.5 MB gzip that inflates
  to 1.5 GiB is an error, not 3 GB of memory); ``bounded_gunzip`` applies the same cap to
  payloads that are themselves gzip files (parsers use it instead of ``gzip.decompress``).

Errors raise ``FetchError`` naming the URL and what happened. Secrets (auth headers) are
passed per request and never logged.
"""

from __future__ import annotations

import email.utils
import errno
import gzip
import http.client
import logging
import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
DEFAULT_DEADLINE_SECONDS = 120.0
_READ_CHUNK = 64 * 1024

# FetchError.kind for a host that cannot be reached: retrying cannot help
UNRESOLVABLE, REFUSED, UNREACHABLE = "unresolvable", "refused", "unreachable"
UNREACHABLE_KINDS = frozenset({UNRESOLVABLE, REFUSED, UNREACHABLE})
DEADLINE = "deadline"
_UNREACHABLE_ERRNOS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN})


class FetchError(RuntimeError):
    """A fetch that failed after retries (or was refused outright). ``kind`` names failures
    the caller may act on: ``unresolvable`` / ``refused`` / ``unreachable`` (the host cannot
    be reached; not retried) and ``deadline`` (the total deadline passed)."""

    def __init__(self, url: str, message: str, status: int | None = None, kind: str | None = None):
        super().__init__(f"{url}: {message}")
        self.url, self.status, self.kind = url, status, kind


class DecompressionLimitError(ValueError):
    """A compressed body that inflates beyond the size limit (a decompression bomb)."""


def _inflate(data: bytes, wbits: int, limit: int, produced: int = 0) -> tuple[bytes, bytes]:
    """One zlib stream of ``data`` inflated to at most ``limit - produced`` bytes; returns
    (output, the input after the stream). Raises ``DecompressionLimitError`` past the limit,
    ``gzip.BadGzipFile`` on corrupt data and ``EOFError`` on a stream cut short."""
    d = zlib.decompressobj(wbits)
    out = bytearray()
    buf = data
    try:
        while not d.eof:
            # ask for one byte more than allowed: getting it proves the limit is exceeded
            piece = d.decompress(buf, limit - produced - len(out) + 1)
            out += piece
            if produced + len(out) > limit:
                raise DecompressionLimitError(
                    f"compressed body of {len(data)} bytes inflates beyond the {limit}-byte limit"
                )
            buf = d.unconsumed_tail
            if not piece and not buf:
                break
    except zlib.error as exc:
        raise gzip.BadGzipFile(f"corrupt compressed data ({exc})") from None
    if not d.eof:
        raise EOFError("compressed data ended before the end-of-stream marker was reached")
    return bytes(out), d.unused_data


def bounded_gunzip(data: bytes, limit: int = DEFAULT_MAX_RESPONSE_BYTES) -> bytes:
    """``gzip.decompress`` with the decompressed size capped at ``limit`` bytes, memory
    bounded by the limit (not by what the data claims). Multi-member files are joined, as
    ``gzip.decompress`` does. Raises ``DecompressionLimitError`` beyond the limit, and like
    ``gzip.decompress`` an ``OSError`` (``gzip.BadGzipFile``) or ``EOFError`` on bad data."""
    if data[:2] != b"\x1f\x8b":
        raise gzip.BadGzipFile("not a gzip file (no 1f 8b magic)")
    parts: list[bytes] = []
    produced = 0
    rest = data
    while rest:
        out, rest = _inflate(rest, 16 + zlib.MAX_WBITS, limit, produced)
        parts.append(out)
        produced += len(out)
        rest = rest.lstrip(b"\x00")  # trailing zero padding, which gzip.decompress allows too
        if rest and rest[:2] != b"\x1f\x8b":
            raise gzip.BadGzipFile("garbage after the last gzip member")
    return b"".join(parts)


def _unreachable_kind(exc: BaseException) -> str | None:
    """``unresolvable`` / ``refused`` / ``unreachable`` if the connection error says the host
    cannot be reached at all (walking the wrapped causes requests and urllib3 add)."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, (socket.gaierror, urllib3.exceptions.NameResolutionError)):
            return UNRESOLVABLE
        if isinstance(e, ConnectionRefusedError):
            return REFUSED
        if isinstance(e, OSError) and e.errno in _UNREACHABLE_ERRNOS:
            return UNREACHABLE
        stack.extend([e.__cause__, e.__context__, getattr(e, "reason", None)])
        stack.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
    return None


@dataclass
class FetchedPayload:
    """A response body with the metadata the raw archive keeps beside it."""

    url: str
    status: int
    content: bytes
    content_type: str
    fetched_at: float  # unix seconds
    headers: dict[str, str] = field(default_factory=dict)  # response headers (Link paging ...)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class PoliteClient:
    """requests.Session wrapper with timeouts, retries, rate limit and size limit."""

    def __init__(
        self,
        *,
        user_agent: str,
        timeout_seconds: float = 30,
        max_retries: int = 4,
        backoff_seconds: float = 2.0,
        max_backoff_seconds: float = 60.0,
        min_interval_seconds: float = 1.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = user_agent
        # only encodings this client inflates under the size cap (not br/zstd)
        self.session.headers["Accept-Encoding"] = "gzip, deflate"
        self.deadline = deadline_seconds
        self.timeout = timeout_seconds
        self.max_retries = max_retries
        self.backoff = backoff_seconds
        self.max_backoff = max_backoff_seconds
        self.min_interval = min_interval_seconds
        self.max_bytes = max_response_bytes
        self._sleep = sleep
        self._last_request: dict[str, float] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, http_cfg: dict[str, Any], **kwargs: Any) -> PoliteClient:
        keys = (
            "user_agent",
            "timeout_seconds",
            "max_retries",
            "backoff_seconds",
            "max_backoff_seconds",
            "min_interval_seconds",
            "max_response_bytes",
            "deadline_seconds",
        )
        return cls(**{k: http_cfg[k] for k in keys if k in http_cfg}, **kwargs)

    def _wait_for_host(self, url: str) -> None:
        host = urlsplit(url).netloc
        with self._lock:
            last = self._last_request.get(host)
            now = time.monotonic()
            if last is not None and now - last < self.min_interval:
                self._sleep(self.min_interval - (now - last))
            self._last_request[host] = time.monotonic()

    def _read_limited(self, resp: requests.Response, url: str, deadline: float) -> bytes:
        """The body, read raw in chunks: at most ``max_bytes`` transferred and (for gzip /
        deflate) decompressed, and finished before ``deadline`` (monotonic seconds)."""
        declared = resp.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            resp.close()
            raise FetchError(url, f"response of {declared} bytes exceeds limit {self.max_bytes}")
        encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
            resp.close()
            raise FetchError(url, f"unsupported Content-Encoding {encoding!r}")
        chunks, total = [], 0
        try:
            while True:
                if time.monotonic() > deadline:
                    raise FetchError(
                        url,
                        f"deadline of {self.deadline:g}s passed while reading the body "
                        f"({total} bytes received)",
                        kind=DEADLINE,
                    )
                # read1: whatever one socket read gives, so a dripping server cannot hold one
                # call past the deadline (read(n) would wait for n bytes)
                chunk = resp.raw.read1(_READ_CHUNK, decode_content=False)
                if not chunk:
                    break
                total += len(chunk)
                if total > self.max_bytes:
                    raise FetchError(url, f"response exceeds limit of {self.max_bytes} bytes")
                chunks.append(chunk)
        except (
            urllib3.exceptions.HTTPError,
            http.client.HTTPException,
            OSError,
            requests.RequestException,
        ) as exc:
            raise FetchError(
                url, f"body cut off after {total} bytes: {type(exc).__name__}"
            ) from None
        finally:
            resp.close()
        # a body shorter than its declared length is a truncated transfer, never data
        if declared and declared.isdigit() and total < int(declared):
            raise FetchError(url, f"truncated body: {total} of {declared} bytes")
        body = b"".join(chunks)
        if encoding in ("", "identity"):
            return body
        try:
            if encoding in ("gzip", "x-gzip"):
                return bounded_gunzip(body, self.max_bytes)
            try:
                return _inflate(body, zlib.MAX_WBITS, self.max_bytes)[0]  # deflate = zlib stream
            except gzip.BadGzipFile:
                return _inflate(body, -zlib.MAX_WBITS, self.max_bytes)[0]  # some send raw deflate
        except DecompressionLimitError as exc:
            raise FetchError(url, f"Content-Encoding {encoding}: {exc}") from None
        except (OSError, EOFError) as exc:
            raise FetchError(
                url, f"Content-Encoding {encoding}: body does not decode ({exc})"
            ) from None

    def request(
        self,
        method: str,
        url: str,
        *,
        fallback_url: str | None = None,
        **kwargs: Any,
    ) -> FetchedPayload:
        """Send a request with retries; on HTTP 429 switch to ``fallback_url`` if given.
        Everything (attempts, waits, body) ends within ``deadline_seconds``."""
        deadline = time.monotonic() + self.deadline
        per_read = kwargs.pop("timeout", self.timeout)
        current = url
        last_error = "no attempt made"
        status: int | None = None
        for attempt in range(self.max_retries + 1):
            self._wait_for_host(current)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError(
                    current,
                    f"deadline of {self.deadline:g}s passed after {attempt} "
                    f"attempt(s); last: {last_error}",
                    status,
                    kind=DEADLINE,
                )
            delay = min(self.max_backoff, self.backoff * (2**attempt))
            try:
                resp = self.session.request(
                    method, current, stream=True, timeout=min(per_read, remaining), **kwargs
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                kind = _unreachable_kind(exc)
                if kind is not None:
                    # no host to talk to: backoff cannot fix that, say so at once
                    raise FetchError(
                        current, f"host {kind} ({type(exc).__name__}); not retried", kind=kind
                    ) from None
                last_error = f"{type(exc).__name__}: {exc}"
                status = None
            else:
                status = resp.status_code
                if status < 400:
                    content = self._read_limited(resp, current, deadline)
                    return FetchedPayload(
                        url=current,
                        status=status,
                        content=content,
                        content_type=resp.headers.get("Content-Type", ""),
                        fetched_at=time.time(),
                        headers=dict(resp.headers),
                    )
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                resp.close()
                last_error = f"HTTP {status}"
                if status not in RETRY_STATUSES:
                    raise FetchError(current, last_error, status)
                if status == 429 and fallback_url and current != fallback_url:
                    log.warning("%s answered 429; switching to fallback %s", current, fallback_url)
                    current = fallback_url
                    continue
                if retry_after is not None:
                    delay = min(self.max_backoff, retry_after)
            if attempt < self.max_retries:
                if time.monotonic() + delay > deadline:
                    raise FetchError(
                        current,
                        f"{last_error}; the next attempt (in {delay:.1f}s) would "
                        f"pass the {self.deadline:g}s deadline",
                        status,
                        kind=DEADLINE,
                    )
                log.warning(
                    "%s: %s (attempt %d/%d); retrying in %.1fs",
                    current,
                    last_error,
                    attempt + 1,
                    self.max_retries + 1,
                    delay,
                )
                self._sleep(delay)
        raise FetchError(current, f"{last_error} after {self.max_retries + 1} attempts", status)

    def get(self, url: str, **kwargs: Any) -> FetchedPayload:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> FetchedPayload:
        return self.request("POST", url, **kwargs)
