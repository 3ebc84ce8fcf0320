"""Models and enums shared by every operation group."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Self

import attrs

from .._redact import redact_url

__all__ = [
    "BlockKind",
    "EntityError",
    "EntityReference",
    "File",
    "FileKind",
    "FileLinks",
    "FileProperties",
    "Identified",
    "ProfanityFilterMode",
    "PunctuationMode",
    "Status",
    "WireEnum",
    "url_repr",
]


def url_repr(value: object) -> str:
    """``repr()`` of a URL, or a list of URLs, with SAS signatures redacted (for attrs
    ``repr=``): models never show a usable signature."""
    if isinstance(value, list):
        return "[" + ", ".join(url_repr(v) for v in value) + "]"
    return repr(redact_url(value)) if isinstance(value, str) else repr(value)


class WireEnum(enum.StrEnum):
    """A string enum with the service's exact wire values.

    The service adds values over time: an unknown value does not fail, it becomes a
    pseudo-member that compares equal to its string (``is_known`` is then ``False``).
    """

    @classmethod
    def _missing_(cls, value: object) -> Self | None:
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member

    @property
    def is_known(self) -> bool:
        """Whether this value is one this version of speechrest knows."""
        return self._name_ in type(self).__members__

    @classmethod
    def parse(cls, value: Any, what: str) -> Self:
        """Validate caller input strictly: only known values are accepted."""
        for member in cls:
            if value == member.value:
                return member
        allowed = ", ".join(repr(m.value) for m in cls)
        raise ValueError(f"{what} must be one of {allowed}; got {value!r}")


@enum.unique
class Status(WireEnum):
    """Processing status of an entity (transcription, dataset, model, ...)."""

    NOT_STARTED = "NotStarted"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"

    @property
    def is_terminal(self) -> bool:
        """Whether the entity has ended (``Succeeded`` or ``Failed``)."""
        return self in (Status.SUCCEEDED, Status.FAILED)


@enum.unique
class ProfanityFilterMode(WireEnum):
    """How profanity is filtered: not at all (``None``), removed, tagged (``Tags``), or
    masked with ``*`` but for the first letter (``Masked``)."""

    NONE = "None"
    REMOVED = "Removed"
    TAGS = "Tags"
    MASKED = "Masked"


@enum.unique
class PunctuationMode(WireEnum):
    """Which punctuation is written: none, dictated marks only, automatic, or both."""

    NONE = "None"
    DICTATED = "Dictated"
    AUTOMATIC = "Automatic"
    DICTATED_AND_AUTOMATIC = "DictatedAndAutomatic"


@enum.unique
class FileKind(WireEnum):
    """What a file of a transcription, dataset, evaluation or model holds."""

    DATASET_REPORT = "DatasetReport"
    AUDIO = "Audio"
    LANGUAGE_DATA = "LanguageData"
    PRONUNCIATION_DATA = "PronunciationData"
    ACOUSTIC_DATA_ARCHIVE = "AcousticDataArchive"
    ACOUSTIC_DATA_TRANSCRIPTION_V2 = "AcousticDataTranscriptionV2"
    TRANSCRIPTION = "Transcription"
    TRANSCRIPTION_REPORT = "TranscriptionReport"
    EVALUATION_DETAILS = "EvaluationDetails"
    MODEL_REPORT = "ModelReport"
    OUTPUT_FORMATTING_DATA = "OutputFormattingData"


@enum.unique
class BlockKind(WireEnum):
    """Which block list of a dataset block upload (``Datasets_GetBlocks``): ``Latest`` is the
    uncommitted block if there is one, else the committed one."""

    COMMITTED = "Committed"
    UNCOMMITTED = "Uncommitted"
    LATEST = "Latest"


class Identified:
    """Gives an entity (or a reference to one) its ``id``: the last path segment of its
    ``self`` URL."""

    __slots__ = ()
    self_: str | None

    @property
    def id(self) -> str:
        """The id: the last path segment of ``self``."""
        return _id_from_url(self.self_ or "")


@attrs.frozen(kw_only=True)
class EntityReference(Identified):
    """A reference to another entity by its URL (``{"self": "..."}``)."""

    self_: str
    """The entity's URL."""


@attrs.frozen(kw_only=True)
class EntityError:
    """Why an entity ended in ``Failed`` (``properties.error``)."""

    code: str | None = None
    """The service's error code, e.g. ``InvalidRecordingsUri``."""
    message: str | None = None
    """A human-readable description."""


@attrs.frozen(kw_only=True)
class FileLinks:
    """Links of a file (``links``)."""

    content_url: str | None = attrs.field(default=None, repr=url_repr)
    """Where the file's content can be downloaded (a SAS URL: send no key)."""


@attrs.frozen(kw_only=True)
class FileProperties:
    """Size and audio duration of a file (``properties``)."""

    size: int | None = None
    """Size in bytes."""
    duration_ms: int | None = None
    """Audio duration, for audio files."""


@attrs.frozen(kw_only=True)
class File(Identified):
    """A file that belongs to a transcription, dataset, evaluation or model."""

    self_: str | None = None
    """The file's URL."""
    name: str | None = None
    """The file name, e.g. ``contenturl_0.json``."""
    kind: FileKind | None = None
    """What the file holds."""
    links: FileLinks | None = None
    """Links; ``links.content_url`` downloads the content."""
    properties: FileProperties | None = None
    """Size and duration."""
    created_date_time: datetime | None = None
    """When the file was created."""


def _id_from_url(url: str) -> str:
    path = url.split("?", 1)[0].rstrip("/")
    return path.rsplit("/", 1)[-1].split(":", 1)[0]
