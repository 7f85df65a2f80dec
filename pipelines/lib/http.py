"""The one polite HTTP client every live source uses.

* identifying User-Agent (config ``[http] user_agent``);
* a timeout on every request;
* retries by urllib3's ``Retry`` (``pipelines.lib.http_retry``) on connection errors, 429
  and 5xx with exponential backoff, honouring ``Retry-After`` (seconds or HTTP date),
  every wait capped at ``max_backoff_seconds``;
* a per-host minimum interval between requests (rate limit), retries included;
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
  decompressed size capped by the same ``max_response_bytes`` (``pipelines.lib.http_body``;
  ``bounded_gunzip`` applies the same cap to payloads that are themselves gzip files).

Errors raise ``FetchError`` naming the URL and what happened. Secrets (auth headers) are
passed per request and never logged.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from urllib3.util.retry import RequestHistory

from pipelines.lib.http_body import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DecompressionLimitError,
    bounded_gunzip,
    inflate_deflate,
)
from pipelines.lib.http_retry import (
    REFUSED,
    RETRY_STATUSES,
    UNREACHABLE,
    UNREACHABLE_KINDS,
    UNRESOLVABLE,
    DeadlineTimeout,
    FetchRetry,
    PerFetchRetryAdapter,
    WouldPassDeadline,
    describe,
    parse_retry_after,
    unreachable_kind,
)

__all__ = [
    "DEADLINE",
    "DEFAULT_DEADLINE_SECONDS",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "REFUSED",
    "RETRY_STATUSES",
    "UNREACHABLE",
    "UNREACHABLE_KINDS",
    "UNRESOLVABLE",
    "DecompressionLimitError",
    "FetchError",
    "FetchedPayload",
    "PoliteClient",
    "bounded_gunzip",
    "parse_retry_after",
]

log = logging.getLogger(__name__)

DEFAULT_DEADLINE_SECONDS = 120.0
DEADLINE = "deadline"  # FetchError.kind: the total deadline passed
_READ_CHUNK = 64 * 1024


class FetchError(RuntimeError):
    """A fetch that failed after retries (or was refused outright). ``kind`` names failures
    the caller may act on: ``unresolvable`` / ``refused`` / ``unreachable`` (the host cannot
    be reached; not retried) and ``deadline`` (the total deadline passed)."""

    def __init__(self, url: str, message: str, status: int | None = None, kind: str | None = None):
        super().__init__(f"{url}: {message}")
        self.url, self.status, self.kind = url, status, kind


@dataclass
class FetchedPayload:
    """A response body with the metadata the raw archive keeps beside it."""

    url: str
    status: int
    content: bytes
    content_type: str
    fetched_at: float  # unix seconds
    headers: dict[str, str] = field(default_factory=dict)  # response headers (Link paging ...)


class PoliteClient:
    """requests.Session with timeouts, urllib3 retries, rate limit, deadline and size limit."""

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
        self._adapter = PerFetchRetryAdapter()
        self.session.mount("http://", self._adapter)
        self.session.mount("https://", self._adapter)
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

    def _retry(
        self, url: str, deadline: float, history: tuple[RequestHistory, ...], may_fall_back: bool
    ) -> FetchRetry:
        """The Retry of one URL's attempts: what is left of ``max_retries`` after
        ``history`` (the attempts on the primary URL before a switch to the fallback)."""

        def pause(delay: float) -> None:
            self._sleep(delay)
            self._wait_for_host(url)

        return FetchRetry(
            total=self.max_retries - len(history),
            connect=None,
            read=None,
            redirect=None,
            status=None,
            other=None,
            # every method: the POSTs this client sends are read-only API queries
            allowed_methods=None,
            status_forcelist=RETRY_STATUSES,
            backoff_factor=self.backoff,
            backoff_max=self.max_backoff,
            raise_on_status=False,  # the last answer comes back; FetchError names it
            respect_retry_after_header=True,
            history=history,
            url=url,
            deadline=deadline,
            may_fall_back=may_fall_back,
            pause=pause,
        )

    def _send(
        self,
        method: str,
        url: str,
        retry: FetchRetry,
        per_read: float,
        kwargs: dict[str, Any],
    ) -> requests.Response:
        """One URL's attempts (urllib3 retries them); a failure without any answer is a
        FetchError."""
        try:
            with self._adapter.retrying(retry):
                return self.session.request(
                    method,
                    url,
                    stream=True,
                    timeout=DeadlineTimeout(per_read, retry.deadline),
                    **kwargs,
                )
        except WouldPassDeadline as exc:
            raise FetchError(
                url,
                f"{exc.last_error}; the next attempt (in {exc.delay:.1f}s) would "
                f"pass the {self.deadline:g}s deadline",
                exc.status,
                kind=DEADLINE,
            ) from None
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.RetryError) as exc:
            kind = unreachable_kind(exc)
            if kind is not None:
                raise FetchError(
                    url, f"host {kind} ({type(exc).__name__}); not retried", kind=kind
                ) from None
            raise FetchError(
                url, f"{type(exc).__name__}: {exc} after {self.max_retries + 1} attempts"
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
        history: tuple[RequestHistory, ...] = ()
        while True:
            may_fall_back = bool(fallback_url) and current != fallback_url
            self._wait_for_host(current)
            if time.monotonic() >= deadline:
                last = describe(history[-1]) if history else "no attempt made"
                raise FetchError(
                    current,
                    f"deadline of {self.deadline:g}s passed after {len(history)} "
                    f"attempt(s); last: {last}",
                    history[-1].status if history else None,
                    kind=DEADLINE,
                )
            resp = self._send(
                method,
                current,
                self._retry(current, deadline, history, may_fall_back),
                per_read,
                kwargs,
            )
            status = resp.status_code
            if status < 400:
                return FetchedPayload(
                    url=current,
                    status=status,
                    content=self._read_limited(resp, current, deadline),
                    content_type=resp.headers.get("Content-Type", ""),
                    fetched_at=time.time(),
                    headers=dict(resp.headers),
                )
            answered = getattr(resp.raw, "retries", None)
            history = (answered.history if answered is not None else history) + (
                RequestHistory(method, current, None, status, None),
            )
            resp.close()
            if status not in RETRY_STATUSES:
                raise FetchError(current, f"HTTP {status}", status)
            if status == 429 and may_fall_back:
                log.warning("%s answered 429; switching to fallback %s", current, fallback_url)
                current = fallback_url
                if len(history) <= self.max_retries:
                    continue
            raise FetchError(current, f"HTTP {status} after {len(history)} attempts", status)

    # ---------------------------------------------------------------- reading the body

    def _check_headers(self, resp: requests.Response, url: str) -> tuple[int | None, str]:
        """(declared Content-Length, Content-Encoding) of an answer this client can read:
        a declared length over the limit or an encoding it cannot inflate is a FetchError."""
        declared = resp.headers.get("Content-Length")
        length = int(declared) if declared and declared.isdigit() else None
        if length is not None and length > self.max_bytes:
            resp.close()
            raise FetchError(url, f"response of {declared} bytes exceeds limit {self.max_bytes}")
        encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
            resp.close()
            raise FetchError(url, f"unsupported Content-Encoding {encoding!r}")
        return length, encoding

    def _read_raw(self, resp: requests.Response, url: str, deadline: float) -> bytes:
        """The body as transferred (not decoded): at most ``max_bytes``, before ``deadline``."""
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
        return b"".join(chunks)

    def _decode(self, body: bytes, encoding: str, url: str) -> bytes:
        """A gzip / deflate body inflated under the same ``max_bytes`` cap."""
        if encoding in ("", "identity"):
            return body
        try:
            if encoding in ("gzip", "x-gzip"):
                return bounded_gunzip(body, self.max_bytes)
            return inflate_deflate(body, self.max_bytes)
        except DecompressionLimitError as exc:
            raise FetchError(url, f"Content-Encoding {encoding}: {exc}") from None
        except (OSError, EOFError) as exc:
            raise FetchError(
                url, f"Content-Encoding {encoding}: body does not decode ({exc})"
            ) from None

    def _read_limited(self, resp: requests.Response, url: str, deadline: float) -> bytes:
        """The body, read raw in chunks: at most ``max_bytes`` transferred and (for gzip /
        deflate) decompressed, and finished before ``deadline`` (monotonic seconds)."""
        declared, encoding = self._check_headers(resp, url)
        body = self._read_raw(resp, url, deadline)
        # a body shorter than its declared length is a truncated transfer, never data
        if declared is not None and len(body) < declared:
            raise FetchError(url, f"truncated body: {len(body)} of {declared} bytes")
        return self._decode(body, encoding, url)

    def get(self, url: str, **kwargs: Any) -> FetchedPayload:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> FetchedPayload:
        return self.request("POST", url, **kwargs)
