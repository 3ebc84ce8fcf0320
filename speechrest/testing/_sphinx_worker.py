"""One PocketSphinx decoder in a process of its own: the worker behind
:class:`~speechrest.testing.PocketSphinxRecognizer`.

Run as a script (``python _sphinx_worker.py``); it imports nothing of speechrest. It reads
one JSON request per line on standard input and answers each with one JSON line on standard
output, in order:

- request: ``{"path", "data_offset", "channels", "bits_per_sample", "sample_rate",
  "channel"}``: one channel of a PCM WAV file (``data_offset`` is where its samples start);
- answer: ``{"segments": [[word, start_ms, end_ms, probability], ...]}``, or
  ``{"error": "..."}`` when that audio could not be decoded (the worker goes on).

It exits when its standard input is closed (its parent stopped it, or died).

Why a process: PocketSphinx holds the GIL while it decodes, and one decoder must never be
used by two threads at once. One decoder per process lets decoding use every core, and the
emulator's event loop (and its threads) never wait for the GIL behind a decoder. Reading,
converting and resampling the samples happen here too, for the same reason.
"""

from __future__ import annotations

import array
import importlib
import json
import os
import struct
import sys
from typing import Any

__all__ = ["RATE", "decode", "pcm16_mono", "serve"]

RATE = 16000
"""The sample rate PocketSphinx's bundled model expects."""


def pcm16_mono(request: dict[str, Any]) -> bytes:
    """One channel of the request's WAV as 16 kHz, 16-bit little-endian PCM."""
    channels, width = int(request["channels"]), int(request["bits_per_sample"]) // 8
    with open(request["path"], "rb") as f:
        f.seek(int(request["data_offset"]) - 4)
        (size,) = struct.unpack("<I", f.read(4))
        data = f.read(size)
    data = data[: len(data) - len(data) % (width * channels)]
    if width == 1:
        samples = array.array("h", ((b - 128) << 8 for b in data))
    else:  # keep the two most significant bytes of each little-endian sample
        raw = bytearray(len(data) // width * 2)
        raw[0::2] = data[width - 2 :: width]
        raw[1::2] = data[width - 1 :: width]
        samples = array.array("h", raw)
    if sys.byteorder == "big":
        samples.byteswap()
    mono = samples[int(request["channel"]) :: channels]
    rate = int(request["sample_rate"])
    if rate != RATE and mono:
        mono = _resample(mono, rate / RATE)
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


def decode(decoder: Any, pcm: bytes) -> list[list[Any]]:
    """The segments PocketSphinx hears in ``pcm``: ``[word, start_ms, end_ms, prob]``."""
    decoder.reinit_feat()  # no adaptation carried over: the same audio, the same words
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()
    ms_per_frame = 1000 / int(decoder.config["frate"])
    return [
        [
            str(seg.word),
            int(seg.start_frame * ms_per_frame),
            int((seg.end_frame + 1) * ms_per_frame),
            float(seg.prob),
        ]
        for seg in decoder.seg()
    ]


def serve() -> None:
    """Answer requests on standard input until it is closed."""
    # The answers get a private copy of standard output; whatever a library prints goes to
    # standard error instead, so that nothing can corrupt the answers.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    pocketsphinx: Any = importlib.import_module("pocketsphinx")  # untyped; speechrest[local]
    decoder = pocketsphinx.Decoder(samprate=RATE, loglevel="FATAL")
    for line in sys.stdin:
        try:
            answer: dict[str, Any] = {"segments": decode(decoder, pcm16_mono(json.loads(line)))}
        except Exception as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    serve()
