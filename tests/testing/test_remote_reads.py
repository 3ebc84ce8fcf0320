"""The emulator reads remote audio and data as the service does: within the documented size
limits (a download stops as soon as it passes its limit) and following redirects only on the
original host."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from speechrest import SpeechClient
from speechrest.errors import BadRequestError, OperationFailedError
from speechrest.testing import DownloadLimits, ServiceLimits, SpeechEmulator, Timing, make_wav
from speechrest.types import DatasetKind

pytestmark = pytest.mark.anyio

LIMIT = 1_000_000
CHUNK = 64 * 1024
ENDLESS = 64 * 1024 * 1024
"""What the hostile server is willing to send (bounded, so that a test cannot run away)."""


class Hostile:
    """A loopback server that streams more than any limit, lies about nothing, and
    redirects."""

    def __init__(self) -> None:
        self.sent = 0
        self.hits: list[str] = []
        self.base = ""
        self.other = ""
        self._runner: web.AppRunner | None = None

    async def endless(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path)
        resp = web.StreamResponse()
        await resp.prepare(request)
        chunk = b"\0" * CHUNK
        try:
            while self.sent < ENDLESS:
                await resp.write(chunk)
                self.sent += len(chunk)
        except (ConnectionError, RuntimeError):
            pass  # the reader hung up, as it should
        return resp

    async def declared(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path)
        resp = web.StreamResponse(headers={"Content-Length": str(2 * LIMIT)})
        await resp.prepare(request)
        try:
            await resp.write(b"\0" * CHUNK)
            self.sent += CHUNK
        except (ConnectionError, RuntimeError):
            pass
        return resp

    async def wav(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path)
        return web.Response(body=make_wav(seconds=1, comment="Followed."))

    async def away(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path)
        raise web.HTTPFound(self.other + "/a.wav")

    async def here(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path)
        raise web.HTTPFound("/a.wav")

    async def __aenter__(self) -> Hostile:
        app = web.Application()
        app.router.add_get("/endless.wav", self.endless)
        app.router.add_get("/declared.wav", self.declared)
        app.router.add_get("/a.wav", self.wav)
        app.router.add_get("/away.wav", self.away)
        app.router.add_get("/here.wav", self.here)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def servers() -> AsyncIterator[tuple[Hostile, Hostile]]:
    async with Hostile() as one, Hostile() as two:
        one.other, two.other = two.base, one.base
        yield one, two


@pytest.fixture
async def speech() -> AsyncIterator[SpeechClient]:
    limits = DownloadLimits(batch_file_bytes=LIMIT, dataset_bytes=LIMIT)
    async with SpeechEmulator(
        timing=Timing(queue_delay=0.01, run_time=0.01), download_limits=limits
    ) as emu:
        emu.state.limits = ServiceLimits(fast_bytes=LIMIT)
        async with SpeechClient(emu.endpoint, key=emu.key) as client:
            yield client


async def test_audio_url_download_stops_at_the_size_limit(speech, servers) -> None:
    hostile, _ = servers
    with pytest.raises(BadRequestError, match=r"larger than 1 MB"):
        await speech.transcribe(audio_url=hostile.base + "/endless.wav")
    # The reader hung up soon after the limit; socket buffers hold a few MB at most.
    assert hostile.sent < 16 * 1024 * 1024


async def test_a_declared_size_over_the_limit_is_not_read(speech, servers) -> None:
    hostile, _ = servers
    with pytest.raises(BadRequestError, match=r"larger than 1 MB"):
        await speech.transcribe(audio_url=hostile.base + "/declared.wav")


async def test_batch_input_over_the_limit_fails_alone(speech, servers) -> None:
    hostile, _ = servers
    urls = [hostile.base + "/endless.wav", hostile.base + "/a.wav"]
    job = await speech.transcriptions.submit_and_wait(content_urls=urls, locale="en-US")
    report = await speech.transcriptions.report(job)
    assert report is not None
    (failed,) = report.failed
    assert failed.input_url == urls[0] and "larger than 1 MB" in (failed.error_message or "")
    assert hostile.sent < 16 * 1024 * 1024


async def test_dataset_url_over_the_limit_fails_the_dataset(speech, servers) -> None:
    hostile, _ = servers
    dataset = await speech.datasets.create(
        display_name="big",
        locale="en-US",
        kind=DatasetKind.ACOUSTIC,
        content_url=hostile.base + "/endless.wav",
    )
    with pytest.raises(OperationFailedError, match=r"larger than 1 MB"):
        await speech.datasets.wait(dataset)
    assert hostile.sent < 16 * 1024 * 1024


async def test_redirects_are_not_followed_off_the_host(speech, servers) -> None:
    hostile, other = servers
    with pytest.raises(BadRequestError, match=r"redirects off its host"):
        await speech.transcribe(audio_url=hostile.base + "/away.wav")
    assert other.hits == []
    job = await speech.transcriptions.submit_and_wait(
        content_urls=[hostile.base + "/a.wav", hostile.base + "/away.wav"], locale="en-US"
    )
    report = await speech.transcriptions.report(job)
    assert report is not None and [d.input_url for d in report.failed] == [
        hostile.base + "/away.wav"
    ]
    assert other.hits == []


async def test_redirects_on_the_same_host_are_followed(speech, servers) -> None:
    hostile, _ = servers
    result = await speech.transcribe(audio_url=hostile.base + "/here.wav")
    assert result.text == "Followed."
    assert hostile.hits == ["/here.wav", "/a.wav"]
