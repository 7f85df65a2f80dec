"""The raw archive: every fetched payload, byte for byte, before anything parses it.

Layout (contract): ``<archive>/<source>/<YYYY-MM-DD>/<name>`` with an optional
``<name>.meta.json`` beside it (url, status, fetched_at, sha256, bytes, content_type).
Replay works on a directory without meta files.

Secrets never reach the archive: a payload that echoes a credential the tracker sent (an
API key in a GraphQL error, see ``pipelines.lib.redact``) is stored -- and parsed -- with the
secret replaced by ``<redacted>``, and its meta file says ``"secrets_redacted": true``; URLs
lose their query string and credentials.

Writes are atomic (temp file + rename). A payload is never destroyed: when a date is
fetched again and the bytes differ, the earlier file moves to ``.superseded/`` in the same
date folder before the new one takes its name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pipelines.lib.redact import redact_bytes

META_SUFFIX = ".meta.json"


@dataclass(frozen=True)
class ArchivedPayload:
    """A payload read back from the archive."""

    source: str
    day: dt.date
    name: str
    path: Path
    content: bytes
    meta: dict

    @property
    def fetched_at(self) -> dt.datetime | None:
        value = self.meta.get("fetched_at")
        return dt.datetime.fromisoformat(value) if value else None


class ArchiveError(FileNotFoundError):
    """Replay asked for a payload the archive does not have."""


def _redact_url(url: str) -> str:
    """Drop query strings and credentials from a URL before it is written to disk: an API
    key passed as a query parameter must not end up in the archive."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def date_dir(archive_dir: Path, source: str, day: dt.date) -> Path:
    return Path(archive_dir) / source / day.isoformat()


def write_payload(
    archive_dir: Path,
    source: str,
    day: dt.date,
    name: str,
    content: bytes,
    *,
    url: str | None = None,
    status: int | None = None,
    fetched_at: dt.datetime | None = None,
    content_type: str | None = None,
    redacted: bool = False,
) -> Path:
    """Store one payload (and its meta file); return its path. Secrets in ``content`` are
    replaced (``redacted``: the caller already did so)."""
    scrubbed = redact_bytes(content)
    redacted = redacted or scrubbed is not content
    content = scrubbed
    if "/" in name or name.startswith(".") or name.endswith(META_SUFFIX):
        raise ValueError(f"bad payload name {name!r}")
    folder = date_dir(archive_dir, source, day)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    sha = hashlib.sha256(content).hexdigest()
    if path.exists():
        old = path.read_bytes()
        if hashlib.sha256(old).hexdigest() != sha:
            keep = folder / ".superseded"
            keep.mkdir(exist_ok=True)
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
            shutil.move(str(path), keep / f"{name}.{stamp}")
            meta_old = folder / (name + META_SUFFIX)
            if meta_old.exists():
                shutil.move(str(meta_old), keep / f"{name}.{stamp}{META_SUFFIX}")
    tmp = folder / f".{name}.tmp-{os.getpid()}"
    tmp.write_bytes(content)
    os.replace(tmp, path)
    meta = {
        "source": source,
        "date": day.isoformat(),
        "name": name,
        "url": _redact_url(url) if url else None,
        "status": status,
        "fetched_at": (fetched_at or dt.datetime.now(dt.UTC)).isoformat(),
        "sha256": sha,
        "bytes": len(content),
        "content_type": content_type,
    }
    if redacted:
        meta["secrets_redacted"] = True
    tmp_meta = folder / f".{name}.meta.tmp-{os.getpid()}"
    tmp_meta.write_text(json.dumps(meta, indent=2, sort_keys=True))
    os.replace(tmp_meta, folder / (name + META_SUFFIX))
    return path


def list_payload_names(archive_dir: Path, source: str, day: dt.date) -> list[str]:
    """Payload names stored for source and date (meta files and hidden entries excluded)."""
    folder = date_dir(archive_dir, source, day)
    if not folder.is_dir():
        return []
    return sorted(
        p.name for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith(META_SUFFIX)
    )


def read_payloads(archive_dir: Path, source: str, day: dt.date) -> list[ArchivedPayload]:
    """All payloads for source and date; ArchiveError if there are none."""
    names = list_payload_names(archive_dir, source, day)
    if not names:
        raise ArchiveError(
            f"{source} {day}: no payloads in {date_dir(archive_dir, source, day)}"
        )
    out = []
    for name in names:
        path = date_dir(archive_dir, source, day) / name
        meta_path = path.with_name(name + META_SUFFIX)
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        out.append(ArchivedPayload(source, day, name, path, path.read_bytes(), meta))
    return out


def archived_dates(archive_dir: Path, source: str) -> list[dt.date]:
    """Dates with a folder for this source."""
    folder = Path(archive_dir) / source
    if not folder.is_dir():
        return []
    out = []
    for p in folder.iterdir():
        try:
            out.append(dt.date.fromisoformat(p.name))
        except ValueError:
            continue
    return sorted(out)
