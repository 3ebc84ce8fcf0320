"""An offline speech recognizer for the emulator, on PocketSphinx (``speechrest[local]``)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import subprocess
import sys
import threading
import weakref
from pathlib import Path
from typing import IO, Any

from ._audio import AudioInfo
from ._recognizer import (
    DeterministicRecognizer,
    RecognizedPhrase,
    RecognizedWord,
    Recognizer,
    machine_cores,
)

__all__ = ["PocketSphinxRecognizer", "best_local_recognizer", "pocketsphinx_available"]

_PAUSE_MS = 500
"""A silence at least this long ends a phrase."""
_WORKER = Path(__file__).with_name("_sphinx_worker.py")
"""The decoder process's script (it imports nothing of speechrest)."""
Segment = tuple[str, int, int, float]
"""A word PocketSphinx heard: (word, start ms, end ms, probability)."""


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

    Decoding runs in worker processes, one decoder each, at most ``workers`` at once (by
    default one per core this process may use): recognitions from any number of threads
    run in parallel on every core, and a decoder is never shared. A worker starts when it
    is first needed (loading the model takes a fraction of a second) and is kept for the
    next audio; :meth:`close` stops them (they start again if the recognizer is used
    again), as do the emulator when it stops, garbage collection, and the end of the
    program.
    """

    def __init__(self, *, fallback: Recognizer | None = None, workers: int | None = None) -> None:
        if not pocketsphinx_available():
            raise ImportError(
                "PocketSphinxRecognizer needs the pocketsphinx package: "
                "pip install 'speechrest[local]'"
            )
        if workers is not None and (
            isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
        ):
            raise ValueError(f"workers must be a positive integer, not {workers!r}")
        self._fallback = fallback or DeterministicRecognizer()
        self._pool = _DecoderPool(workers or machine_cores())
        weakref.finalize(self, self._pool.close)

    @property
    def workers(self) -> int:
        """The most decoder processes this recognizer runs at once."""
        return self._pool.size

    def __repr__(self) -> str:
        return "PocketSphinxRecognizer()"

    def recognize(self, audio: AudioInfo, locales: list[str]) -> list[RecognizedPhrase]:
        """The phrases spoken in ``audio`` (safe to call from any number of threads)."""
        if locales and not any(loc.lower().startswith("en") for loc in locales):
            return self._fallback.recognize(audio, locales)
        locale = next((loc for loc in locales if loc.lower().startswith("en")), "en-US")
        phrases: list[RecognizedPhrase] = []
        for channel in range(min(audio.channels, 2)):
            request = {
                "path": str(audio.path),
                "data_offset": audio.data_offset,
                "channels": audio.channels,
                "bits_per_sample": audio.bits_per_sample,
                "sample_rate": audio.sample_rate,
                "channel": channel,
            }
            phrases += _phrases(self._pool.decode(request), channel, locale)
        return phrases

    def close(self) -> None:
        """Stop the decoder processes (a recognition still running fails)."""
        self._pool.close()


def _phrases(segments: list[Segment], channel: int, locale: str) -> list[RecognizedPhrase]:
    """Words grouped into phrases at pauses; silences, sentence marks and fillers dropped."""
    groups: list[list[Segment]] = [[]]
    last_end = 0
    for word, start, end, prob in segments:
        if word.startswith(("<", "[", "+")):
            continue
        if groups[-1] and start - last_end >= _PAUSE_MS:
            groups.append([])
        groups[-1].append((word.split("(", 1)[0], start, end, prob))
        last_end = end
    return [_phrase(group, channel, locale) for group in groups if group]


def _phrase(group: list[Segment], channel: int, locale: str) -> RecognizedPhrase:
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


class _Worker:
    """One decoder process, used by one thread at a time."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(  # noqa: S603 - our own script, no shell
            [sys.executable, str(_WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="ascii",
        )

    def decode(self, request: dict[str, Any]) -> list[Segment]:
        stdin, stdout = self._pipes()
        try:
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
            line = stdout.readline()
        except (OSError, ValueError):  # a broken or closed pipe: the process is gone
            line = ""
        if not line:
            status = self._process.poll()
            raise RuntimeError(f"the PocketSphinx decoder process ended (exit status {status})")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"PocketSphinx could not decode the audio: {answer['error']}")
        return [(str(w), int(s), int(e), float(p)) for w, s, e, p in answer["segments"]]

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self._process.stdin is not None and self._process.stdout is not None
        return self._process.stdin, self._process.stdout

    def stop(self, *, kill: bool = False) -> None:
        """End the process: closing its input ends it once it is idle; ``kill`` ends it
        at once (a thread waiting for its answer then reads the end of the output)."""
        if kill:
            self._process.kill()
        else:
            try:
                self._pipes()[0].close()
            except OSError:
                self._process.kill()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def release(self) -> None:
        """Close our ends of its pipes once it has ended."""
        for pipe in self._pipes():
            with contextlib.suppress(OSError):  # (unsent input of a process that died)
                pipe.close()


class _DecoderPool:
    """At most ``size`` decoder processes, each used by one thread at a time."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()

    def decode(self, request: dict[str, Any]) -> list[Segment]:
        with self._slots:
            worker = self._take()
            try:
                segments = worker.decode(request)
            except BaseException:
                self._drop(worker)
                raise
            self._give_back(worker)
            return segments

    def _take(self) -> _Worker:
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        if worker is None:
            worker = _Worker()  # (outside the lock: other threads go on meanwhile)
        with self._lock:
            self._busy.add(worker)
        return worker

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            kept = worker in self._busy
            self._busy.discard(worker)
            if kept:
                self._idle.append(worker)
        if not kept:  # the pool was closed meanwhile
            _end(worker, kill=False)

    def _drop(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
        _end(worker, kill=True)

    def close(self) -> None:
        """Stop every worker: idle ones at once, busy ones killed (their thread fails)."""
        with self._lock:
            idle, busy = self._idle, self._busy
            self._idle, self._busy = [], set()
        for worker in busy:
            worker.stop(kill=True)  # its thread sees the end of output, then releases it
        for worker in idle:
            _end(worker, kill=False)


def _end(worker: _Worker, *, kill: bool) -> None:
    worker.stop(kill=kill)
    worker.release()
