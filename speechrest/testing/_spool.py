"""Spool files: request bodies and downloads kept on disk while the emulator works on them.

Every group that takes audio or data (fast and batch transcription, datasets) spools it
here, in ``state.spool_dir``; the caller deletes a spool file when done with it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

import aiohttp

from ._entities import ApiError
from ._state import EmulatorState

__all__ = ["CHUNK", "fetch_to_file", "open_spool"]

CHUNK = 256 * 1024
"""Bytes read at a time from a request or a download."""


def open_spool(state: EmulatorState, suffix: str) -> tuple[BinaryIO, Path]:
    """A new spool file, open for writing, and its path."""
    fd, name = tempfile.mkstemp(prefix="speechrest-emu-", suffix=suffix, dir=state.spool_dir)
    return os.fdopen(fd, "wb"), Path(name)


async def fetch_to_file(
    url: str, state: EmulatorState, *, code: str = "InvalidRecordingsUri"
) -> Path:
    """Download ``url`` into a spool file, as the service fetches audio URLs; raise
    :class:`ApiError` (inner code ``code``) when it cannot be read."""
    f, path = open_spool(state, ".audio")
    try:
        with f:
            async with aiohttp.ClientSession() as session, session.get(url) as resp:
                if resp.status != 200:
                    raise ApiError(
                        400, "InvalidRequest", f"The audio URL answered HTTP {resp.status}.", code
                    )
                async for chunk in resp.content.iter_chunked(CHUNK):
                    f.write(chunk)
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        path.unlink(missing_ok=True)
        raise ApiError(
            400, "InvalidRequest", f"The audio URL cannot be read: {type(exc).__name__}.", code
        ) from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
