"""The offline recognizer (``speechrest[local]``): real words from real speech."""

from __future__ import annotations

import importlib.util
import struct
import wave
from pathlib import Path

import attrs
import pytest

from speechrest import SpeechClient
from speechrest.testing import (
    DeterministicRecognizer,
    PocketSphinxRecognizer,
    SpeechEmulator,
    _local,
)

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


@needs_pocketsphinx
async def test_same_audio_same_result(recognizer, sample_wav: Path) -> None:
    from speechrest.testing._audio import probe_audio

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
