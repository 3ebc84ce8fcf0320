"""The emulator's fast transcription endpoint, spoken to directly over HTTP."""

from __future__ import annotations

import logging
import struct
from typing import Any

import aiohttp
import anyio
import pytest

from speechrest import SpeechClient, errors
from speechrest.testing import ServiceLimits, SpeechEmulator, make_wav

pytestmark = pytest.mark.anyio


async def _post(emu: SpeechEmulator, form: aiohttp.FormData, **query: str) -> tuple[int, Any]:
    params = {"api-version": "2025-10-15", **query}
    headers = {"Ocp-Apim-Subscription-Key": emu.key}
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            emu.endpoint + "/speechtotext/transcriptions:transcribe",
            data=form,
            params=params,
            headers=headers,
        ) as resp,
    ):
        return resp.status, await resp.json()


def _form(
    audio: bytes | None = None, definition: str | None = '{"locales":["en-US"]}'
) -> aiohttp.FormData:
    form = aiohttp.FormData(default_to_multipart=True)
    if definition is not None:
        form.add_field("definition", definition)
    if audio is not None:
        form.add_field("audio", audio, filename="a.wav", content_type="audio/wav")
    return form


async def test_key_and_api_version_are_checked(emulator: SpeechEmulator) -> None:
    async with aiohttp.ClientSession() as s:
        url = emulator.endpoint + "/speechtotext/transcriptions:transcribe"
        async with s.post(url, params={"api-version": "2025-10-15"}) as resp:
            assert resp.status == 401
            assert "error" in await resp.json()
    status, body = await _post(emulator, _form(make_wav()), **{"api-version": "3.2"})
    assert status == 400 and body["innerError"]["code"] == "InvalidParameterValue"


@pytest.mark.parametrize(
    ("audio", "status", "inner"),
    [
        (b"ID3 this is an mp3", 422, "InvalidAudioFormat"),
        (b"RIFF\x04\x00\x00\x00WAVE", 422, "InvalidAudioFormat"),
        (None, 400, "InvalidAudioFormat"),
    ],
)
async def test_bad_audio_gets_the_service_error_codes(
    emulator: SpeechEmulator, audio: bytes | None, status: int, inner: str
) -> None:
    got, body = await _post(emulator, _form(audio))
    assert got == status
    assert body["innerError"]["code"] == inner
    assert set(body) >= {"code", "message"}


def _wav_header_only(rate: int, data_size: int) -> bytes:
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate, 1, 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", data_size)
    return b"RIFF" + struct.pack("<I", len(body) + data_size) + body + b"\x80" * data_size


async def test_empty_and_too_long_audio(emulator: SpeechEmulator) -> None:
    status, body = await _post(emulator, _form(_wav_header_only(8000, 0)))
    assert (status, body["innerError"]["code"]) == (400, "EmptyAudioFile")
    # 8-bit mono at 1 Hz: 7,300 bytes are more than two hours of audio.
    status, body = await _post(emulator, _form(_wav_header_only(1, 7300)))
    assert (status, body["innerError"]["code"]) == (400, "AudioLengthLimitExceeded")


async def test_definition_is_validated(emulator: SpeechEmulator) -> None:
    for definition, inner in [
        ("{not json", "InvalidTranscription"),
        ('{"diarization": {"enabled": true, "maxSpeakers": 99}}', "InvalidParameterValue"),
        ('{"channels": [0, 1, 2]}', "InvalidChannelSpecification"),
        ('{"profanityFilterMode": "Bleep"}', "InvalidParameterValue"),
        ('{"locales": ["not a locale"]}', "InvalidLocale"),
    ]:
        status, body = await _post(emulator, _form(make_wav(), definition))
        assert status == 400, definition
        assert body["innerError"]["code"] == inner


async def test_upload_limit(sample_wav) -> None:
    async with SpeechEmulator() as emu, SpeechClient(emu.endpoint, key=emu.key) as c:
        emu.state.limits = ServiceLimits(fast_bytes=50_000)
        with pytest.raises((errors.PayloadTooLargeError, errors.APIConnectionError)) as info:
            await c.transcribe(sample_wav)
        if isinstance(info.value, errors.PayloadTooLargeError):
            assert info.value.inner_code == "AudioLengthLimitExceeded"
        emu.state.limits = ServiceLimits()
        assert (await c.transcribe(sample_wav)).duration_ms > 0


async def test_wav_duration_and_channels_are_real(client: SpeechClient) -> None:
    result = await client.transcribe(make_wav(seconds=2.5, sample_rate=8000, channels=2))
    assert result.duration_ms == 2500
    result = await client.transcribe(make_wav(seconds=1.0, channels=2), channels=[0, 1])
    assert len(result.combined_phrases) == 2


async def test_profanity_modes(client: SpeechClient) -> None:
    wav = make_wav(comment="Oh damn it.")
    # "The default value is Masked" (Learn, fast transcription).
    assert (await client.transcribe(wav)).text == "Oh **** it."
    assert (await client.transcribe(wav, profanity_filter_mode="None")).text == "Oh damn it."
    assert (await client.transcribe(wav, profanity_filter_mode="Masked")).text == "Oh **** it."
    assert (await client.transcribe(wav, profanity_filter_mode="Removed")).text == "Oh it."
    tagged = (await client.transcribe(wav, profanity_filter_mode="Tags")).text
    assert tagged == "Oh <profanity>damn</profanity> it."


async def test_deterministic_recognizer_is_stable(client: SpeechClient) -> None:
    wav = make_wav(seconds=3, frequency=300)
    first = await client.transcribe(wav)
    second = await client.transcribe(wav)
    assert first.text == second.text and first.text
    other = await client.transcribe(make_wav(seconds=3, frequency=500))
    assert other.text != first.text


async def test_a_request_its_client_cancels_is_logged_in_one_line(caplog, client, emulator) -> None:
    """A client that gives up mid-upload is routine: one line in the emulator's log, no
    traceback (aiohttp would log one as an error)."""
    audio = make_wav(seconds=300)  # 9.6 MB, sent over 1.5 s or more

    async def slowly() -> Any:
        for start in range(0, len(audio), 64 * 1024):
            yield audio[start : start + 64 * 1024]
            await anyio.sleep(0.01)

    with caplog.at_level("INFO"):
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.with_options(max_retries=0).transcribe, slowly())
            while not any(r.path.endswith(":transcribe") for r in emulator.requests):
                await anyio.sleep(0.01)
            tg.cancel_scope.cancel()  # mid-upload: the emulator is reading it
        with anyio.fail_after(10):
            while not any("hung up" in r.getMessage() for r in caplog.records):
                await anyio.sleep(0.02)
    [line] = [r for r in caplog.records if "hung up" in r.getMessage()]
    assert (line.name, line.levelname) == ("speechrest.emulator", "INFO")
    assert line.getMessage().startswith("POST /speechtotext/transcriptions:transcribe: ")
    assert line.exc_info is None
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
