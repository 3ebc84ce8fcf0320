"""The upload stall watchdog: a request body handed to the HTTP library in pieces, each
given a deadline to be sent.

aiohttp's read timeout only starts once the body is sent, so a server that stops reading
mid-upload would hang the call. :class:`WatchedBody` moves a cancel scope's deadline
forward each time a piece is handed over (time spent reading the caller's source does not
count), then, once all of it is, gives the server the time to read what the socket buffers
still hold; it records what the source raised, and closes the source when the call ends.
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator, AsyncIterator

import anyio

__all__ = ["SLICE", "WatchedBody"]

SLICE = 256 * 1024
"""The largest piece of a body handed to the socket at once, so that the watchdog sees the
upload progress."""
_CLOSE_WAIT = 5.0
"""Seconds to wait for the HTTP library's writer to leave the body's source at the end."""


class WatchedBody(AsyncIterator[bytes]):
    """A body handed to aiohttp in pieces of at most ``SLICE`` bytes; each piece gets
    ``seconds`` to be sent before the watchdog cancels the exchange.

    aiohttp iterates it in a writer task of its own. :meth:`aclose` closes the source (and
    so its file) before the call returns: at once when the writer is not inside the source,
    else as soon as the writer, which aiohttp cancels with the exchange, has left it.
    """

    def __init__(
        self,
        data: bytes | bytearray | AsyncIterator[bytes],
        watchdog: anyio.CancelScope,
        seconds: float,
    ) -> None:
        self._chunks = _pieces(data)
        self._watchdog = watchdog
        self._seconds = seconds
        self._started: float | None = None
        """When the first piece was asked for."""
        self._idle: anyio.Event | None = None
        """Set when a read of the source in progress ends (None when none is)."""
        self.error: Exception | None = None
        """What the source raised, if it failed."""
        self.sent = False
        """Whether every piece was handed over."""

    async def __anext__(self) -> bytes:
        self._watchdog.deadline = math.inf  # reading the source is not the server's time
        if self._started is None:
            self._started = anyio.current_time()
        self._idle = idle = anyio.Event()
        try:
            chunk = await anext(self._chunks)
        except StopAsyncIteration:
            # All of it is handed over, but up to socket buffers' worth is still on its way
            # to a server that reads at the pace it kept so far: give it as long again as
            # the upload took, and read_timeout on top, before its answer must start.
            now = anyio.current_time()
            self._watchdog.deadline = now + self._seconds + (now - self._started)
            self.sent = True
            raise
        except Exception as exc:
            self.error = exc
            raise
        finally:
            self._idle = None
            idle.set()
        self._watchdog.deadline = anyio.current_time() + self._seconds
        return chunk

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            if self._idle is not None:
                with anyio.move_on_after(_CLOSE_WAIT):
                    await self._idle.wait()
            if self._idle is None:  # else the writer is stuck in the source: left to GC
                await self._chunks.aclose()


async def _pieces(data: bytes | bytearray | AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
    """The body in pieces of at most ``SLICE`` bytes; a source's iterator is closed with it."""
    if isinstance(data, bytes | bytearray):
        view = memoryview(data)
        for start in range(0, len(data), SLICE):
            yield bytes(view[start : start + SLICE])
        return
    try:
        async for chunk in data:
            for start in range(0, len(chunk), SLICE):
                yield chunk[start : start + SLICE] if len(chunk) > SLICE else chunk
    finally:
        aclose = getattr(data, "aclose", None)
        if aclose is not None:
            await aclose()
