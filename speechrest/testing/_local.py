"""An offline speech recognizer for the emulator, on PocketSphinx (``speechrest[local]``)."""

from __future__ import annotations

import array
import importlib
import importlib.util
import struct
import sys
from typing import Any

from ._audio import AudioInfo
from ._recognizer import DeterministicRecognizer, RecognizedPhrase, RecognizedWord, Recognizer

__all__ = ["PocketSphinxRecognizer", "best_local_recognizer", "pocketsphinx_available"]

_RATE = 16000
_PAUSE_MS = 500
"""A silence at least this long ends a phrase."""


def pocketsphinx_available() -> bool:
    """Whether the ``pocketsphinx`` package (the ``speechrest[local]`` extra) is installed."""
    return importlib.util.find_spec("pocketsphinx") is not None


def best_local_recognizer() -> Recognizer:
    """:class:`PocketSphinxRecognizer` when it is installed, else the deterministic one."""
    return PocketSphinxRecognizer() if pocketsphinx_available() else DeterministicRecognizer()


class PocketSphinxRecognizer:
    """Hears the words actually spoken in the audio, offline, with PocketSphinx and the US
    English model that ships inside its wheel (``pip install 'speechrest[local]'``).

    ::

        SpeechEmulator(recognizer=PocketSphinxRecognizer())

    It decodes PCM WAV (8, 16, 24 or 32-bit integer samples, any rate, the first two
    channels separately), splits phrases at pauses and reports real word timings. Its
    accuracy is that of a small, old acoustic model: good on clear speech, poor on noisy
    calls. It knows English only: when the caller's candidate locales contain no English
    one, it falls back to ``fallback`` (the deterministic recognizer by default).
    """

    def __init__(self, *, fallback: Recognizer | None = None) -> None:
        if not pocketsphinx_available():
            raise ImportError(
                "PocketSphinxRecognizer needs the pocketsphinx package: "
                "pip install 'speechrest[local]'"
            )
        self._fallback = fallback or DeterministicRecognizer()
        self._decoder: Any = None

    def __repr__(self) -> str:
        return "PocketSphinxRecognizer()"

    def recognize(self, audio: AudioInfo, locales: list[str]) -> list[RecognizedPhrase]:
        if locales and not any(loc.lower().startswith("en") for loc in locales):
            return self._fallback.recognize(audio, locales)
        locale = next((loc for loc in locales if loc.lower().startswith("en")), "en-US")
        phrases: list[RecognizedPhrase] = []
        for channel in range(min(audio.channels, 2)):
            pcm = _pcm16_mono(audio, channel)
            phrases += self._decode(pcm, channel, locale)
        return phrases

    def _decode(self, pcm: bytes, channel: int, locale: str) -> list[RecognizedPhrase]:
        if self._decoder is None:
            pocketsphinx: Any = importlib.import_module("pocketsphinx")  # untyped
            self._decoder = pocketsphinx.Decoder(samprate=_RATE, loglevel="FATAL")
        decoder = self._decoder
        decoder.reinit_feat()  # no adaptation carried over: the same audio, the same words
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        ms_per_frame = 1000 / int(decoder.config["frate"])
        groups: list[list[tuple[str, int, int, float]]] = [[]]
        last_end = 0
        for seg in decoder.seg():
            word: str = seg.word
            if word.startswith(("<", "[", "+")):
                continue  # silence, sentence marks and fillers
            start = int(seg.start_frame * ms_per_frame)
            end = int((seg.end_frame + 1) * ms_per_frame)
            if groups[-1] and start - last_end >= _PAUSE_MS:
                groups.append([])
            groups[-1].append((word.split("(", 1)[0], start, end, float(seg.prob)))
            last_end = end
        return [_phrase(group, channel, locale) for group in groups if group]


def _phrase(
    group: list[tuple[str, int, int, float]], channel: int, locale: str
) -> RecognizedPhrase:
    words = [w for w, _, _, _ in group]
    text = " ".join(words)
    text = text[:1].upper() + text[1:] + "."
    start, end = group[0][1], group[-1][2]
    confidence = sum(p for _, _, _, p in group) / len(group)
    return RecognizedPhrase(
        text=text,
        offset_ms=start,
        duration_ms=end - start,
        channel=channel,
        confidence=round(min(1.0, max(0.0, confidence)), 4),
        locale=locale,
        words=tuple(RecognizedWord(text=w, offset_ms=s, duration_ms=e - s) for w, s, e, _ in group),
    )


def _pcm16_mono(audio: AudioInfo, channel: int) -> bytes:
    """One channel of the audio as 16 kHz, 16-bit little-endian PCM."""
    with audio.path.open("rb") as f:
        f.seek(audio.data_offset - 4)
        (size,) = struct.unpack("<I", f.read(4))
        data = f.read(size)
    width = audio.bits_per_sample // 8
    data = data[: len(data) - len(data) % (width * audio.channels)]
    if width == 1:
        samples = array.array("h", ((b - 128) << 8 for b in data))
    else:  # keep the two most significant bytes of each little-endian sample
        raw = bytearray(len(data) // width * 2)
        raw[0::2] = data[width - 2 :: width]
        raw[1::2] = data[width - 1 :: width]
        samples = array.array("h", raw)
    if sys.byteorder == "big":
        samples.byteswap()
    mono = samples[channel :: audio.channels]
    if audio.sample_rate != _RATE and mono:
        mono = _resample(mono, audio.sample_rate / _RATE)
    if sys.byteorder == "big":
        mono.byteswap()
    return mono.tobytes()


def _resample(samples: array.array[int], step: float) -> array.array[int]:
    """Resample by ``step`` input samples per output sample; averaging each window when
    downsampling is a crude low-pass filter, enough to keep speech recognizable."""
    count = int(len(samples) / step)
    if step <= 1:
        return array.array("h", (samples[int(i * step)] for i in range(count)))
    out = array.array("h", bytes(2 * count))
    for i in range(count):
        window = samples[int(i * step) : int((i + 1) * step)]
        out[i] = sum(window) // len(window)
    return out
