"""Preflight for a live run: can this machine reach the hosts the enabled sources fetch from?

``gpu-tracker run`` / ``backfill`` (live mode) call ``preflight`` before launching Dagster.
Every host named by a URL in an enabled source's config section (``base_url``,
``fallback_url`` ...) is resolved and TCP-connected, all at once, within one short total
deadline. When *no* host answers the run stops at once with one line ending in the replay
advice, instead of every source retrying its way through minutes of backoff; when some
answer (a partial outage) the run goes on and the sources on the failing hosts fail fast in
the HTTP client (``pipelines.lib.http``: unresolvable / refused hosts are not retried).

When the environment names a proxy for a URL (``HTTPS_PROXY`` ...), the proxy is the host
that has to answer, so the proxy is checked instead.

No HTTP here, nothing sent but TCP handshakes; each check runs in a daemon thread so a
resolver that hangs cannot hold the command past the deadline.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

DEFAULT_DEADLINE_SECONDS = 10.0
REPLAY_ADVICE = "replay with --from-archive DIR"


class NetworkUnreachable(RuntimeError):
    """No host of any enabled source could be reached: the message is the one line to print."""


@dataclass(frozen=True)
class HostCheck:
    """One host:port and what happened when it was tried (``error`` None: it answered)."""

    host: str
    port: int
    sources: tuple[str, ...]
    error: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.error is None


def _endpoint(url: str) -> tuple[str, int] | None:
    """host and port a request to ``url`` connects to (the proxy's, if one is configured)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    proxies = urllib.request.getproxies()
    if proxies and not urllib.request.proxy_bypass(parts.hostname):
        proxy = proxies.get(parts.scheme) or proxies.get("all")
        if proxy:
            p = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            if p.hostname:
                return p.hostname, p.port or (443 if p.scheme == "https" else 80)
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def source_endpoints(
    sections: Mapping[str, Mapping[str, Any]], sources: Iterable[str]
) -> dict[tuple[str, int], list[str]]:
    """(host, port) -> the sources that fetch from it, from every URL-valued key of each
    source's config section (``base_url``, ``fallback_url``, ...)."""
    out: dict[tuple[str, int], list[str]] = {}
    for source in sources:
        for key, value in (sections.get(source) or {}).items():
            if not (isinstance(value, str) and key.endswith("url") and value):
                continue
            endpoint = _endpoint(value)
            if endpoint is not None and source not in out.setdefault(endpoint, []):
                out[endpoint].append(source)
    return out


def _describe(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror):
        return "name does not resolve"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "no answer (connect timed out)"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return f"{type(exc).__name__}: {exc}"


def _try(host: str, port: int, deadline: float) -> str | None:
    """None if a TCP connection to host:port opens before ``deadline``, else why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except Exception as exc:  # noqa: BLE001 -- any failure is this host's answer
        return _describe(exc)
    last = "no address"
    for family, kind, proto, _name, address in infos:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return last if last != "no address" else "no answer within the deadline"
        sock = socket.socket(family, kind, proto)
        sock.settimeout(remaining)
        try:
            sock.connect(address)
            return None
        except Exception as exc:  # noqa: BLE001
            last = _describe(exc)
        finally:
            sock.close()
    return last


def check_endpoints(
    endpoints: Mapping[tuple[str, int], list[str]],
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
) -> list[HostCheck]:
    """Try every endpoint concurrently; all results within ``deadline_seconds`` (an endpoint
    still resolving or connecting at the deadline is reported as not answering)."""
    started = time.monotonic()
    deadline = started + deadline_seconds
    results: dict[tuple[str, int], tuple[str | None, float]] = {}
    lock = threading.Lock()

    def run(endpoint: tuple[str, int]) -> None:
        error = _try(endpoint[0], endpoint[1], deadline)
        with lock:
            results[endpoint] = (error, time.monotonic() - started)

    threads = [
        threading.Thread(target=run, args=(e,), daemon=True, name=f"netcheck {e[0]}")
        for e in endpoints
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    with lock:
        done = dict(results)
    return [
        HostCheck(
            host,
            port,
            tuple(sources),
            *done.get((host, port), (f"no answer within {deadline_seconds:g}s", deadline_seconds)),
        )
        for (host, port), sources in endpoints.items()
    ]


def preflight(
    sections: Mapping[str, Mapping[str, Any]],
    sources: Iterable[str],
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
) -> list[HostCheck]:
    """Check the hosts of ``sources``; raise ``NetworkUnreachable`` (one line, with the replay
    advice) when none answers. Returns the checks (some may have failed: a partial outage)."""
    endpoints = source_endpoints(sections, sources)
    if not endpoints:
        return []
    checks = check_endpoints(endpoints, deadline_seconds)
    if any(c.ok for c in checks):
        return checks
    shown = "; ".join(f"{c.host}: {c.error}" for c in checks[:3])
    more = f"; and {len(checks) - 3} more" if len(checks) > 3 else ""
    raise NetworkUnreachable(
        f"network unreachable: none of the {len(checks)} source host(s) answered within "
        f"{deadline_seconds:g}s ({shown}{more}); {REPLAY_ADVICE}"
    )
