"""Keep the secrets taken from the environment out of everything the tracker writes.

Secrets are API keys (``RUNPOD_API_KEY``, ``VAST_API_KEY``, ``OPENROUTER_API_KEY``,
``HF_TOKEN``), the SEC contact User-Agent (``SEC_EDGAR_USER_AGENT``), the alert webhook URL
(``GPU_TRACKER_WEBHOOK_URL``: its path and query are the token) and the SMTP password
(``GPU_TRACKER_SMTP_PASSWORD``), plus any other name read through ``config.secret``. They are
sent to the service they are for and nowhere else. Two ways they could come back:

* **in a response body** -- a service that echoes the credentials it received (a GraphQL
  ``errors`` answer with HTTP 200: "invalid key 'Bearer ...'"). ``redact_bytes`` scrubs every
  payload before it is archived and parsed, so neither the archive nor a parse error quoting
  the payload (load_log, quarantine, Dagster check metadata, logs) can carry the secret;
* **in a log line written by a library** -- urllib3 logs the request line (the webhook's
  token path) at DEBUG. ``install_log_redaction`` wraps the logging record factory so every
  record of every logger (Dagster's included) is scrubbed before any handler sees it. The CLI
  and the Dagster code location install it.

Values shorter than ``MIN_LENGTH`` characters are not treated as secrets (replacing "1"
everywhere would corrupt data, and such a value protects nothing anyway).
"""

from __future__ import annotations

import base64
import logging
import os
from urllib.parse import urlsplit

# The tracker's own secrets; each source's (API keys, SEC's user agent) are declared in its
# SPEC and added by _declared_by_sources().
SECRET_ENV_VARS: tuple[str, ...] = (
    "GPU_TRACKER_WEBHOOK_URL",
    "GPU_TRACKER_SMTP_PASSWORD",
)
MIN_LENGTH = 8
MASK = "<redacted>"

_registered: set[str] = set()  # further names read through config.secret
_logins: set[tuple[str, str]] = set()  # (user name, env var of its password): SMTP logins


def register(name: str) -> None:
    """Treat the environment variable ``name`` as a secret from now on."""
    _registered.add(name)


def register_login(username: str, password_env: str) -> None:
    """Hide the base64 forms an SMTP login sends -- ``\\0user\\0password`` (AUTH PLAIN) and the
    user name alone (AUTH LOGIN; the password alone is covered as a secret) -- since a server
    that echoes the AUTH line in its error puts them into exceptions, stderr and last_error."""
    _registered.add(password_env)
    _logins.add((username, password_env))


def _base64_forms(value: str) -> set[str]:
    """``value`` base64-encoded, with and without its ``=`` padding (echoes drop it)."""
    encoded = base64.b64encode(value.encode()).decode()
    return {form for form in (encoded, encoded.rstrip("=")) if len(form) >= MIN_LENGTH}


def _declared_by_sources() -> tuple[str, ...]:
    """The secrets every source declares in its SPEC (``pipelines.lib.registry``): a new
    source's key is hidden without editing this module. Imported late: the registry imports
    the source modules, which import this one."""
    try:
        from pipelines.lib import registry
    except ImportError:  # pragma: no cover - partially initialised interpreter at shutdown
        return ()
    return registry.secret_env_vars()


def secret_strings() -> list[str]:
    """The strings to hide, longest first: each secret's value and, for a URL, its path and
    query (where webhook tokens live, and what HTTP client errors quote)."""
    out: set[str] = set()
    for name in (*SECRET_ENV_VARS, *_declared_by_sources(), *sorted(_registered)):
        value = (os.environ.get(name) or "").strip()
        if len(value) < MIN_LENGTH:
            continue
        out.add(value)
        split = urlsplit(value)
        if split.scheme and split.netloc:
            out.update(p for p in (split.path, split.query) if len(p) >= MIN_LENGTH)
    for value in list(out):  # a secret may come back base64-encoded (SMTP AUTH, Basic auth)
        out.update(_base64_forms(value))
    for username, password_env in sorted(_logins):
        password = os.environ.get(password_env) or ""  # as sent: not stripped
        if len(password.strip()) < MIN_LENGTH:
            continue
        out.update(_base64_forms(f"\0{username}\0{password}"))
        if len(username) >= MIN_LENGTH:
            out.update(_base64_forms(username))
    return sorted(out, key=len, reverse=True)


def redact(text: str) -> str:
    """``text`` with every secret replaced by ``<redacted>``."""
    for value in secret_strings():
        if value in text:
            text = text.replace(value, MASK)
    return text


def redact_bytes(content: bytes) -> bytes:
    """``content`` with every secret (UTF-8) replaced by ``<redacted>``; the same object when
    it holds none."""
    for value in secret_strings():
        raw = value.encode()
        if raw in content:
            content = content.replace(raw, MASK.encode())
    return content


_FACTORY_FLAG = "_gpu_tracker_redacting"


def install_log_redaction() -> None:
    """Scrub secrets from every log record (message, arguments, traceback) as it is created.
    Idempotent."""
    base = logging.getLogRecordFactory()
    if getattr(base, _FACTORY_FLAG, False):
        return

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = base(*args, **kwargs)
        secrets = secret_strings()
        if not secrets:
            return record
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):  # a malformed format: the handler reports it
            return record
        if any(s in message for s in secrets):
            record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            if any(s in text for s in secrets):
                record.exc_text = redact(text)
        return record

    setattr(factory, _FACTORY_FLAG, True)
    logging.setLogRecordFactory(factory)
