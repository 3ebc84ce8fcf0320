"""Timeouts: connect and read timeouts apply, stalls are detected, slow uploads survive."""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from speechrest import SpeechClient
from speechrest.errors import APITimeoutError
from speechrest.testing import Fault, ScriptedRecognizer, SpeechEmulator, make_wav

pytestmark = pytest.mark.anyio

SAFETY = 30
"""A hang turns into a failure after this many seconds (it is not a performance bound)."""


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A loopback port whose accept queue is full: connecting to it hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(3):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        fillers.append(s)
    time.sleep(0.05)
    yield port
    for s in [*fillers, server]:
        s.close()


class SlowFile(io.RawIOBase):
    """A seekable binary file that takes ``delay`` seconds per read (a slow disk or NFS)."""

    def __init__(self, data: bytes, delay: float) -> None:
        self._buf = io.BytesIO(data)
        self.delay = delay
        self.name = "slow.wav"

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._buf.seek(offset, whence)

    def tell(self) -> int:
        return self._buf.tell()

    def read(self, size: int = -1) -> bytes:
        time.sleep(self.delay)  # read in a worker thread by the client
        return self._buf.read(size)


async def test_connect_timeout(full_backlog: int) -> None:
    endpoint = f"http://127.0.0.1:{full_backlog}"
    async with SpeechClient(endpoint, key="k", connect_timeout=0.2, max_retries=0) as client:
        with anyio.fail_after(SAFETY), pytest.raises(APITimeoutError, match="connecting"):
            await client.transcribe(b"RIFF....WAVE")


async def test_stalled_response_raises_timeout(emulator: SpeechEmulator, wav_file) -> None:
    emulator.faults.add(Fault.stall(), operation="Transcriptions_Transcribe")
    async with SpeechClient(
        emulator.endpoint, key=emulator.key, read_timeout=0.2, max_retries=0
    ) as client:
        with anyio.fail_after(SAFETY), pytest.raises(APITimeoutError, match="waiting"):
            await client.transcribe(wav_file())
        assert client.stats().connections_in_use == 0
        # The client is still usable, and the stalled connection was not pooled.
        assert (await client.transcribe(wav_file())).text == "Hello world."


async def test_stalled_response_is_retried(emulator: SpeechEmulator, wav_file) -> None:
    emulator.faults.add(Fault.stall(), operation="Transcriptions_Transcribe")
    async with SpeechClient(emulator.endpoint, key=emulator.key, read_timeout=0.2) as client:
        with anyio.fail_after(SAFETY):
            result = await client.transcribe(wav_file())
    assert result.text == "Hello world."
    assert emulator.faults.injected["stall"] == 1
    assert [r.path for r in emulator.requests].count("/speechtotext/transcriptions:transcribe") == 2


async def test_stalled_upload_is_detected(emulator: SpeechEmulator) -> None:
    """The server stops reading the request body: the upload makes no progress."""
    emulator.faults.add(Fault.stall(after_bytes=64 * 1024))
    audio = bytes(32 * 1024 * 1024)  # far more than the socket buffers hold
    async with SpeechClient(
        emulator.endpoint, key=emulator.key, read_timeout=0.3, max_retries=0
    ) as client:
        with anyio.fail_after(SAFETY), pytest.raises(APITimeoutError, match="upload"):
            await client.transcribe(audio)
        assert client.stats().connections_in_use == 0


async def test_slow_but_progressing_upload_is_not_cut_off(tmp_path: Path) -> None:
    """read_timeout bounds silence, not the length of an upload that keeps moving."""
    audio = make_wav(seconds=96, comment="Slow and steady.")  # ~3 MB: 3 reads of 1 MiB
    sizes: list[int] = []

    def hear(info) -> str:
        sizes.append(info.size)
        return info.comment or ""

    source = SlowFile(audio, delay=0.25)  # the whole upload takes ~1 s, each read 0.25 s
    async with (
        SpeechEmulator(recognizer=ScriptedRecognizer(hear)) as emulator,
        SpeechClient(emulator.endpoint, key=emulator.key, read_timeout=0.3, max_retries=0) as c,
    ):
        sent: list[int] = []
        with anyio.fail_after(SAFETY):
            result = await c.transcribe(source, on_progress=sent.append)
    assert result.text == "Slow and steady."
    assert sizes == [len(audio)]
    assert len(sent) >= 3 and sent[-1] == len(audio)


async def test_timeouts_must_be_positive() -> None:
    from speechrest.errors import InvalidInputError

    for kw in ({"connect_timeout": 0}, {"read_timeout": -1}):
        with pytest.raises(InvalidInputError, match="timeout"):
            SpeechClient("http://127.0.0.1:1", key="k", **kw)


async def test_a_big_in_memory_upload_to_a_steady_slow_reader_is_never_cut_off() -> None:
    """24 MiB of audio in memory, read by the server at a steady 4 MiB/s (6 s in all) with
    read_timeout=1: the upload keeps moving, so it is never called stalled."""
    from aiohttp import web

    rate = 4 * 1024 * 1024
    received = 0

    async def slow_reader(request: web.Request) -> web.Response:
        nonlocal received
        started = anyio.current_time()
        while chunk := await request.content.read(64 * 1024):
            received += len(chunk)
            # hold the pace: never ahead of 4 MiB/s (falling behind under load is fine)
            await anyio.sleep(max(0.0, started + received / rate - anyio.current_time()))
        result = {"durationMilliseconds": 1000, "combinedPhrases": [{"text": "ok"}], "phrases": []}
        return web.json_response(result)

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/speechtotext/transcriptions:transcribe", slow_reader)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    audio = bytes(24 * 1024 * 1024)
    try:
        async with SpeechClient(
            f"http://127.0.0.1:{port}", key="k", read_timeout=1.0, max_retries=0
        ) as client:
            with anyio.fail_after(SAFETY * 2):
                result = await client.transcribe(audio)
    finally:
        await runner.cleanup()
    assert result.text == "ok"
    assert received > len(audio)  # all of it (and the multipart framing), in one attempt


async def test_a_server_silent_after_a_big_upload_times_out() -> None:
    """The whole body was read, then nothing: read_timeout (plus the upload's own time)
    bounds the wait for the answer."""
    from aiohttp import web

    async def silent(request: web.Request) -> web.Response:
        await request.read()
        await anyio.sleep(SAFETY)
        return web.Response()

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/speechtotext/transcriptions:transcribe", silent)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with SpeechClient(
            f"http://127.0.0.1:{port}", key="k", read_timeout=0.3, max_retries=0
        ) as client:
            with anyio.fail_after(SAFETY), pytest.raises(APITimeoutError, match="did not start"):
                await client.transcribe(bytes(4 * 1024 * 1024))
    finally:
        await runner.cleanup()
