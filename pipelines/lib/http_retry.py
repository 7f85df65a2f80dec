"""How the HTTP client retries: urllib3's ``Retry`` with this project's rules, bounded by a
per-fetch deadline.

``pipelines.lib.http.PoliteClient`` mounts ``PerFetchRetryAdapter`` (a requests
``HTTPAdapter``) on its session and gives every fetch its own ``FetchRetry``: urllib3 makes
the attempts, reads ``Retry-After`` and waits; the rules it would apply differently are
overridden here:

* retried: connection errors, read timeouts and HTTP 429 / 500 / 502 / 503 / 504
  (``RETRY_STATUSES``), for every method (the POSTs the sources send are read-only queries);
* a host that cannot be reached -- the name does not resolve, the connection is refused, the
  network is unreachable (``UNREACHABLE_KINDS``) -- is not retried: backoff cannot fix it
  and an offline machine must not wait minutes per source;
* the n-th retry waits ``backoff_factor * 2**(n-1)`` seconds (urllib3 would not wait before
  the first), or the server's ``Retry-After`` (seconds or HTTP date, read tolerantly by
  ``parse_retry_after``: an unparseable one falls back to the backoff); every wait is capped
  at ``backoff_max`` so an absurd Retry-After cannot park a fetch;
* no wait ends past the fetch's deadline: such a wait raises ``WouldPassDeadline`` instead,
  and ``DeadlineTimeout`` shrinks each attempt's socket timeouts to the time left;
* while a fetch has a fallback URL (SkyPilot's S3 mirror), a 429 is handed back instead of
  retried on the same URL, so the client can switch;
* waits go through the client's ``pause`` (its injectable sleep, then the per-host
  politeness interval), so tests see every wait without sleeping.

No dagster; no I/O besides what urllib3 does for the client.
"""

from __future__ import annotations

import contextlib
import email.utils
import errno
import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import RequestHistory, Retry

log = logging.getLogger("pipelines.lib.http")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

# FetchError.kind for a host that cannot be reached: retrying cannot help
UNRESOLVABLE, REFUSED, UNREACHABLE = "unresolvable", "refused", "unreachable"
UNREACHABLE_KINDS = frozenset({UNRESOLVABLE, REFUSED, UNREACHABLE})
_UNREACHABLE_ERRNOS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN})


def unreachable_kind(exc: BaseException) -> str | None:
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


class WouldPassDeadline(Exception):
    """Raised from ``FetchRetry.sleep`` (inside urllib3) when the next attempt could only
    start after the fetch's deadline; the client turns it into a ``FetchError``. Not an
    OSError or urllib3 error, so neither urllib3 nor requests takes it for a network one."""

    def __init__(self, last_error: str, delay: float, status: int | None):
        super().__init__(last_error)
        self.last_error, self.delay, self.status = last_error, delay, status


def describe(entry: RequestHistory) -> str:
    """One attempt of a Retry's history as the text FetchError messages quote."""
    if entry.status is not None:
        return f"HTTP {entry.status}"
    return f"{type(entry.error).__name__}: {entry.error}"


class FetchRetry(Retry):
    """urllib3's Retry with the rules above, one per fetch and URL. ``url``, the monotonic
    ``deadline``, ``may_fall_back`` and ``pause`` are carried through ``new()``, which
    urllib3 calls on every attempt."""

    def __init__(
        self,
        *args: Any,
        url: str = "",
        deadline: float = math.inf,
        may_fall_back: bool = False,
        pause: Callable[[float], None] | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.url, self.deadline, self.may_fall_back = url, deadline, may_fall_back
        self.pause = pause or time.sleep

    def new(self, **kw: Any) -> FetchRetry:
        retry = super().new(**kw)
        retry.url, retry.deadline, retry.may_fall_back = self.url, self.deadline, self.may_fall_back
        retry.pause = self.pause
        return retry

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code == 429 and self.may_fall_back:
            return False  # handed back: the client switches to the fallback URL
        return self._is_method_retryable(method) and status_code in RETRY_STATUSES

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> FetchRetry:
        if error is not None and unreachable_kind(error) is not None:
            # no host to talk to: give up at once (requests raises it as a ConnectionError)
            raise MaxRetryError(_pool, url or self.url, error)
        if response is not None:
            # The body of an answer that is retried (or handed back as a failure) is never
            # read; urllib3 would drain it next to reuse the connection, reading all of it
            # into memory, past the size cap and the deadline (a 30 MB or a dripping 503).
            # Closed, the connection is dropped instead and the drain reads nothing.
            response.close()
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def get_backoff_time(self) -> float:
        attempts = len(self.history)
        if attempts == 0:
            return 0.0
        return float(min(self.backoff_max, self.backoff_factor * 2 ** (attempts - 1)))

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return None if retry_after is None else min(self.backoff_max, retry_after)

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        retry_after = self.get_retry_after(response) if response is not None else None
        delay = self.get_backoff_time() if retry_after is None else retry_after
        last = self.history[-1]
        if time.monotonic() + delay > self.deadline:
            raise WouldPassDeadline(describe(last), delay, last.status)
        log.warning(
            "%s: %s (attempt %d/%d); retrying in %.1fs",
            self.url,
            describe(last),
            len(self.history),
            len(self.history) + (self.total or 0) + 1,
            delay,
        )
        self.pause(delay)


class DeadlineTimeout(urllib3.Timeout):
    """Socket timeouts of ``min(per_read, seconds left before the deadline)``: urllib3 clones
    the timeout for every attempt it makes, so each attempt gets what is left then."""

    def __init__(self, per_read: float, deadline: float):
        super().__init__(connect=per_read, read=per_read)
        self.per_read, self.deadline = per_read, deadline

    def clone(self) -> urllib3.Timeout:
        seconds = max(0.01, min(self.per_read, self.deadline - time.monotonic()))
        return urllib3.Timeout(connect=seconds, read=seconds)


class PerFetchRetryAdapter(HTTPAdapter):
    """An HTTPAdapter whose ``max_retries`` is the Retry of the fetch running on this
    thread: every fetch has its own deadline and attempt budget, while one session serves
    several threads (``gpu-tracker doctor`` fetches sources concurrently)."""

    def __init__(self) -> None:
        self._local = threading.local()
        super().__init__()

    @property
    def max_retries(self) -> Retry:
        retry = getattr(self._local, "retry", None)
        return self._default_retries if retry is None else retry

    @max_retries.setter
    def max_retries(self, value: Retry) -> None:
        self._default_retries = value  # HTTPAdapter.__init__ sets its default here

    @contextlib.contextmanager
    def retrying(self, retry: Retry) -> Iterator[None]:
        """Requests sent on this thread inside the block use ``retry``."""
        self._local.retry = retry
        try:
            yield
        finally:
            self._local.retry = None
