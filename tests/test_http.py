"""Retry policy, Retry-After and error mapping of the transport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from speechrest import SpeechClient, errors
from speechrest.testing import SpeechEmulator

pytestmark = pytest.mark.anyio


class Script:
    """A middleware answering the next requests with scripted statuses."""

    def __init__(self, *responses: tuple[int, dict[str, str], Any]) -> None:
        self.responses = list(responses)
        self.seen = 0

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/speechtotext/") or not self.responses:
            return await handler(request)
        self.seen += 1
        await request.read()
        status, headers, body = self.responses.pop(0)
        return web.json_response(body, status=status, headers=headers)


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[SpeechEmulator, Script]]:
    script = Script()
    emu = SpeechEmulator()
    emu.state.middlewares.append(script.middleware)
    async with emu:
        yield emu, script


def _busy(status: int = 503, after: str = "0") -> tuple[int, dict[str, str], Any]:
    return status, {"Retry-After": after}, {"code": "ServiceUnavailable", "message": "busy"}


async def test_retries_transient_statuses_then_succeeds(scripted, sample_wav) -> None:
    emu, script = scripted
    script.responses += [_busy(503), _busy(429), (500, {}, {"code": "InternalServerError"})]
    async with SpeechClient(emu.endpoint, key=emu.key, max_retries=3) as c:
        result = await c.transcribe(sample_wav)
    assert result.duration_ms > 0
    assert script.seen == 3
    attempts = [r for r in emu.requests if r.path.endswith(":transcribe")]
    assert [r.headers.get("x-ms-retry-count") for r in attempts] == [None, "1", "2", "3"]
    assert len({r.headers["x-ms-client-request-id"] for r in attempts}) == 1


async def test_max_retries_per_client_and_per_call(scripted, sample_wav) -> None:
    emu, script = scripted
    script.responses += [_busy(), _busy(), _busy()]
    async with SpeechClient(emu.endpoint, key=emu.key, max_retries=1) as c:
        with pytest.raises(errors.InternalServerError) as info:
            await c.transcribe(sample_wav)
        assert info.value.status == 503
        assert script.seen == 2
        script.responses[:] = [_busy(), _busy()]
        script.seen = 0
        with pytest.raises(errors.InternalServerError):
            await c.with_options(max_retries=0).transcribe(sample_wav)
        assert script.seen == 1
        script.responses[:] = [_busy(), _busy()]
        script.seen = 0
        await c.with_options(max_retries=2).transcribe(sample_wav)
        assert script.seen == 2


async def test_client_errors_are_not_retried(scripted, sample_wav) -> None:
    emu, script = scripted
    script.responses += [(400, {}, {"code": "InvalidArgument", "message": "no"})] * 2
    async with SpeechClient(emu.endpoint, key=emu.key) as c:
        with pytest.raises(errors.BadRequestError):
            await c.transcribe(sample_wav)
    assert script.seen == 1


async def test_retry_after_longer_than_cap_is_surfaced(scripted, sample_wav) -> None:
    emu, script = scripted
    script.responses += [_busy(429, "3600")]
    async with SpeechClient(emu.endpoint, key=emu.key, max_retry_after=5) as c:
        with pytest.raises(errors.RateLimitError) as info:
            await c.transcribe(sample_wav)
    assert info.value.retry_after == 3600
    assert script.seen == 1


async def test_both_error_shapes_are_understood(scripted, sample_wav) -> None:
    emu, script = scripted
    script.responses += [
        (
            403,
            {},
            {
                "error": {
                    "code": "Forbidden",
                    "message": "quota exceeded",
                    "innerError": {"code": "QuotaViolation"},
                }
            },
        ),
        (404, {}, {"code": "NotFound", "message": "gone", "innerError": {"code": "NotFound2"}}),
    ]
    async with SpeechClient(emu.endpoint, key=emu.key) as c:
        with pytest.raises(errors.PermissionDeniedError) as first:
            await c.transcribe(sample_wav)
        with pytest.raises(errors.NotFoundError) as second:
            await c.transcribe(sample_wav)
    assert (first.value.code, first.value.inner_code, first.value.message) == (
        "Forbidden",
        "QuotaViolation",
        "quota exceeded",
    )
    assert (second.value.code, second.value.inner_code) == ("NotFound", "NotFound2")


async def test_non_json_error_body(sample_wav) -> None:
    @web.middleware
    async def html(request: web.Request, handler: Any) -> web.StreamResponse:
        await request.read()
        return web.Response(status=502, text="<html>Bad gateway</html>", content_type="text/html")

    emu = SpeechEmulator()
    emu.state.middlewares.append(html)
    async with emu, SpeechClient(emu.endpoint, key=emu.key, max_retries=0) as c:
        with pytest.raises(errors.InternalServerError, match="Bad gateway") as info:
            await c.transcribe(sample_wav)
    assert info.value.status == 502


async def test_invalid_json_success_body_is_a_validation_error(sample_wav) -> None:
    @web.middleware
    async def broken(request: web.Request, handler: Any) -> web.StreamResponse:
        await request.read()
        return web.Response(status=200, text='{"durationMilli', content_type="application/json")

    emu = SpeechEmulator()
    emu.state.middlewares.append(broken)
    async with emu, SpeechClient(emu.endpoint, key=emu.key) as c:
        with pytest.raises(errors.ResponseValidationError, match="Transcriptions_Transcribe"):
            await c.transcribe(sample_wav)
