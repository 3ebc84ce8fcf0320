"""Batch transcription (``Transcriptions_Submit`` and friends): the job entity and its parts."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from ._common import (
    EntityError,
    EntityReference,
    Identified,
    ProfanityFilterMode,
    PunctuationMode,
    Status,
    WireEnum,
    url_repr,
)

__all__ = [
    "DiarizationProperties",
    "LanguageIdentificationMode",
    "LanguageIdentificationProperties",
    "Transcription",
    "TranscriptionLinks",
    "TranscriptionLocales",
    "TranscriptionProperties",
    "TranscriptionUpdate",
]


@enum.unique
class LanguageIdentificationMode(WireEnum):
    """How the language is identified: per phrase (``Continuous``) or once (``Single``)."""

    CONTINUOUS = "Continuous"
    SINGLE = "Single"


@attrs.frozen(kw_only=True)
class LanguageIdentificationProperties:
    """Language identification among candidate locales."""

    candidate_locales: list[str]
    """The locales to choose from: 2 to 10 in ``Continuous`` mode."""
    speech_model_mapping: dict[str, EntityReference] | None = None
    """A custom model per candidate locale; the base model is used for the others."""
    mode: LanguageIdentificationMode | None = None
    """``Continuous`` (the service's default) or ``Single``."""


@attrs.frozen(kw_only=True)
class DiarizationProperties:
    """Speaker separation."""

    enabled: bool | None = None
    """Whether speakers are told apart."""
    max_speakers: int | None = None
    """A hint for the largest number of speakers (2..35)."""


@attrs.frozen(kw_only=True)
class TranscriptionProperties:
    """Options of a batch transcription, and what the service reports back."""

    time_to_live_hours: int
    """Hours the job and its results are kept after it finishes (6..744)."""
    word_level_timestamps_enabled: bool | None = None
    """Whether result files carry word timings (``nBest[].words``)."""
    display_form_word_level_timestamps_enabled: bool | None = None
    """Whether result files carry display-form word timings (``nBest[].displayWords``)."""
    channels: list[int] | None = None
    """The 0-based channels to transcribe (the service's default is 0 and 1)."""
    punctuation_mode: PunctuationMode | None = None
    """How punctuation is produced."""
    profanity_filter_mode: ProfanityFilterMode | None = None
    """How profanity is handled."""
    destination_container_url: str | None = attrs.field(default=None, repr=url_repr)
    """A writable container for the results (they then outlive the time to live)."""
    language_identification: LanguageIdentificationProperties | None = None
    """Language identification among candidate locales."""
    diarization: DiarizationProperties | None = None
    """Speaker separation."""
    error: EntityError | None = None
    """Why the job failed (read-only; set when ``status`` is ``Failed``)."""
    duration_ms: int | None = None
    """Total audio duration transcribed, in milliseconds (read-only)."""


@attrs.frozen(kw_only=True)
class TranscriptionLinks:
    """Links of a transcription."""

    files: str | None = None
    """The URL of the job's file list (``Transcriptions_ListFiles``)."""


@attrs.frozen(kw_only=True)
class Transcription(Identified):
    """A batch transcription job."""

    display_name: str
    """The name shown in lists."""
    locale: str
    """The main locale; with language identification, the fallback locale."""
    properties: TranscriptionProperties
    """Options and service-reported values."""
    self_: str | None = None
    """The job's URL (read-only)."""
    description: str | None = None
    """Free text."""
    custom_properties: dict[str, str] | None = None
    """Up to 10 caller-defined entries (keys up to 64 characters, values up to 256)."""
    created_date_time: datetime | None = None
    """When the job was created (read-only)."""
    last_action_date_time: datetime | None = None
    """When the job entered its current status (read-only)."""
    status: Status | None = None
    """``NotStarted``, ``Running``, ``Succeeded`` or ``Failed`` (read-only)."""
    content_urls: list[str] | None = attrs.field(default=None, repr=url_repr)
    """Audio URLs to transcribe (request only: the service does not return them)."""
    content_container_url: str | None = attrs.field(default=None, repr=url_repr)
    """A blob container of audio to transcribe (request only)."""
    dataset: EntityReference | None = None
    """A dataset of audio to transcribe."""
    model: EntityReference | None = None
    """The model to use; the locale's base model when omitted."""
    project: EntityReference | None = None
    """The project the job belongs to."""
    links: TranscriptionLinks | None = None
    """Links; ``links.files`` lists the result files (read-only)."""


@attrs.frozen(kw_only=True)
class TranscriptionUpdate:
    """The fields ``Transcriptions_Update`` can change; unset fields are left as they are."""

    display_name: str | None = None
    """A new name."""
    description: str | None = None
    """A new description."""
    project: EntityReference | None = None
    """Move the job to this project."""
    custom_properties: dict[str, str] | None = None
    """Custom properties to set."""


@attrs.frozen(kw_only=True)
class TranscriptionLocales:
    """The locales of ``Transcriptions_ListSupportedLocales``."""

    transcribe: list[str] | None = None
    """Locales fast transcription (``Transcriptions_Transcribe``) supports."""
    submit: list[str] | None = None
    """Locales batch transcription (``Transcriptions_Submit``) supports."""
