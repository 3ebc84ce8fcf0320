"""Local files served by the emulator (``serve_file``, ``serve_bytes``), and the public
recognizer chooser."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from speechrest import SpeechClient
from speechrest.testing import (
    DeterministicRecognizer,
    PocketSphinxRecognizer,
    ScriptedRecognizer,
    SpeechEmulator,
    Timing,
    best_local_recognizer,
    make_wav,
)

pytestmark = pytest.mark.anyio


async def _get(url: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as anonymous, anonymous.get(url) as response:
        return response.status, await response.read()


async def test_a_served_file_feeds_fast_and_batch_transcription(tmp_path: Path) -> None:
    call = tmp_path / "call.wav"
    call.write_bytes(make_wav(seconds=2))
    recognizer = ScriptedRecognizer({"call.wav": "I would like to cancel my order."})
    timing = Timing(queue_delay=0.01, run_time=0.01)
    async with (
        SpeechEmulator(recognizer=recognizer, timing=timing) as emulator,
        SpeechClient(emulator.endpoint, key=emulator.key) as client,
    ):
        url = emulator.serve_file(call)
        assert URL(url).path.endswith("/call.wav")
        assert await _get(url) == (200, call.read_bytes())  # no key needed
        fast = await client.transcribe(audio_url=url, locales=["en-US"])
        assert fast.text == "I would like to cancel my order."
        job = await client.transcriptions.submit_and_wait(content_urls=[url], locale="en-US")
        [result] = [r async for r in client.transcriptions.results(job)]
        assert result.combined_recognized_phrases[0].display == fast.text


async def test_a_served_file_is_read_when_requested(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_bytes(b"first")
    async with SpeechEmulator() as emulator:
        url = emulator.serve_file(str(path))
        path.write_bytes(b"second")
        assert await _get(url) == (200, b"second")
        path.unlink()
        assert (await _get(url))[0] == 404


async def test_served_bytes_and_their_lifetime() -> None:
    async with SpeechEmulator() as emulator:
        url = emulator.serve_bytes(b"RIFF", "a.wav")
        assert await _get(url) == (200, b"RIFF")
        assert (await _get(url.replace("sig=", "sig=0")))[0] == 403
        expired = emulator.serve_bytes(b"RIFF", "a.wav", sas_lifetime_minutes=0)
        assert (await _get(expired))[0] == 403
        hours = URL(emulator.serve_bytes(b"", "b.wav", sas_lifetime_minutes=120)).query["se"]
        assert hours < URL(url).query["se"]  # 2 h < the default 12 h


async def test_serving_refuses_bad_input(tmp_path: Path) -> None:
    emulator = SpeechEmulator()
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    with pytest.raises(RuntimeError, match="not running"):
        emulator.serve_file(tmp_path / "a.wav")
    async with emulator:
        with pytest.raises(FileNotFoundError, match="no such file"):
            emulator.serve_file(tmp_path / "missing.wav")
        with pytest.raises(FileNotFoundError):
            emulator.serve_file(tmp_path)  # a directory
        for name in ("", "dir/a.wav"):
            with pytest.raises(ValueError, match="file name"):
                emulator.serve_bytes(b"RIFF", name)
        with pytest.raises(TypeError, match="bytes"):
            emulator.serve_bytes("RIFF", "a.wav")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=">= 0"):
            emulator.serve_file(tmp_path / "a.wav", sas_lifetime_minutes=-1)
        with pytest.raises(TypeError, match="integer"):
            emulator.serve_file(tmp_path / "a.wav", sas_lifetime_minutes=1.5)  # type: ignore[arg-type]


def test_best_local_recognizer_is_public() -> None:
    chosen = best_local_recognizer()
    if importlib.util.find_spec("pocketsphinx") is not None:
        assert isinstance(chosen, PocketSphinxRecognizer)
    else:
        assert isinstance(chosen, DeterministicRecognizer)
