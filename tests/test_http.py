"""Retry policy, Retry-After and error mapping of the transport."""

from __future__ import annotations

import pytest

from speechrest import SpeechClient, errors
from speechrest.testing import Fault

pytestmark = pytest.mark.anyio


TRANSCRIBE = "Transcriptions_Transcribe"


def _busy(status: int = 503, after: float = 0) -> Fault:
    return Fault.http_status(status, code="ServiceUnavailable", message="busy", retry_after=after)


async def test_retries_transient_statuses_then_succeeds(emulator, sample_wav) -> None:
    for fault in (_busy(503), _busy(429), Fault.server_error()):  # one after the other
        emulator.faults.add(fault, operation=TRANSCRIBE)
    async with SpeechClient(emulator.endpoint, key=emulator.key, max_retries=3) as c:
        result = await c.transcribe(sample_wav)
    assert result.duration_ms > 0
    assert emulator.faults.total == 3
    attempts = [r for r in emulator.requests if r.path.endswith(":transcribe")]
    assert [r.headers.get("x-ms-retry-count") for r in attempts] == [None, "1", "2", "3"]
    assert len({r.headers["x-ms-client-request-id"] for r in attempts}) == 1


async def test_max_retries_per_client_and_per_call(emulator, sample_wav) -> None:
    busy = emulator.faults.add(_busy(), operation=TRANSCRIBE, times=3)
    async with SpeechClient(emulator.endpoint, key=emulator.key, max_retries=1) as c:
        with pytest.raises(errors.InternalServerError) as info:
            await c.transcribe(sample_wav)
        assert info.value.status == 503
        assert busy.injected == 2
        emulator.faults.clear()
        busy = emulator.faults.add(_busy(), operation=TRANSCRIBE, times=2)
        with pytest.raises(errors.InternalServerError):
            await c.with_options(max_retries=0).transcribe(sample_wav)
        assert busy.injected == 1
        emulator.faults.clear()
        busy = emulator.faults.add(_busy(), operation=TRANSCRIBE, times=2)
        await c.with_options(max_retries=2).transcribe(sample_wav)
        assert busy.injected == 2


async def test_client_errors_are_not_retried(emulator, sample_wav) -> None:
    refused = emulator.faults.add(
        Fault.http_status(400, code="InvalidArgument", message="no"), operation=TRANSCRIBE, times=2
    )
    async with SpeechClient(emulator.endpoint, key=emulator.key) as c:
        with pytest.raises(errors.BadRequestError):
            await c.transcribe(sample_wav)
    assert refused.injected == 1


async def test_retry_after_longer_than_cap_is_surfaced(emulator, sample_wav) -> None:
    emulator.faults.add(_busy(429, after=3600), operation=TRANSCRIBE, times=2)
    async with SpeechClient(emulator.endpoint, key=emulator.key, max_retry_after=5) as c:
        with pytest.raises(errors.RateLimitError) as info:
            await c.transcribe(sample_wav)
    assert info.value.retry_after == 3600
    assert emulator.faults.total == 1


async def test_both_error_shapes_are_understood(emulator, sample_wav) -> None:
    emulator.faults.add(
        Fault.http_status(
            403,
            code="Forbidden",
            message="quota exceeded",
            inner_code="QuotaViolation",
            gateway=True,
        ),
        operation=TRANSCRIBE,
    )
    emulator.faults.add(
        Fault.http_status(404, code="NotFound", message="gone", inner_code="NotFound2"),
        operation=TRANSCRIBE,
    )
    async with SpeechClient(emulator.endpoint, key=emulator.key) as c:
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


async def test_non_json_error_body(emulator, sample_wav) -> None:
    emulator.faults.add(Fault.respond(502, "<html>Bad gateway</html>", content_type="text/html"))
    async with SpeechClient(emulator.endpoint, key=emulator.key, max_retries=0) as c:
        with pytest.raises(errors.InternalServerError, match="Bad gateway") as info:
            await c.transcribe(sample_wav)
    assert info.value.status == 502


async def test_invalid_json_success_body_is_a_validation_error(emulator, sample_wav) -> None:
    emulator.faults.add(Fault.malformed_json(b'{"durationMilli'), operation=TRANSCRIBE)
    async with SpeechClient(emulator.endpoint, key=emulator.key) as c:
        with pytest.raises(errors.ResponseValidationError, match="Transcriptions_Transcribe"):
            await c.transcribe(sample_wav)
