"""The files a batch transcription produces: one result file per input, and a report.

These documents are what ``links.content_url`` of the job's files points to (kinds
``Transcription`` and ``TranscriptionReport``); the API's Swagger does not describe them.

Every time value comes in up to three forms: an ISO 8601 string (``offset``, ``duration``),
ticks (``*_in_ticks``, 1 tick = 100 ns; printed as ``7600000.0`` by the service, read as
int), and milliseconds (``*_milliseconds``, only in newer results and not always present).
Use the ``*_ms`` properties: they return the milliseconds, derived from the ticks when the
service left them out.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from ._common import Status, url_repr
from ._subtitles import Segment, Subtitles, Timed

__all__ = [
    "CombinedRecognizedPhrase",
    "DisplayWord",
    "NBestRecognition",
    "RecognizedPhrase",
    "RecognizedWord",
    "TimeSpan",
    "TranscriptionReport",
    "TranscriptionReportDetail",
    "TranscriptionResultFile",
    "ticks_to_ms",
]

TICKS_PER_MS = 10_000


def ticks_to_ms(ticks: int) -> int:
    """Milliseconds from ticks (1 ms = 10,000 ticks), rounded to the nearest."""
    return (ticks + TICKS_PER_MS // 2) // TICKS_PER_MS


@attrs.frozen(kw_only=True)
class TimeSpan:
    """Where a phrase or word stands in the audio, in every form the service writes."""

    offset: str
    """Start from the beginning of the audio, ISO 8601 (``PT0.09S``)."""
    duration: str
    """Length, ISO 8601."""
    offset_in_ticks: int
    """Start, in ticks."""
    duration_in_ticks: int
    """Length, in ticks."""
    offset_milliseconds: int | None = None
    """Start in milliseconds, when the service sent it (see :attr:`offset_ms`)."""
    duration_milliseconds: int | None = None
    """Length in milliseconds, when the service sent it (see :attr:`duration_ms`)."""

    @property
    def offset_ms(self) -> int:
        """Start in milliseconds (derived from the ticks when not sent)."""
        m = self.offset_milliseconds
        return m if m is not None else ticks_to_ms(self.offset_in_ticks)

    @property
    def duration_ms(self) -> int:
        """Length in milliseconds (derived from the ticks when not sent)."""
        m = self.duration_milliseconds
        return m if m is not None else ticks_to_ms(self.duration_in_ticks)


@attrs.frozen(kw_only=True)
class RecognizedWord(TimeSpan):
    """One word in lexical form with its timing (``nBest[].words[]``)."""

    word: str
    """The word, lexical form (``hello``)."""
    confidence: float | None = None
    """Confidence 0..1."""


@attrs.frozen(kw_only=True)
class DisplayWord(TimeSpan):
    """One word in display form with its timing (``nBest[].displayWords[]``)."""

    display_text: str
    """The word as displayed, punctuation attached (``world.``)."""


@attrs.frozen(kw_only=True)
class NBestRecognition:
    """One hypothesis for a phrase; the first of ``n_best`` is the one chosen."""

    confidence: float
    """Confidence 0..1."""
    lexical: str
    """The words as spoken: no punctuation, no capitals."""
    itn: str
    """Inverse-text-normalized form (numbers, dates, abbreviations rewritten)."""
    masked_itn: str
    """The ITN form with profanity masked."""
    display: str
    """Display form: ITN with punctuation and capitals."""
    words: list[RecognizedWord] | None = None
    """Word timings (lexical form), when word-level timestamps were requested."""
    display_words: list[DisplayWord] | None = None
    """Word timings (display form), when display-form word-level timestamps were requested."""


@attrs.frozen(kw_only=True)
class RecognizedPhrase(TimeSpan):
    """One recognized phrase (utterance)."""

    recognition_status: str
    """``Success`` for a usable phrase; any other value means it was not recognized."""
    channel: int
    """The audio channel (0 = left or mono, 1 = right)."""
    n_best: list[NBestRecognition] | None = None
    """Hypotheses, the chosen one first (not sorted by confidence)."""
    speaker: int | None = None
    """The speaker label, with diarization."""
    locale: str | None = None
    """The locale detected for this phrase, with language identification."""

    @property
    def succeeded(self) -> bool:
        """Whether the phrase was recognized (``recognition_status == "Success"``)."""
        return self.recognition_status == "Success"

    @property
    def best(self) -> NBestRecognition | None:
        """The chosen hypothesis (``n_best[0]``), if any."""
        return self.n_best[0] if self.n_best else None

    @property
    def text(self) -> str:
        """The display text of the chosen hypothesis ("" when there is none)."""
        best = self.best
        return best.display if best is not None else ""


@attrs.frozen(kw_only=True)
class CombinedRecognizedPhrase:
    """The whole transcript of one channel."""

    channel: int | None = None
    """The audio channel."""
    lexical: str | None = None
    """Lexical form."""
    itn: str | None = None
    """Inverse-text-normalized form."""
    masked_itn: str | None = None
    """ITN with profanity masked."""
    display: str | None = None
    """Display form."""


@attrs.frozen(kw_only=True)
class TranscriptionResultFile(Subtitles):
    """The result of one input of a batch transcription (a file of kind ``Transcription``);
    :meth:`to_srt` and :meth:`to_webvtt` make subtitles of it."""

    source: str = attrs.field(repr=url_repr)
    """The input this result belongs to: the content URL as given, or the blob of a
    container. It is the only link between a result and its audio."""
    timestamp: datetime
    """When the result was created."""
    duration_in_ticks: int
    """Audio duration, in ticks."""
    duration: str
    """Audio duration, ISO 8601 (``PT2.58S``)."""
    combined_recognized_phrases: list[CombinedRecognizedPhrase]
    """One full transcript per channel."""
    recognized_phrases: list[RecognizedPhrase]
    """Phrases of every channel, with timings."""
    duration_milliseconds: int | None = None
    """Audio duration in milliseconds, when the service sent it (see :attr:`duration_ms`)."""

    @property
    def duration_ms(self) -> int:
        """Audio duration in milliseconds (derived from the ticks when not sent)."""
        m = self.duration_milliseconds
        return m if m is not None else ticks_to_ms(self.duration_in_ticks)

    @property
    def text(self) -> str:
        """The display transcript (channels joined by newlines)."""
        return "\n".join(c.display or "" for c in self.combined_recognized_phrases)

    def _segments(self) -> list[Segment]:
        segments = []
        for p in self.recognized_phrases:
            best = p.best
            if not p.succeeded or best is None:
                continue
            words: list[Timed] | None = None
            if best.display_words:
                words = [_timed(w.display_text, w) for w in best.display_words]
            elif best.words:
                words = [_timed(w.word, w) for w in best.words]
            segments.append(
                Segment(
                    text=best.display,
                    start_ms=p.offset_ms,
                    end_ms=p.offset_ms + p.duration_ms,
                    channel=p.channel,
                    speaker=p.speaker,
                    words=words,
                )
            )
        return segments


def _timed(text: str, word: RecognizedWord | DisplayWord) -> Timed:
    return Timed(text=text, start_ms=word.offset_ms, end_ms=word.offset_ms + word.duration_ms)


@attrs.frozen(kw_only=True)
class TranscriptionReportDetail:
    """The outcome of one input in the report."""

    status: Status
    """``Succeeded`` or ``Failed``."""
    source: str | None = attrs.field(default=None, repr=url_repr)
    """The input URL (or blob), as in the result file's ``source``."""
    source_url: str | None = attrs.field(default=None, repr=url_repr)
    """The input URL under its older name (some reports use it instead of ``source``)."""
    error_kind: str | None = None
    """An error category, for a failed input."""
    error_message: str | None = None
    """Why the input failed."""

    @property
    def input_url(self) -> str | None:
        """``source``, or ``source_url`` in older reports."""
        return self.source if self.source is not None else self.source_url

    @property
    def ok(self) -> bool:
        """Whether this input was transcribed."""
        return self.status == Status.SUCCEEDED


@attrs.frozen(kw_only=True)
class TranscriptionReport:
    """The job report (the file of kind ``TranscriptionReport``): one entry per input,
    including the inputs that failed, which have no result file."""

    details: list[TranscriptionReportDetail]
    """One entry per input."""
    successful_transcriptions_count: int | None = None
    """Inputs transcribed."""
    failed_transcriptions_count: int | None = None
    """Inputs that failed."""

    @property
    def failed(self) -> list[TranscriptionReportDetail]:
        """The entries of the inputs that failed."""
        return [d for d in self.details if not d.ok]
