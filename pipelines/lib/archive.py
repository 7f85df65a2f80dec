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
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pipelines.lib.redact import redact_bytes

META_SUFFIX = ".meta.json"


@dataclass(frozen=True)
class ArchivedPayload:
    """A payload read back from the archive. ``refused`` (with empty ``content``) says why an
    entry of the date folder was not read at all (a symlink, a FIFO, a directory ...);
    ``meta_error`` why its meta file was ignored (the payload itself is fine)."""

    source: str
    day: dt.date
    name: str
    path: Path
    content: bytes
    meta: dict
    refused: str | None = None
    meta_error: str | None = None

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


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISLNK, "symlink"),
        (stat.S_ISDIR, "directory"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _folder_refusal(archive_dir: Path, source: str, day: dt.date) -> str | None:
    """Why the source or date folder must not be entered (a symlink or not a directory), or
    None. Only the archive root itself may be a link: it is the path the operator gave."""
    for folder in (Path(archive_dir) / source, date_dir(archive_dir, source, day)):
        try:
            mode = os.lstat(folder).st_mode
        except FileNotFoundError:
            return None
        if not stat.S_ISDIR(mode):
            return f"{folder} is a {_kind(mode)}, not a folder of the archive: not followed"
    return None


def list_payload_names(archive_dir: Path, source: str, day: dt.date) -> list[str]:
    """Payload entries stored for source and date (meta files and hidden entries excluded),
    looked at with lstat -- nothing is followed. Entries that are not regular files (symlinks,
    FIFOs, folders) are listed too, so that ``read_payloads`` refuses them by name instead of
    the date being skipped; a symlinked date or source folder is listed as the one entry
    named after the date folder, for the same reason."""
    folder = date_dir(archive_dir, source, day)
    if _folder_refusal(archive_dir, source, day):
        return [folder.name]
    try:
        with os.scandir(folder) as entries:
            return sorted(
                e.name
                for e in entries
                if not e.name.startswith(".") and not e.name.endswith(META_SUFFIX)
            )
    except (FileNotFoundError, NotADirectoryError):
        return []


def _read_regular(path: Path) -> tuple[bytes | None, str | None]:
    """(content, None) for a regular file, or (None, why not) -- decided on the opened file
    (O_NOFOLLOW: a link swapped in after the listing is not followed; O_NONBLOCK: a FIFO
    cannot block the open), so nothing but a regular file inside the folder is ever read."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None, "vanished while reading the archive"
    if not stat.S_ISREG(mode):
        return None, f"{_kind(mode)}: refused, not read"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        return None, f"cannot be opened safely ({exc.strerror}): refused, not read"
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if not stat.S_ISREG(mode):
            return None, f"{_kind(mode)}: refused, not read"
        return handle.read(), None


def _read_meta(path: Path) -> tuple[dict, str | None]:
    """The meta file beside a payload as a dict, or ({}, why it was ignored). A meta file is
    optional, so a broken one costs the payload its metadata (fetched_at ...), never its data."""
    meta_path = path.with_name(path.name + META_SUFFIX)
    if not os.path.lexists(meta_path):
        return {}, None
    raw, refused = _read_regular(meta_path)
    if refused:
        return {}, f"meta file {meta_path.name}: {refused}"
    why = f"meta file {meta_path.name} unreadable"
    try:
        meta = json.loads(raw.decode("utf-8"))
        if isinstance(meta, dict) and meta.get("fetched_at") is not None:
            dt.datetime.fromisoformat(str(meta["fetched_at"]))
    except (ValueError, RecursionError) as exc:  # JSON, UTF-8 and ISO-date errors are ValueErrors
        return {}, f"{why} ({type(exc).__name__}: {str(exc)[:200]})"
    if not isinstance(meta, dict):
        return {}, f"{why} (a JSON {type(meta).__name__}, not an object)"
    return meta, None


def read_payloads(archive_dir: Path, source: str, day: dt.date) -> list[ArchivedPayload]:
    """All payload entries for source and date; ArchiveError if there are none, or if the
    source or date folder is a symlink (or not a folder). Only regular files inside the date
    folder are read: any other entry comes back with ``refused`` set and no content, so the
    caller records it by name (the replay must not read outside the archive, nor hang on a
    FIFO)."""
    folder = date_dir(archive_dir, source, day)
    refusal = _folder_refusal(archive_dir, source, day)
    if refusal:
        raise ArchiveError(f"{source} {day}: refused: {refusal}")
    names = list_payload_names(archive_dir, source, day)
    if not names:
        raise ArchiveError(f"{source} {day}: no payloads in archive {archive_dir} ({folder})")
    out = []
    for name in names:
        path = folder / name
        content, refused = _read_regular(path)
        if refused:
            out.append(ArchivedPayload(source, day, name, path, b"", {}, refused=refused))
            continue
        meta, meta_error = _read_meta(path)
        out.append(ArchivedPayload(source, day, name, path, content, meta, meta_error=meta_error))
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
