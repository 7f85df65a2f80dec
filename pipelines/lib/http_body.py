"""Bounded decompression for the HTTP client and the parsers of gzip payloads.

A compressed body is inflated with its decompressed size capped (``max_response_bytes``,
64 MiB by default) and memory bounded by the cap, not by what the data claims: a 1.5 MB
gzip that inflates to 1.5 GiB is a ``DecompressionLimitError``, not 3 GB of memory.
``pipelines.lib.http`` uses it for ``Content-Encoding: gzip``/``deflate`` bodies; parsers use
``bounded_gunzip`` for payloads that are themselves gzip files instead of ``gzip.decompress``.
Pure module: no I/O.
"""

from __future__ import annotations

import gzip
import zlib

DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024


class DecompressionLimitError(ValueError):
    """A compressed body that inflates beyond the size limit (a decompression bomb)."""


def inflate(data: bytes, wbits: int, limit: int, produced: int = 0) -> tuple[bytes, bytes]:
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
        out, rest = inflate(rest, 16 + zlib.MAX_WBITS, limit, produced)
        parts.append(out)
        produced += len(out)
        rest = rest.lstrip(b"\x00")  # trailing zero padding, which gzip.decompress allows too
        if rest and rest[:2] != b"\x1f\x8b":
            raise gzip.BadGzipFile("garbage after the last gzip member")
    return b"".join(parts)


def inflate_deflate(data: bytes, limit: int) -> bytes:
    """A ``Content-Encoding: deflate`` body: a zlib stream, or (as some servers send) a raw
    deflate stream, inflated to at most ``limit`` bytes."""
    try:
        return inflate(data, zlib.MAX_WBITS, limit)[0]
    except gzip.BadGzipFile:
        return inflate(data, -zlib.MAX_WBITS, limit)[0]
