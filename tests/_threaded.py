"""An emulator served from a thread of its own, for callers that run (or block) their own
event loop: the ``speechrest`` command in-process, synchronous HTTP clients."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from speechrest.testing import SpeechEmulator


@contextlib.contextmanager
def emulator_thread(**options: Any) -> Iterator[SpeechEmulator]:
    """A running :class:`SpeechEmulator` (built with ``options``) on its own thread."""
    ready = threading.Event()
    running: list[tuple[SpeechEmulator, asyncio.AbstractEventLoop, asyncio.Event]] = []

    async def run() -> None:
        async with SpeechEmulator(**options) as emulator:
            stop = asyncio.Event()
            running.append((emulator, asyncio.get_running_loop(), stop))
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError("the emulator did not start")
    emulator, loop, stop = running[0]
    try:
        yield emulator
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
