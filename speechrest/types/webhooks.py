"""Web hooks: registrations that make the service POST notifications (``WebHooks_*``)."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Self

import attrs

from ._common import EntityError, Identified, Status, WireEnum, url_repr

__all__ = [
    "WebHook",
    "WebHookEventKind",
    "WebHookEvents",
    "WebHookLinks",
    "WebHookProperties",
    "WebHookPropertiesUpdate",
    "WebHookUpdate",
]


@enum.unique
class WebHookEventKind(WireEnum):
    """An event a web hook can be registered for (the ``X-MicrosoftSpeechServices-Event``
    header of a notification). ``Completion`` covers both ``Succeeded`` and ``Failed``."""

    DATASET_CREATION = "datasetCreation"
    DATASET_PROCESSING = "datasetProcessing"
    DATASET_COMPLETION = "datasetCompletion"
    DATASET_DELETION = "datasetDeletion"
    MODEL_CREATION = "modelCreation"
    MODEL_PROCESSING = "modelProcessing"
    MODEL_COMPLETION = "modelCompletion"
    MODEL_DELETION = "modelDeletion"
    EVALUATION_CREATION = "evaluationCreation"
    EVALUATION_PROCESSING = "evaluationProcessing"
    EVALUATION_COMPLETION = "evaluationCompletion"
    EVALUATION_DELETION = "evaluationDeletion"
    TRANSCRIPTION_CREATION = "transcriptionCreation"
    TRANSCRIPTION_PROCESSING = "transcriptionProcessing"
    TRANSCRIPTION_COMPLETION = "transcriptionCompletion"
    TRANSCRIPTION_DELETION = "transcriptionDeletion"
    ENDPOINT_CREATION = "endpointCreation"
    ENDPOINT_PROCESSING = "endpointProcessing"
    ENDPOINT_COMPLETION = "endpointCompletion"
    ENDPOINT_DELETION = "endpointDeletion"
    PING = "ping"
    CHALLENGE = "challenge"

    @property
    def field(self) -> str:
        """The attribute of :class:`WebHookEvents` for this kind (``dataset_creation``)."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.value).lower()


@attrs.frozen(kw_only=True)
class WebHookEvents:
    """Which events a web hook receives: ``True`` for each one wanted.

    Build one from kinds with ``WebHookEvents.of(["transcriptionCompletion", ...])``.
    """

    dataset_creation: bool | None = None
    """A dataset was created."""
    dataset_processing: bool | None = None
    """A dataset started processing."""
    dataset_completion: bool | None = None
    """A dataset finished processing (Succeeded or Failed)."""
    dataset_deletion: bool | None = None
    """A dataset was deleted."""
    model_creation: bool | None = None
    """A model was created (training requested, or copied in)."""
    model_processing: bool | None = None
    """A model started training."""
    model_completion: bool | None = None
    """A model finished training (Succeeded or Failed)."""
    model_deletion: bool | None = None
    """A model was deleted."""
    evaluation_creation: bool | None = None
    """An evaluation was created."""
    evaluation_processing: bool | None = None
    """An evaluation started running."""
    evaluation_completion: bool | None = None
    """An evaluation finished (Succeeded or Failed)."""
    evaluation_deletion: bool | None = None
    """An evaluation was deleted."""
    transcription_creation: bool | None = None
    """A batch transcription was submitted."""
    transcription_processing: bool | None = None
    """A batch transcription started running."""
    transcription_completion: bool | None = None
    """A batch transcription finished (Succeeded or Failed)."""
    transcription_deletion: bool | None = None
    """A batch transcription was deleted."""
    endpoint_creation: bool | None = None
    """An endpoint was created."""
    endpoint_processing: bool | None = None
    """An endpoint started deploying."""
    endpoint_completion: bool | None = None
    """An endpoint finished deploying (Succeeded or Failed)."""
    endpoint_deletion: bool | None = None
    """An endpoint was deleted."""
    ping: bool | None = None
    """Ping events (``WebHooks_Ping``)."""
    challenge: bool | None = None
    """The registration challenge (always sent, whatever this says)."""

    @classmethod
    def of(cls, kinds: Iterable[WebHookEventKind | str]) -> Self:
        """Events with exactly ``kinds`` turned on; raises ValueError for an unknown kind."""
        chosen = [WebHookEventKind.parse(kind, "a web hook event kind") for kind in kinds]
        return cls(**{kind.field: True for kind in chosen})

    @property
    def kinds(self) -> list[WebHookEventKind]:
        """The event kinds turned on."""
        return [kind for kind in WebHookEventKind if getattr(self, kind.field) is True]

    def __contains__(self, kind: object) -> bool:
        return kind in self.kinds


@attrs.frozen(kw_only=True)
class WebHookLinks:
    """Action links. Build the ping and test URLs from the id rather than trusting these:
    the service's own examples have them swapped."""

    test: str | None = None
    """``WebHooks_Test``."""
    ping: str | None = None
    """``WebHooks_Ping``."""


@attrs.frozen(kw_only=True)
class WebHookProperties:
    """A web hook's API version, signing secret and error (``properties``)."""

    api_version: str | None = None
    """The API version the hook was created with; it fixes the notifications' shape."""
    secret: str | None = attrs.field(default=None, repr=False)
    """The key of the ``X-MicrosoftSpeechServices-Signature`` HMAC (never shown in repr)."""
    error: EntityError | None = None
    """Why the hook is ``Failed`` (the challenge or deliveries failed)."""


@attrs.frozen(kw_only=True)
class WebHookPropertiesUpdate:
    """A change to a web hook's properties (its secret)."""

    secret: str | None = attrs.field(default=None, repr=False)
    """A new secret; an empty string stops signing."""


@attrs.frozen(kw_only=True)
class WebHook(Identified):
    """A web hook registration. ``status`` is ``NotStarted`` until the challenge to
    ``web_url`` succeeds, then ``Succeeded``; ``Failed`` when the challenge or repeated
    deliveries fail (PATCH ``web_url`` to recover: ``client.webhooks.ensure_active``)."""

    self_: str | None = None
    """The web hook's URL."""
    display_name: str
    """The display name."""
    description: str | None = None
    """A description."""
    custom_properties: dict[str, str] | None = None
    """Up to 10 entries; keys up to 64 characters, values up to 256."""
    properties: WebHookProperties | None = None
    """API version, secret and error."""
    web_url: str = attrs.field(repr=url_repr)
    """Where notifications are POSTed."""
    events: WebHookEvents
    """The events the hook receives."""
    created_date_time: datetime | None = None
    """When the hook was created."""
    last_action_date_time: datetime | None = None
    """When the current status was entered."""
    status: Status | None = None
    """``NotStarted``, ``Succeeded`` (active) or ``Failed``."""
    links: WebHookLinks | None = None
    """Ping and test links (see :class:`WebHookLinks`)."""


@attrs.frozen(kw_only=True)
class WebHookUpdate:
    """The body of ``WebHooks_Update``: only the fields given are changed. A new
    ``web_url`` makes the service challenge it again."""

    display_name: str | None = None
    """A new display name."""
    description: str | None = None
    """A new description."""
    web_url: str | None = attrs.field(default=None, repr=url_repr)
    """A new (or the same, to re-activate a failed hook) notification URL."""
    custom_properties: dict[str, str] | None = None
    """New custom properties."""
    properties: WebHookPropertiesUpdate | None = None
    """A new secret."""
    events: WebHookEvents | None = None
    """The new set of events."""
