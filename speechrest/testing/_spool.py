"""Spool files and remote reads: request bodies and downloads kept on disk while the emulator
works on them, and the blobs it writes to a caller's container.

Every group that takes audio or data (fast and batch transcription, datasets) spools it
here, in ``state.spool_dir``; the caller deletes a spool file when done with it.

Remote URLs are read as the service reads them: a plain GET (a SAS in the URL is the only
credential), at most ``limit`` bytes (the download stops as soon as it passes the limit), and
redirects followed only on the original host (scheme, host and port), never to another.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from ssl import SSLContext
from typing import BinaryIO

import aiohttp
from yarl import URL

from ._entities import ApiError
from ._state import EmulatorState

__all__ = ["CHUNK", "fetch_bytes", "fetch_to_file", "open_spool", "put_blob"]

CHUNK = 256 * 1024
"""Bytes read at a time from a request or a download."""

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=120)


def open_spool(state: EmulatorState, suffix: str) -> tuple[BinaryIO, Path]:
    """A new spool file, open for writing, and its path."""
    fd, name = tempfile.mkstemp(prefix="speechrest-emu-", suffix=suffix, dir=state.spool_dir)
    return os.fdopen(fd, "wb"), Path(name)


def _size(limit: int) -> str:
    for unit, factor in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if limit >= factor:
            return f"{limit / factor:g} {unit}"
    return f"{limit} bytes"


class _Refused(Exception):
    """A download the service would refuse; its message says why."""


def _url(url: str | URL) -> URL:
    # Sent as given: a SAS signature's percent-escapes must reach the server unchanged.
    return url if isinstance(url, URL) else URL(url, encoded=True)


@contextlib.asynccontextmanager
async def _get(
    url: str | URL, max_redirects: int, ssl: SSLContext | bool
) -> AsyncIterator[aiohttp.ClientResponse]:
    """GET ``url``, following redirects on its own host only; the final response."""
    current = _url(url)
    origin = current.origin()
    connector = aiohttp.TCPConnector(ssl=ssl)
    async with aiohttp.ClientSession(timeout=_TIMEOUT, connector=connector) as session:
        for _ in range(max_redirects + 1):
            resp = await session.get(current, allow_redirects=False)
            if resp.status not in _REDIRECTS:
                try:
                    yield resp
                finally:
                    resp.release()
                return
            location = resp.headers.get("Location", "")
            resp.release()
            target = current.join(URL(location))
            if not location or target.origin() != origin:
                where = target.host or "nowhere" if location else "no Location"
                raise _Refused(f"The URL redirects off its host (to {where}); it is not followed.")
            current = target
    raise _Refused(f"The URL redirects more than {max_redirects} times.")


async def _stream(
    url: str | URL, state: EmulatorState, limit: int, what: str
) -> AsyncIterator[bytes]:
    """The body of ``url`` in chunks; raises _Refused past ``limit`` bytes or on an error
    status."""
    async with _get(url, state.download_limits.max_redirects, state.outbound_ssl) as resp:
        if resp.status != 200:
            raise _Refused(f"The {what} URL answered HTTP {resp.status}.")
        if (resp.content_length or 0) > limit:
            raise _Refused(f"The {what} is larger than {_size(limit)}, the service's limit.")
        size = 0
        async for chunk in resp.content.iter_chunked(CHUNK):
            size += len(chunk)
            if size > limit:
                raise _Refused(f"The {what} is larger than {_size(limit)}, the service's limit.")
            yield chunk


def _api_error(what: str, exc: BaseException, code: str) -> ApiError:
    reason = str(exc) if isinstance(exc, _Refused) else f"{type(exc).__name__}"
    if not isinstance(exc, _Refused):
        reason = f"The {what} URL cannot be read: {reason}."
    return ApiError(400, "InvalidRequest", reason, code)


_READ_ERRORS = (_Refused, aiohttp.ClientError, OSError, ValueError)


async def fetch_to_file(
    url: str | URL,
    state: EmulatorState,
    *,
    limit: int,
    code: str = "InvalidRecordingsUri",
    what: str = "audio",
) -> Path:
    """Download ``url`` into a spool file, as the service fetches audio and data URLs (at
    most ``limit`` bytes); raise :class:`ApiError` (inner code ``code``) when it cannot or
    may not be read."""
    f, path = open_spool(state, ".audio")
    try:
        with f:
            async for chunk in _stream(url, state, limit, what):
                f.write(chunk)
    except _READ_ERRORS as exc:
        path.unlink(missing_ok=True)
        raise _api_error(what, exc, code) from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


async def fetch_bytes(
    url: str | URL, state: EmulatorState, *, limit: int, what: str, code: str
) -> bytes:
    """The body of ``url`` (at most ``limit`` bytes, such as a container listing page)."""
    data = bytearray()
    try:
        async for chunk in _stream(url, state, limit, what):
            data += chunk
    except _READ_ERRORS as exc:
        raise _api_error(what, exc, code) from None
    return bytes(data)


async def put_blob(
    url: str | URL, data: bytes, content_type: str, ssl: SSLContext | bool = True
) -> str | None:
    """Write a block blob at ``url`` (a blob URL with a SAS) as the service writes results
    to a destination container; None when written, else why not."""
    headers = {"x-ms-blob-type": "BlockBlob", "Content-Type": content_type}
    connector = aiohttp.TCPConnector(ssl=ssl)
    try:
        async with (
            aiohttp.ClientSession(timeout=_TIMEOUT, connector=connector) as session,
            session.put(_url(url), data=data, headers=headers, allow_redirects=False) as resp,
        ):
            if resp.status in (200, 201):
                return None
            code = resp.headers.get("x-ms-error-code") or ""
            return f"HTTP {resp.status} {code}".strip()
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return type(exc).__name__
