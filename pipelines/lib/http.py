"""The one polite HTTP client every live source uses.

* identifying User-Agent (config ``[http] user_agent``);
* a timeout on every request;
* retries with exponential backoff on connection errors, 429 and 5xx, honouring
  ``Retry-After`` (seconds or HTTP date), capped at ``max_backoff_seconds``;
* a per-host minimum interval between requests (rate limit);
* a response size limit: a body larger than ``max_response_bytes`` is an error, not a
  memory blow-up;
* optional fallback URL used when the primary answers 429 (SkyPilot's S3 mirror).

Errors raise ``FetchError`` naming the URL and what happened. Secrets (auth headers) are
passed per request and never logged.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class FetchError(RuntimeError):
    """A fetch that failed after retries (or was refused outright)."""

    def __init__(self, url: str, message: str, status: int | None = None):
        super().__init__(f"{url}: {message}")
        self.url, self.status = url, status


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
        max_response_bytes: int = 64 * 1024 * 1024,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = user_agent
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
        keys = ("user_agent", "timeout_seconds", "max_retries", "backoff_seconds",
                "max_backoff_seconds", "min_interval_seconds", "max_response_bytes")
        return cls(**{k: http_cfg[k] for k in keys if k in http_cfg}, **kwargs)

    def _wait_for_host(self, url: str) -> None:
        host = urlsplit(url).netloc
        with self._lock:
            last = self._last_request.get(host)
            now = time.monotonic()
            if last is not None and now - last < self.min_interval:
                self._sleep(self.min_interval - (now - last))
            self._last_request[host] = time.monotonic()

    def _read_limited(self, resp: requests.Response, url: str) -> bytes:
        declared = resp.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            resp.close()
            raise FetchError(url, f"response of {declared} bytes exceeds limit {self.max_bytes}")
        chunks, total = [], 0
        try:
            for chunk in resp.iter_content(64 * 1024):
                total += len(chunk)
                if total > self.max_bytes:
                    resp.close()
                    raise FetchError(url, f"response exceeds limit of {self.max_bytes} bytes")
                chunks.append(chunk)
        except (requests.exceptions.ChunkedEncodingError, requests.ConnectionError) as exc:
            raise FetchError(url, f"body cut off after {total} bytes: {type(exc).__name__}") from None
        # a body shorter than its declared length is a truncated transfer, never data
        encoded = resp.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
        if declared and declared.isdigit() and not encoded and total < int(declared):
            raise FetchError(url, f"truncated body: {total} of {declared} bytes")
        return b"".join(chunks)

    def request(
        self,
        method: str,
        url: str,
        *,
        fallback_url: str | None = None,
        **kwargs: Any,
    ) -> FetchedPayload:
        """Send a request with retries; on HTTP 429 switch to ``fallback_url`` if given."""
        kwargs.setdefault("timeout", self.timeout)
        current = url
        last_error = "no attempt made"
        status: int | None = None
        for attempt in range(self.max_retries + 1):
            self._wait_for_host(current)
            delay = min(self.max_backoff, self.backoff * (2**attempt))
            try:
                resp = self.session.request(method, current, stream=True, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                status = None
            else:
                status = resp.status_code
                if status < 400:
                    content = self._read_limited(resp, current)
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
                log.warning("%s: %s (attempt %d/%d); retrying in %.1fs", current, last_error,
                            attempt + 1, self.max_retries + 1, delay)
                self._sleep(delay)
        raise FetchError(current, f"{last_error} after {self.max_retries + 1} attempts", status)

    def get(self, url: str, **kwargs: Any) -> FetchedPayload:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> FetchedPayload:
        return self.request("POST", url, **kwargs)
