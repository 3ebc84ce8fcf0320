"""Fast transcription (``Transcriptions_Transcribe``): request definition and result."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import TypedDict

import attrs

from . import _subtitles
from ._common import ProfanityFilterMode, WireEnum, url_repr

__all__ = [
    "ChannelCombinedPhrases",
    "EnhancedModeModelOptions",
    "EnhancedModeProperties",
    "EnhancedModeTimestampGranularity",
    "EnhancedModeTranscriptionStyle",
    "Phrase",
    "PhraseListProperties",
    "TranscribeDefinition",
    "TranscribeDiarizationProperties",
    "TranscribeOptions",
    "TranscribeResult",
    "Word",
]


@enum.unique
class EnhancedModeTimestampGranularity(WireEnum):
    """Which timestamps enhanced mode writes: per word, per segment, or none."""

    WORD = "word"
    SEGMENT = "segment"
    NONE = "none"


@enum.unique
class EnhancedModeTranscriptionStyle(WireEnum):
    """How enhanced mode words a transcript: as spoken (``verbatim``) or cleaned up."""

    VERBATIM = "verbatim"
    CLEAN = "clean"


@attrs.frozen(kw_only=True)
class TranscribeDiarizationProperties:
    """Diarization settings of a fast transcription (telling speakers apart)."""

    enabled: bool | None = None
    """Whether speakers are told apart."""
    max_speakers: int | None = None
    """The largest number of speakers to expect (2..35)."""


@attrs.frozen(kw_only=True)
class PhraseListProperties:
    """Phrase list settings of a fast transcription: words and phrases to favour."""

    phrases: list[str] | None = None
    """Words and phrases the recognizer should favour."""
    biasing_weight: float | None = None
    """How strongly to favour them."""


@attrs.frozen(kw_only=True)
class EnhancedModeModelOptions:
    """Options of the model used by enhanced mode."""

    timestamps: EnhancedModeTimestampGranularity | None = None
    """Timestamp granularity: ``word``, ``segment`` or ``none``."""
    transcribe_style: EnhancedModeTranscriptionStyle | None = None
    """``verbatim`` or ``clean``."""


@attrs.frozen(kw_only=True)
class EnhancedModeProperties:
    """Enhanced mode settings of a fast transcription (an LLM-based model that can also
    translate); give them to turn enhanced mode on."""

    enabled: bool | None = None
    """Turn the enhanced (LLM-based) mode on."""
    task: str | None = None
    """``transcribe`` or ``translate``."""
    target_language: str | None = None
    """Target language for ``translate``."""
    prompt: list[str] | None = None
    """Prompts that steer the enhanced model."""
    model: str | None = None
    """The enhanced model to use, e.g. ``mai-transcribe-2``."""
    model_options: EnhancedModeModelOptions | None = None
    """Options for that model."""


@attrs.frozen(kw_only=True)
class TranscribeDefinition:
    """The ``definition`` part of a fast transcription request."""

    locales: list[str] | None = None
    """Candidate locales; when omitted, the language is detected."""
    audio_url: str | None = attrs.field(default=None, repr=url_repr)
    """Transcribe audio from this URL instead of an uploaded file."""
    models: dict[str, str] | None = None
    """A custom model URL per locale."""
    profanity_filter_mode: ProfanityFilterMode | None = None
    """How profanity is handled."""
    diarization: TranscribeDiarizationProperties | None = None
    """Speaker separation."""
    channels: list[int] | None = None
    """0-based channels to transcribe separately (at most 2)."""
    phrase_list: PhraseListProperties | None = None
    """Phrase list biasing."""
    enhanced_mode: EnhancedModeProperties | None = None
    """Enhanced mode (transcribe or translate with an LLM-based model)."""


@attrs.frozen(kw_only=True)
class Word:
    """One word of a fast transcription phrase, with its timing."""

    text: str
    """The word."""
    offset_ms: int
    """Start, in milliseconds from the start of the audio."""
    duration_ms: int
    """Length in milliseconds."""


@attrs.frozen(kw_only=True)
class Phrase:
    """One recognized phrase of a fast transcription, with its timing, confidence, channel,
    speaker and words."""

    text: str
    """The recognized text of the phrase."""
    offset_ms: int
    """Start, in milliseconds from the start of the audio."""
    duration_ms: int
    """Length in milliseconds."""
    confidence: float
    """Confidence 0..1."""
    channel: int | None = None
    """The channel, when channels are transcribed separately."""
    speaker: int | None = None
    """The speaker label, with diarization."""
    words: list[Word] | None = None
    """Word timings."""
    locale: str | None = None
    """The locale detected for this phrase."""


@attrs.frozen(kw_only=True)
class ChannelCombinedPhrases:
    """The whole transcript of one channel (or of all of them) of a fast transcription."""

    text: str
    """The whole transcript of the channel."""
    channel: int | None = None
    """The channel, when channels are transcribed separately."""


@attrs.frozen(kw_only=True)
class TranscribeResult(_subtitles.Subtitles):
    """The result of a fast transcription; :meth:`to_srt` and :meth:`to_webvtt` make
    subtitles of it."""

    duration_ms: int
    """Audio duration in milliseconds."""
    combined_phrases: list[ChannelCombinedPhrases]
    """One full transcript per channel."""
    phrases: list[Phrase]
    """Recognized phrases with timings."""

    @property
    def text(self) -> str:
        """The whole transcript (channels joined by newlines)."""
        return "\n".join(c.text for c in self.combined_phrases)

    def _segments(self) -> list[_subtitles.Segment]:
        return [
            _subtitles.Segment(
                text=p.text,
                start_ms=p.offset_ms,
                end_ms=p.offset_ms + p.duration_ms,
                channel=p.channel,
                speaker=p.speaker,
                words=[
                    _subtitles.Timed(
                        text=w.text, start_ms=w.offset_ms, end_ms=w.offset_ms + w.duration_ms
                    )
                    for w in p.words
                ]
                if p.words
                else None,
            )
            for p in self.phrases
        ]


class TranscribeOptions(TypedDict, total=False):
    """The recognition options of ``SpeechClient.transcribe`` and ``transcribe_many``, as
    keyword arguments (all optional). Each sets a field of the request's
    :class:`TranscribeDefinition`; ``definition`` gives a whole one that they are merged
    over."""

    locales: Sequence[str] | str
    """Candidate locales, such as ``["en-US"]``; omit to detect the language."""
    diarization: bool
    """Tell speakers apart (``Phrase.speaker``)."""
    max_speakers: int
    """The most speakers to expect (2..35); turns diarization on."""
    channels: Sequence[int]
    """Transcribe these channels (0-based, at most 2) separately instead of merged."""
    profanity_filter_mode: ProfanityFilterMode | str
    """``None``, ``Removed``, ``Tags`` or ``Masked``."""
    phrase_list: Sequence[str]
    """Words and phrases the recognizer should favour."""
    phrase_list_weight: float
    """How strongly to favour them."""
    enhanced_mode: bool | EnhancedModeProperties
    """The enhanced (LLM-based) mode: True, or its properties (task, target language...)."""
    models: Mapping[str, str]
    """A custom model URL per locale."""
    definition: TranscribeDefinition
    """A whole definition; the other options are merged over it."""
