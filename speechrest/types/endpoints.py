"""Endpoints: deployed custom models for real-time recognition (``Endpoints_*``)."""

from __future__ import annotations

from datetime import datetime

import attrs

from ._common import EntityError, EntityReference, Identified, Status

__all__ = [
    "Endpoint",
    "EndpointLinks",
    "EndpointProperties",
    "EndpointPropertiesUpdate",
    "EndpointUpdate",
]


@attrs.frozen(kw_only=True)
class EndpointLinks:
    """Links of an endpoint (``links``)."""

    web_socket: str | None = None
    """The Speech SDK endpoint (``wss://...``) for recognition with this deployment."""


@attrs.frozen(kw_only=True)
class EndpointProperties:
    """Whether an endpoint logs what it receives, and why deploying it failed (``properties``)."""

    logging_enabled: bool | None = None
    """Whether audio and transcriptions sent to the endpoint are logged."""
    error: EntityError | None = None
    """Why the deployment failed, when it did."""


@attrs.frozen(kw_only=True)
class Endpoint(Identified):
    """A deployment of a model. Its ``status`` ends ``Succeeded`` once deployed."""

    self_: str | None = None
    """The endpoint's URL."""
    model: EntityReference | None = None
    """The deployed model (custom or base)."""
    project: EntityReference | None = None
    """The project the endpoint belongs to."""
    display_name: str
    """The display name (at least one character)."""
    description: str | None = None
    """A description."""
    custom_properties: dict[str, str] | None = None
    """Up to 10 entries; keys up to 64 characters, values up to 256."""
    locale: str
    """The locale, e.g. ``en-US``."""
    created_date_time: datetime | None = None
    """When the endpoint was created."""
    last_action_date_time: datetime | None = None
    """When the current status was entered."""
    properties: EndpointProperties | None = None
    """Logging and error."""
    links: EndpointLinks | None = None
    """The recognition endpoint."""
    status: Status | None = None
    """``NotStarted``, ``Running``, ``Succeeded`` or ``Failed``."""


@attrs.frozen(kw_only=True)
class EndpointPropertiesUpdate:
    """Note the wire name: ``contentLoggingEnabled`` here, ``loggingEnabled`` on the entity."""

    content_logging_enabled: bool | None = None
    """Turn content logging on or off."""


@attrs.frozen(kw_only=True)
class EndpointUpdate:
    """The body of ``Endpoints_Update``: only the fields given are changed."""

    display_name: str | None = None
    """A new display name."""
    description: str | None = None
    """A new description."""
    model: EntityReference | None = None
    """Deploy this model instead."""
    properties: EndpointPropertiesUpdate | None = None
    """Content logging."""
    project: EntityReference | None = None
    """Move the endpoint to this project."""
    custom_properties: dict[str, str] | None = None
    """New custom properties."""
