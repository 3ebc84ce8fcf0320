"""Recognizers: what the emulator "hears". Deterministic by default, scriptable in tests.

Also what fast and batch transcription both make of the phrases heard: profanity
filtering and word timings.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs

from ._audio import AudioInfo

__all__ = [
    "PROFANITY_MODES",
    "DeterministicRecognizer",
    "RecognizedPhrase",
    "RecognizedWord",
    "Recognizer",
    "ScriptedRecognizer",
    "filter_profanity",
    "heard_locale",
    "machine_cores",
    "speaker_of",
    "words_of",
]

_VOCABULARY = (
    "the quick brown fox jumps over lazy dog speech service weather today meeting "
    "customer order number please thank you hello world account balance support team"
).split()
_PROFANITY = frozenset({"damn", "hell", "crap"})
PROFANITY_MODES = ("None", "Removed", "Tags", "Masked")
"""The values of ``profanityFilterMode``."""


@attrs.frozen(kw_only=True)
class RecognizedWord:
    """One word with its timing, for recognizers that know where each word is."""

    text: str
    offset_ms: int
    duration_ms: int


@attrs.frozen(kw_only=True)
class RecognizedPhrase:
    """One phrase the recognizer heard."""

    text: str
    offset_ms: int
    duration_ms: int
    channel: int = 0
    speaker: int | None = None
    """The speaker, numbered from 0 (the emulator numbers speakers as each API does); when
    absent and diarization is on, phrases take turns among the speakers."""
    confidence: float = 0.9
    locale: str = "en-US"
    """The locale heard (see :func:`heard_locale`)."""
    words: tuple[RecognizedWord, ...] | None = None
    """Word timings; when absent, the words are spread evenly over the phrase."""


class Recognizer(Protocol):
    """Turns audio into phrases. ``locales`` are the candidates the caller gave.

    The emulator calls ``recognize`` in worker threads, several at once (as many as the
    machine has cores), so that slow recognition never stalls the other requests: it
    must be safe to call from several threads at a time. A recognizer that also has a
    ``close()`` method is closed when the emulator stops.
    """

    def recognize(self, audio: AudioInfo, locales: list[str]) -> list[RecognizedPhrase]:
        """The phrases heard in ``audio`` (a probed WAV file on disk), on any channel."""
        ...


def machine_cores() -> int:
    """How many cores this process may run on (at least 1)."""
    counter = getattr(os, "process_cpu_count", None)  # Python 3.13
    if counter is not None:
        return int(counter() or 1)
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def heard_locale(audio: AudioInfo, locales: list[str]) -> str:
    """The locale a recognizer that cannot tell languages apart says it hears: the language
    the audio is tagged with (``make_wav(language=...)``, a RIFF ``ILNG`` or a ``language``
    tag), else the first candidate, else ``en-US``."""
    return audio.language or (locales[0] if locales else "en-US")


def speaker_of(phrase: RecognizedPhrase, index: int, speakers: int) -> int:
    """The 0-based speaker of the ``index``-th phrase: the recognizer's, else in turns."""
    return phrase.speaker if phrase.speaker is not None else index % speakers


def split_text(
    text: str, audio: AudioInfo, locale: str, *, channel: int = 0
) -> list[RecognizedPhrase]:
    """Spread ``text`` over the audio's duration as phrases (one per sentence)."""
    sentences = [s.strip() for s in text.replace("?", "?|").replace(".", ".|").split("|")]
    sentences = [s for s in sentences if s]
    if not sentences:
        return []
    total_words = sum(len(s.split()) for s in sentences)
    per_word = max(1, audio.duration_ms // max(1, total_words))
    phrases, offset = [], 0
    for sentence in sentences:
        duration = per_word * len(sentence.split())
        phrases.append(
            RecognizedPhrase(
                text=sentence,
                offset_ms=offset,
                duration_ms=duration,
                channel=channel,
                locale=locale,
            )
        )
        offset += duration
    return phrases


class DeterministicRecognizer:
    """The default recognizer.

    A WAV that carries its transcript in a RIFF ``INFO`` comment (``ICMT``) is "heard" as
    that text; any other audio gets pseudo-words derived from a hash of its content, about
    two words per second. The same audio always gives the same transcript.
    """

    def recognize(self, audio: AudioInfo, locales: list[str]) -> list[RecognizedPhrase]:
        """The embedded transcript (or pseudo-words) of each of the first two channels."""
        locale = heard_locale(audio, locales)
        phrases: list[RecognizedPhrase] = []
        for channel in range(min(audio.channels, 2)):
            text = audio.comment or self._pseudo_text(audio, channel)
            phrases += split_text(text, audio, locale, channel=channel)
        return phrases

    @staticmethod
    def _pseudo_text(audio: AudioInfo, channel: int) -> str:
        h = hashlib.sha256()
        with audio.path.open("rb") as f:
            h.update(f.read(65536))
        h.update(bytes([channel]))
        digest = h.digest()
        count = max(1, min(len(digest), audio.duration_ms // 500))
        words = [_VOCABULARY[b % len(_VOCABULARY)] for b in digest[:count]]
        return " ".join(words).capitalize() + "."


class ScriptedRecognizer:
    """Transcripts chosen by the test: by file name (or URL), or by a function.

    ``ScriptedRecognizer({"call.wav": "Hello there."}, default="...")`` or
    ``ScriptedRecognizer(lambda audio: "...")``. Unknown names fall back to ``default``
    (or the deterministic recognizer when no default is given).
    """

    def __init__(
        self,
        script: Mapping[str, str] | Callable[[AudioInfo], str],
        *,
        default: str | None = None,
    ) -> None:
        self._script = script
        self._default = default
        self._fallback = DeterministicRecognizer()

    def recognize(self, audio: AudioInfo, locales: list[str]) -> list[RecognizedPhrase]:
        """The scripted transcript of ``audio``, spread over its duration."""
        locale = heard_locale(audio, locales)
        if callable(self._script):
            text: str | None = self._script(audio)
        else:
            text = self._script.get(audio.name) or self._script.get(audio.name.rsplit("/", 1)[-1])
        if text is None:
            text = self._default
        if text is None:
            return self._fallback.recognize(audio, locales)
        return split_text(text, audio, locale)


# -- what the recognized phrases become in results ------------------------------------------


def filter_profanity(text: str, mode: str) -> str:
    """``text`` under a ``profanityFilterMode``: unchanged (``None``), words removed, tagged
    or masked ("replace profanity with asterisks": the letters, not the punctuation)."""
    if mode == "None":
        return text
    out = []
    for word in text.split():
        bare = word.strip(".,!?")
        if bare.lower() in _PROFANITY:
            if mode == "Removed":
                continue
            start = word.index(bare)
            tagged = f"<profanity>{bare}</profanity>" if mode == "Tags" else "*" * len(bare)
            word = word[:start] + tagged + word[start + len(bare) :]
        out.append(word)
    return " ".join(out)


def words_of(phrase: RecognizedPhrase, text: str) -> list[dict[str, Any]]:
    """The words of ``text`` (as written there: display or lexical form) with their timings:
    the recognizer's own, or spread evenly over the phrase."""
    tokens = text.split()
    if not tokens:
        return []
    if phrase.words is not None and len(phrase.words) == len(tokens):
        return [
            {"text": t, "offsetMilliseconds": w.offset_ms, "durationMilliseconds": w.duration_ms}
            for t, w in zip(tokens, phrase.words, strict=True)
        ]
    step = max(1, phrase.duration_ms // len(tokens))
    return [
        {"text": t, "offsetMilliseconds": phrase.offset_ms + i * step, "durationMilliseconds": step}
        for i, t in enumerate(tokens)
    ]
