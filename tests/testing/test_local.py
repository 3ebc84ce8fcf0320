"""The offline recognizer (``speechrest[local]``): real words from real speech."""

from __future__ import annotations

import importlib.util
import struct
import subprocess
import sys
import threading
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import attrs
import pytest

from speechrest import SpeechClient
from speechrest.testing import (
    DeterministicRecognizer,
    PocketSphinxRecognizer,
    ScriptedRecognizer,
    SpeechEmulator,
    _local,
    make_wav,
)
from speechrest.testing._audio import probe_audio
from tests.audio_server import AudioServer

pytestmark = pytest.mark.anyio

SAID = "Please call me back tomorrow morning."
needs_pocketsphinx = pytest.mark.skipif(
    importlib.util.find_spec("pocketsphinx") is None,
    reason="pocketsphinx is not installed (pip install -e '.[local]' to run these)",
)


@pytest.fixture(scope="module")
def recognizer() -> PocketSphinxRecognizer:
    return PocketSphinxRecognizer()  # loads the model once for the module


def _wav_without_comment(sample: Path, dest: Path, *, channels: int, rate_factor: int) -> Path:
    """The sample's speech, with no ICMT transcript, as ``channels`` x 24-bit PCM at
    ``16 kHz * rate_factor`` (every sample repeated ``rate_factor`` times)."""
    with wave.open(str(sample)) as w:
        pcm = w.readframes(w.getnframes())
    out = bytearray()
    for (value,) in struct.iter_unpack("<h", pcm):
        frame = struct.pack("<i", value << 8)[:3] * channels
        out += frame * rate_factor
    with wave.open(str(dest), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(3)
        w.setframerate(16000 * rate_factor)
        w.writeframes(bytes(out))
    return dest


@needs_pocketsphinx
async def test_hears_the_sample(recognizer, sample_wav: Path) -> None:
    async with (
        SpeechEmulator(recognizer=recognizer) as emu,
        SpeechClient(emu.endpoint, key=emu.key) as client,
    ):
        result = await client.transcribe(sample_wav, locales=["en-US"])
    assert result.text == SAID
    [phrase] = result.phrases
    assert phrase.words is not None
    assert [w.text for w in phrase.words] == SAID.split()  # display form, as the service
    # Real timings: in order, inside the audio, and not one even split of the phrase.
    ends = [w.offset_ms + w.duration_ms for w in phrase.words]
    starts = [w.offset_ms for w in phrase.words]
    assert starts == sorted(starts)
    assert all(end <= start for end, start in zip(ends[:-1], starts[1:], strict=True))
    assert phrase.offset_ms >= 0 and ends[-1] <= result.duration_ms
    assert len({w.duration_ms for w in phrase.words}) > 1
    assert 0 < phrase.confidence <= 1


@needs_pocketsphinx
async def test_hears_speech_without_a_comment_in_any_layout(
    recognizer, sample_wav: Path, tmp_path: Path
) -> None:
    stereo = _wav_without_comment(sample_wav, tmp_path / "s.wav", channels=2, rate_factor=3)
    async with (
        SpeechEmulator(recognizer=recognizer) as emu,
        SpeechClient(emu.endpoint, key=emu.key) as client,
    ):
        result = await client.transcribe(stereo, channels=[0, 1])
        plain = await client.with_options().transcribe(stereo)
    assert [(c.channel, c.text) for c in result.combined_phrases] == [(0, SAID), (1, SAID)]
    assert plain.text == SAID
    # Without the recognizer, the emulator would make up words for this file.
    async with SpeechEmulator() as emu, SpeechClient(emu.endpoint, key=emu.key) as client:
        assert (await client.transcribe(stereo)).text != SAID


def _clip(sample: Path, dest: Path, start: float, end: float) -> Path:
    """Seconds ``start`` to ``end`` of the sample, without its ICMT transcript."""
    with wave.open(str(sample)) as w:
        rate = w.getframerate()
        w.setpos(int(start * rate))
        pcm = w.readframes(int((end - start) * rate))
    with wave.open(str(dest), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return dest


@needs_pocketsphinx
async def test_same_audio_same_result(recognizer, sample_wav: Path) -> None:
    audio = probe_audio(sample_wav, "hello.wav")
    first = recognizer.recognize(audio, [])
    assert recognizer.recognize(audio, []) == first
    again = recognizer.recognize(audio, ["de-DE", "en-GB"])
    assert again == [attrs.evolve(p, locale="en-GB") for p in first]


@needs_pocketsphinx
async def test_other_languages_fall_back(recognizer, wav_file) -> None:
    path = wav_file("fr.wav", text="Bonjour tout le monde.")
    async with (
        SpeechEmulator(recognizer=recognizer) as emu,
        SpeechClient(emu.endpoint, key=emu.key) as client,
    ):
        result = await client.transcribe(path, locales=["fr-FR"])
    assert result.text == "Bonjour tout le monde."
    assert result.phrases[0].locale == "fr-FR"


def test_without_pocketsphinx(monkeypatch) -> None:
    monkeypatch.setattr(_local, "pocketsphinx_available", lambda: False)
    assert isinstance(_local.best_local_recognizer(), DeterministicRecognizer)
    with pytest.raises(ImportError, match=r"pip install 'speechrest\[local\]'"):
        PocketSphinxRecognizer()


@needs_pocketsphinx
def test_best_local_recognizer_prefers_pocketsphinx() -> None:
    assert isinstance(_local.best_local_recognizer(), PocketSphinxRecognizer)


# -- concurrency -----------------------------------------------------------------------------


@needs_pocketsphinx
def test_one_recognizer_from_many_threads_at_once(sample_wav: Path, tmp_path: Path) -> None:
    """One decoder shared by threads crashed the process or hung it at 100 % CPU: each
    worker has its own, and every thread gets the same words as one call alone."""
    audio = probe_audio(_clip(sample_wav, tmp_path / "clip.wav", 1.2, 2.8), "clip.wav")
    recognizer = PocketSphinxRecognizer(workers=2)
    try:
        alone = recognizer.recognize(audio, [])
        with ThreadPoolExecutor(8) as threads:
            together = list(threads.map(lambda _: recognizer.recognize(audio, []), range(8)))
    finally:
        recognizer.close()
    assert [p.text for p in alone] == ["Tomorrow morning."]
    assert together == [alone] * 8
    assert recognizer.workers == 2


@needs_pocketsphinx
def test_closed_recognizer_starts_again_and_a_dead_worker_is_replaced(
    sample_wav: Path, tmp_path: Path
) -> None:
    audio = probe_audio(_clip(sample_wav, tmp_path / "clip.wav", 1.2, 2.8), "clip.wav")
    recognizer = PocketSphinxRecognizer(workers=1)
    try:
        first = recognizer.recognize(audio, [])
        recognizer.close()
        assert recognizer.recognize(audio, []) == first  # new workers on demand
        [worker] = recognizer._pool._idle
        worker._process.kill()
        worker._process.wait()
        with pytest.raises(RuntimeError, match="decoder process ended"):
            recognizer.recognize(audio, [])
        assert recognizer.recognize(audio, []) == first  # a new worker took its place
    finally:
        recognizer.close()
    with pytest.raises(ValueError, match="workers"):
        PocketSphinxRecognizer(workers=0)


async def test_recognition_runs_off_the_event_loop() -> None:
    """While the recognizer works, the emulator goes on serving other requests."""
    listed = threading.Event()

    def hear(audio: object) -> str:
        # On the event loop, the listing below could not be answered before this returns.
        return "Served meanwhile." if listed.wait(10) else "The loop was blocked."

    async with (
        SpeechEmulator(recognizer=ScriptedRecognizer(hear)) as emu,
        SpeechClient(emu.endpoint, key=emu.key) as client,
        anyio.create_task_group() as tg,
    ):
        results: list[str] = []

        async def transcribe() -> None:
            results.append((await client.transcribe(make_wav(seconds=1))).text)

        tg.start_soon(transcribe)
        while not any(r.path.endswith(":transcribe") for r in emu.requests):
            await anyio.sleep(0.01)
        assert [job async for job in client.transcriptions.list()] == []
        listed.set()
    assert results == ["Served meanwhile."]


async def test_recognitions_at_once_are_bounded() -> None:
    """At most ``state.recognitions`` (one per core by default) run at a time."""
    lock = threading.Lock()
    running, most = 0, 0
    meet = threading.Barrier(3, timeout=30)

    def hear(audio: object) -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        meet.wait()  # three at once, never more
        with lock:
            running -= 1
        return "Heard."

    async with (
        SpeechEmulator(recognizer=ScriptedRecognizer(hear)) as emu,
        SpeechClient(emu.endpoint, key=emu.key) as client,
    ):
        assert emu.state.recognitions.total_tokens == _local.machine_cores()
        emu.state.recognitions = anyio.CapacityLimiter(3)
        sources = [make_wav(seconds=1) for _ in range(6)]
        async with client.transcribe_many(sources, concurrency=6) as outcomes:
            texts = [item.result.text async for item in outcomes]
    assert texts == ["Heard."] * 6
    assert most == 3


@needs_pocketsphinx
async def test_served_emulator_survives_batch_jobs_and_transcriptions_at_once(
    sample_wav: Path, tmp_path: Path
) -> None:
    """``speechrest emulator`` with PocketSphinx died (exit 139) or hung under a few
    concurrent batch jobs; now many jobs and fast transcriptions at once all succeed."""
    clip = _clip(sample_wav, tmp_path / "clip.wav", 1.2, 2.8)
    command = [sys.executable, "-m", "speechrest", "emulator", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--recognizer", "pocketsphinx"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        env: dict[str, str] = {}
        while "SPEECH_KEY" not in env:
            line = await anyio.to_thread.run_sync(process.stdout.readline)
            assert line, "the emulator did not start"
            if line.startswith("SPEECH_"):
                name, value = line.strip().split("=", 1)
                env[name] = value
        async with (
            AudioServer() as audio,
            SpeechClient(env["SPEECH_ENDPOINT"], key=env["SPEECH_KEY"]) as client,
        ):
            urls = [audio.add(f"calls/{i}.wav", clip.read_bytes()) for i in range(10)]
            jobs: list[str] = []
            heard: list[str] = []

            async def fast() -> None:
                async with client.transcribe_many([clip] * 10, concurrency=10) as outcomes:
                    heard.extend([item.result.text async for item in outcomes])

            async def submit(url: str) -> None:
                job = await client.transcriptions.submit(content_urls=[url], locale="en-US")
                jobs.append(job.id)

            async with anyio.create_task_group() as tg:
                tg.start_soon(fast)
                for url in urls:
                    tg.start_soon(submit, url)
            async with client.transcriptions.wait_many(jobs) as outcomes:
                ended = [outcome async for outcome in outcomes]
            assert all(outcome.ok for outcome in ended), [o.error for o in ended]
            for job in jobs:
                async for result in client.transcriptions.results(job):
                    heard.append(result.combined_recognized_phrases[0].display)
        assert heard == ["Tomorrow morning."] * 20
        assert process.poll() is None  # still serving
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err


@needs_pocketsphinx
async def test_stopping_the_emulator_ends_the_decodes_still_running(
    sample_wav: Path, tmp_path: Path
) -> None:
    """A decode of a long file would otherwise keep the program alive after the emulator
    stopped (``speechrest emulator`` took 45 s to exit on Ctrl+C during three of them)."""
    with wave.open(str(sample_wav)) as w:
        params, frames = w.getparams(), w.readframes(w.getnframes())
    with wave.open(str(tmp_path / "long.wav"), "wb") as w:
        w.setparams(params)
        w.writeframes(frames * 20)  # a minute of speech: many seconds to decode
    recognizer = PocketSphinxRecognizer(workers=1)
    emulator = SpeechEmulator(recognizer=recognizer)
    await emulator.start()
    async with (
        SpeechClient(emulator.endpoint, key=emulator.key, max_retries=0) as client,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(client.transcribe, tmp_path / "long.wav")
        while not recognizer._pool._busy:
            await anyio.sleep(0.01)
        [decoding] = recognizer._pool._busy
        tg.cancel_scope.cancel()
    await emulator.stop()
    assert decoding._process.poll() is not None  # ended, not left decoding
    assert not recognizer._pool._busy and not recognizer._pool._idle
