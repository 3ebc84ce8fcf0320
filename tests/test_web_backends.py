"""Audio as it arrives in real async web backends: FastAPI's ``UploadFile`` (served by
uvicorn), aiohttp's ``request.content`` (a ``StreamReader``) and multipart
``BodyPartReader``, and files from ``anyio.open_file``. Each is streamed in chunks, never read
whole; a one-shot source says so when a retry would be needed."""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
import uvicorn
from aiohttp import web
from fastapi import FastAPI, HTTPException, UploadFile

from speechrest import SpeechClient, errors
from speechrest.testing import Fault, SpeechEmulator, make_wav

pytestmark = pytest.mark.anyio

TRANSCRIBE = "/speechtotext/transcriptions:transcribe"
MB = 1024 * 1024


def attempts(emulator: SpeechEmulator) -> int:
    return sum(1 for r in emulator.requests if r.path == TRANSCRIBE)


async def until(condition: Callable[[], bool]) -> None:
    with anyio.fail_after(30):  # only a guard against a hang; never reached when it works
        while not condition():
            await anyio.sleep(0.01)


# -- FastAPI and uvicorn ---------------------------------------------------------------------


@contextlib.asynccontextmanager
async def uvicorn_serving(app: FastAPI, lifespan: str = "off") -> AsyncIterator[str]:
    """``app`` served by a real uvicorn server on loopback, in this event loop."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan=lifespan, log_level="warning", ws="none"
    )
    server = uvicorn.Server(config)
    stopped = anyio.Event()

    async def serve() -> None:
        try:
            await server.serve()
        finally:
            stopped.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(serve)
        await until(lambda: server.started)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True  # a graceful stop, which closes its sockets
            with anyio.CancelScope(shield=True), anyio.fail_after(30):
                await stopped.wait()


def fastapi_app(client: SpeechClient, reads: list[int]) -> FastAPI:
    app = FastAPI()

    @app.post("/transcribe")
    async def transcribe(audio: UploadFile) -> dict[str, Any]:
        read = audio.read

        async def counted(size: int = -1) -> bytes:  # (to see how the client reads it)
            reads.append(size)
            return await read(size)

        audio.read = counted  # type: ignore[method-assign]
        try:
            result = await client.transcribe(audio, locales=["en-US"])
        except errors.SpeechRestError as exc:
            raise HTTPException(status_code=502, detail=str(exc)) from None
        return {"text": result.text, "duration_ms": result.duration_ms}

    return app


async def test_fastapi_upload_file_is_streamed_and_retried(
    client: SpeechClient, emulator: SpeechEmulator
) -> None:
    audio = make_wav(seconds=100, comment="From FastAPI.")  # 3.2 MB: spooled to disk
    reads: list[int] = []
    emulator.faults.add(Fault.reset_during_upload(after_bytes=MB), times=1)
    async with (
        uvicorn_serving(fastapi_app(client, reads)) as base,
        aiohttp.ClientSession() as http,
    ):
        form = aiohttp.FormData()
        form.add_field("audio", io.BytesIO(audio), filename="call.wav", content_type="audio/wav")
        async with http.post(f"{base}/transcribe", data=form) as response:
            assert response.status == 200, await response.text()
            body = await response.json()
    assert body == {"text": "From FastAPI.", "duration_ms": 100_000}
    # Read in chunks, never whole; sent again after the reset (UploadFile can seek).
    assert attempts(emulator) == 2
    assert -1 not in reads and max(reads) < len(audio)
    assert len(reads) > len(audio) // max(reads)


# -- aiohttp ---------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def aiohttp_serving(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> AsyncIterator[str]:
    app = web.Application(client_max_size=1024**3)
    app.router.add_post("/transcribe", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def upload_in_two_halves(
    audio: bytes, forwarded: list[int], http: aiohttp.ClientSession, url: str, **kw: Any
) -> tuple[int, dict[str, Any]]:
    """POST ``audio`` in two halves; the second only once the backend has forwarded some
    of the first to the service. A backend that read the whole upload before sending would
    wait forever here."""

    async def body() -> AsyncIterator[bytes]:
        yield audio[: len(audio) // 2]
        await until(lambda: bool(forwarded) and forwarded[-1] > 0)
        yield audio[len(audio) // 2 :]

    async with http.post(url, data=body(), **kw) as response:
        return response.status, await response.json()


async def test_aiohttp_request_content_is_streamed_as_it_arrives(client: SpeechClient) -> None:
    audio = make_wav(seconds=100, comment="From aiohttp.")
    forwarded: list[int] = []

    async def transcribe(request: web.Request) -> web.Response:
        result = await client.transcribe(request.content, on_progress=forwarded.append)
        return web.json_response({"text": result.text})

    async with aiohttp_serving(transcribe) as base, aiohttp.ClientSession() as http:
        status, body = await upload_in_two_halves(audio, forwarded, http, f"{base}/transcribe")
    assert (status, body) == (200, {"text": "From aiohttp."})
    assert forwarded[-1] == len(audio)
    assert len(forwarded) > 2


async def test_aiohttp_multipart_part_is_streamed_as_it_arrives(client: SpeechClient) -> None:
    audio = make_wav(seconds=100, comment="From a multipart part.")
    forwarded: list[int] = []

    async def transcribe(request: web.Request) -> web.Response:
        reader = await request.multipart()
        part = await reader.next()
        assert isinstance(part, aiohttp.BodyPartReader) and part.name == "audio"
        result = await client.transcribe(part, on_progress=forwarded.append)
        return web.json_response({"text": result.text})

    boundary = "backend-test-boundary"
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="audio"; filename="call.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    async with aiohttp_serving(transcribe) as base, aiohttp.ClientSession() as http:
        status, body = await upload_in_two_halves(
            head + audio + tail, forwarded, http, f"{base}/transcribe", headers=headers
        )
    assert (status, body) == (200, {"text": "From a multipart part."})
    assert forwarded[-1] == len(audio)


async def test_a_one_shot_request_stream_says_so_when_a_retry_is_needed(
    emulator: SpeechEmulator,
) -> None:
    emulator.faults.add(Fault.reset_during_upload(after_bytes=64 * 1024), times=1)

    async def transcribe(request: web.Request) -> web.Response:
        try:
            await speech.transcribe(request.content)
        except errors.NotReplayableError as exc:
            return web.json_response({"error": str(exc)}, status=503)
        return web.json_response({})

    async with (
        SpeechClient(emulator.endpoint, key=emulator.key, backoff_base=0.001) as speech,
        aiohttp_serving(transcribe) as base,
        aiohttp.ClientSession() as http,
    ):
        audio = make_wav(seconds=10)
        async with http.post(f"{base}/transcribe", data=audio) as response:
            status, body = response.status, await response.json()
    assert status == 503
    assert "one-shot stream" in body["error"]
    assert "pass a path, bytes or a seekable file" in body["error"]
    assert attempts(emulator) == 1


# -- anyio files -----------------------------------------------------------------------------


async def test_an_anyio_file_is_read_in_chunks_and_sent_again_on_a_retry(
    client: SpeechClient, emulator: SpeechEmulator, tmp_path: Path
) -> None:
    path = tmp_path / "call.wav"
    path.write_bytes(make_wav(seconds=100, comment="From an anyio file."))
    emulator.faults.add(Fault.reset_during_upload(after_bytes=MB), times=1)
    async with await anyio.open_file(path, "rb") as f:
        reads: list[int] = []
        read = f.read

        async def counted(size: int = -1) -> bytes:
            reads.append(size)
            return await read(size)

        f.read = counted  # type: ignore[method-assign]
        result = await client.transcribe(f)
    assert result.text == "From an anyio file."
    assert attempts(emulator) == 2  # anyio files can seek: the retry sends it again
    assert -1 not in reads and max(reads) < path.stat().st_size
