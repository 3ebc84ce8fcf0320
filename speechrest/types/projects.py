"""Projects: group the datasets, models, evaluations, endpoints and transcriptions of one
custom speech effort (``Projects_*``)."""

from __future__ import annotations

from datetime import datetime

import attrs

from ._common import Identified

__all__ = ["Project", "ProjectLinks", "ProjectUpdate"]


@attrs.frozen(kw_only=True)
class ProjectLinks:
    """Where the project's entities are listed."""

    evaluations: str | None = None
    """``Projects_ListEvaluations``."""
    datasets: str | None = None
    """``Projects_ListDatasets``."""
    models: str | None = None
    """``Projects_ListModels``."""
    endpoints: str | None = None
    """``Projects_ListEndpoints``."""
    transcriptions: str | None = None
    """``Projects_ListTranscriptions``."""


@attrs.frozen(kw_only=True)
class Project(Identified):
    """A custom speech project. It has no status: it exists once created."""

    self_: str | None = None
    """The project's URL."""
    display_name: str
    """The display name (at least one character)."""
    description: str | None = None
    """A description."""
    custom_properties: dict[str, str] | None = None
    """Up to 10 entries; keys up to 64 characters, values up to 256."""
    locale: str
    """The locale of the project's data, e.g. ``en-US``."""
    created_date_time: datetime | None = None
    """When the project was created."""
    links: ProjectLinks | None = None
    """Where the project's entities are listed."""
    foundry_project_name: str | None = None
    """The Azure AI Foundry project this project belongs to."""


@attrs.frozen(kw_only=True)
class ProjectUpdate:
    """The body of ``Projects_Update``: only the fields given are changed."""

    display_name: str | None = None
    """A new display name."""
    description: str | None = None
    """A new description."""
    custom_properties: dict[str, str] | None = None
    """New custom properties."""
    foundry_project_name: str | None = None
    """A new Azure AI Foundry project name."""
