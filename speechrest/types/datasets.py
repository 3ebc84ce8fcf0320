"""Datasets: training and test data for custom speech (``Datasets_*``)."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

from ._common import (
    BlockKind,
    EntityError,
    EntityReference,
    Identified,
    Status,
    WireEnum,
    url_repr,
)

__all__ = [
    "CommitBlocksEntry",
    "Dataset",
    "DatasetKind",
    "DatasetLinks",
    "DatasetLocales",
    "DatasetProperties",
    "DatasetUpdate",
    "ResponseBlock",
    "TextNormalizationKind",
    "UploadedBlocks",
]


@enum.unique
class DatasetKind(WireEnum):
    """What a dataset holds."""

    LANGUAGE = "Language"
    ACOUSTIC = "Acoustic"
    PRONUNCIATION = "Pronunciation"
    AUDIO_FILES = "AudioFiles"
    LANGUAGE_MARKDOWN = "LanguageMarkdown"
    OUTPUT_FORMATTING = "OutputFormatting"


@enum.unique
class TextNormalizationKind(WireEnum):
    """How the text of a dataset is normalized."""

    DEFAULT = "Default"
    NONE = "None"


DatasetLocales = dict[DatasetKind, list[str]]
"""``Datasets_ListSupportedLocales``: the supported locales of each dataset kind."""


@attrs.frozen(kw_only=True)
class DatasetLinks:
    """Links of a dataset (``links``): its files and, for a block upload, its blocks."""

    files: str | None = None
    """``Datasets_ListFiles``."""
    commit_blocks: str | None = None
    """``Datasets_CommitBlocks`` (datasets created for a block upload)."""
    list_blocks: str | None = None
    """``Datasets_GetBlocks`` (datasets created for a block upload)."""
    upload_blocks: str | None = None
    """``Datasets_UploadBlock`` (datasets created for a block upload)."""


@attrs.frozen(kw_only=True)
class DatasetProperties:
    """What processing a dataset found: accepted and rejected lines, audio duration, text
    normalization, and why it failed (``properties``)."""

    accepted_line_count: int | None = None
    """Lines (or utterances) accepted."""
    rejected_line_count: int | None = None
    """Lines (or utterances) rejected."""
    duration_ms: int | None = None
    """Total audio duration, for datasets with audio."""
    text_normalization_kind: TextNormalizationKind | None = None
    """How the text was normalized."""
    error: EntityError | None = None
    """Why processing failed, when it did."""


@attrs.frozen(kw_only=True)
class Dataset(Identified):
    """A dataset. Its ``status`` ends ``Succeeded`` once the data is processed."""

    self_: str | None = None
    """The dataset's URL."""
    display_name: str
    """The display name (at least one character)."""
    description: str | None = None
    """A description."""
    custom_properties: dict[str, str] | None = None
    """Up to 10 entries; keys up to 64 characters, values up to 256."""
    locale: str
    """The locale of the data, e.g. ``en-US``."""
    created_date_time: datetime | None = None
    """When the dataset was created."""
    last_action_date_time: datetime | None = None
    """When the current status was entered."""
    kind: DatasetKind
    """What the dataset holds."""
    project: EntityReference | None = None
    """The project the dataset belongs to."""
    links: DatasetLinks | None = None
    """Files and, for block uploads, the block operations."""
    properties: DatasetProperties | None = None
    """Processing results."""
    content_url: str | None = attrs.field(default=None, repr=url_repr)
    """Where the data was imported from (datasets not uploaded in blocks)."""
    status: Status | None = None
    """``NotStarted``, ``Running``, ``Succeeded`` or ``Failed``."""


@attrs.frozen(kw_only=True)
class DatasetUpdate:
    """The body of ``Datasets_Update``: only the fields given are changed."""

    display_name: str | None = None
    """A new display name."""
    description: str | None = None
    """A new description."""
    project: EntityReference | None = None
    """Move the dataset to this project."""
    custom_properties: dict[str, str] | None = None
    """New custom properties."""


@attrs.frozen(kw_only=True)
class ResponseBlock:
    """One uploaded block."""

    name: str | None = None
    """The block id (Base64)."""
    size: int | None = None
    """Size in bytes."""


@attrs.frozen(kw_only=True)
class UploadedBlocks:
    """``Datasets_GetBlocks``: the blocks uploaded so far."""

    committed_blocks: list[ResponseBlock] | None = None
    """Blocks already committed."""
    uncommitted_blocks: list[ResponseBlock] | None = None
    """Blocks uploaded but not committed yet."""


@attrs.frozen(kw_only=True)
class CommitBlocksEntry:
    """One entry of the ``Datasets_CommitBlocks`` block list."""

    kind: BlockKind
    """Which block list the block is taken from."""
    id: str
    """The block id, as uploaded."""
