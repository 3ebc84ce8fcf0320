"""Models: base models, custom models, manifests and model copy (``Models_*``)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import attrs

from ._common import (
    EntityError,
    EntityReference,
    Identified,
    Status,
    WireEnum,
    url_repr,
)
from .datasets import DatasetKind

__all__ = [
    "BaseModel",
    "BaseModelDeprecationDates",
    "BaseModelFeatures",
    "BaseModelLinks",
    "BaseModelProperties",
    "CustomModel",
    "CustomModelDeprecationDates",
    "CustomModelLinks",
    "CustomModelProperties",
    "ModelCopyAuthorization",
    "ModelCopyAuthorizationDefinition",
    "ModelFeatures",
    "ModelFile",
    "ModelManifest",
    "ModelUpdate",
    "OutputFormatType",
]


@enum.unique
class OutputFormatType(WireEnum):
    """An output format a model can produce."""

    LEXICAL = "Lexical"
    DISPLAY = "Display"


@attrs.frozen(kw_only=True)
class ModelFeatures:
    """What a model can be used for (``SharedModelFeatures``; custom models' ``features``)."""

    supports_transcriptions_submit: bool | None = None
    """Batch transcription (``Transcriptions_Submit``) can use the model."""
    supports_transcriptions_transcribe: bool | None = None
    """Fast transcription (``Transcriptions_Transcribe``) can use the model."""
    supports_endpoints: bool | None = None
    """Endpoints for real-time recognition can be deployed with the model."""
    supports_transcriptions_on_speech_containers: bool | None = None
    """The model runs in the on-premises speech container (see the manifest operations)."""
    supported_output_formats: list[OutputFormatType] | None = None
    """``Lexical`` and/or ``Display``."""


@attrs.frozen(kw_only=True)
class BaseModelFeatures(ModelFeatures):
    """What a base model can be used for, including adaptation."""

    supports_adaptations_with: list[DatasetKind] | None = None
    """The dataset kinds a custom model can be trained from on this base model."""


@attrs.frozen(kw_only=True)
class BaseModelDeprecationDates:
    """When a base model stops being available for training and for transcription."""

    adaptation_date_time: datetime | None = None
    """From this date, no new custom models can be trained on the base model."""
    transcription_date_time: datetime | None = None
    """From this date, the base model can no longer be used for transcription."""


@attrs.frozen(kw_only=True)
class CustomModelDeprecationDates:
    """When a custom model stops being available for transcription."""

    transcription_date_time: datetime | None = None
    """From this date, the custom model can no longer be used for transcription."""


@attrs.frozen(kw_only=True)
class BaseModelLinks:
    """Links of a base model (``links``)."""

    manifest: str | None = None
    """``Models_GetBaseModelManifest``."""


@attrs.frozen(kw_only=True)
class CustomModelLinks:
    """Links of a custom model (``links``): its manifest, copy and files operations."""

    manifest: str | None = None
    """``Models_GetCustomModelManifest``."""
    copy: str | None = None
    """``Models_Copy``."""
    files: str | None = None
    """``Models_ListFiles``."""


@attrs.frozen(kw_only=True)
class BaseModelProperties:
    """What a base model supports, and until when (``properties``)."""

    deprecation_dates: BaseModelDeprecationDates | None = None
    """When adaptation and transcription stop being available."""
    features: BaseModelFeatures | None = None
    """What the model supports."""
    charge_for_adaptation: bool | None = None
    """Whether training a custom model on this base model is charged."""


@attrs.frozen(kw_only=True)
class CustomModelProperties:
    """What a custom model supports, its weight, and why training failed (``properties``)."""

    deprecation_dates: CustomModelDeprecationDates | None = None
    """When transcription stops being available."""
    custom_model_weight_percent: int | None = None
    """Weight of the custom model against its base model, 1..100 (the service chooses one
    when it is not set)."""
    features: ModelFeatures | None = None
    """What the model supports."""
    error: EntityError | None = None
    """Why training failed, when it did."""


@attrs.frozen(kw_only=True)
class BaseModel(Identified):
    """A base model offered by the service, for transcription and as a base for training."""

    self_: str | None = None
    """The base model's URL."""
    display_name: str
    """The display name."""
    description: str | None = None
    """A description."""
    locale: str
    """The locale, e.g. ``en-US``."""
    created_date_time: datetime | None = None
    """When the model was published."""
    last_action_date_time: datetime | None = None
    """When the current status was entered."""
    status: Status | None = None
    """Always ``Succeeded`` for base models."""
    links: BaseModelLinks | None = None
    """The manifest link."""
    properties: BaseModelProperties | None = None
    """Deprecation dates, features and charging."""


@attrs.frozen(kw_only=True)
class CustomModel(Identified):
    """A custom model trained from datasets (the body of ``Models_Create`` too)."""

    self_: str | None = None
    """The model's URL."""
    display_name: str
    """The display name (at least one character)."""
    description: str | None = None
    """A description."""
    locale: str
    """The locale, e.g. ``en-US``; it must match the base model and the datasets."""
    created_date_time: datetime | None = None
    """When the model was created."""
    last_action_date_time: datetime | None = None
    """When the current status was entered."""
    status: Status | None = None
    """``NotStarted``, ``Running`` (training), ``Succeeded`` or ``Failed``."""
    custom_properties: dict[str, str] | None = None
    """Up to 10 entries; keys up to 64 characters, values up to 256."""
    base_model: EntityReference | None = None
    """The base model it was trained on."""
    datasets: list[EntityReference] | None = None
    """The datasets it was trained from."""
    project: EntityReference | None = None
    """The project the model belongs to."""
    links: CustomModelLinks | None = None
    """Manifest, copy and files links."""
    properties: CustomModelProperties | None = None
    """Weight, features, deprecation dates and the error of a failed training."""


@attrs.frozen(kw_only=True)
class ModelUpdate:
    """The body of ``Models_Update``: only the fields given are changed."""

    display_name: str | None = None
    """A new display name."""
    description: str | None = None
    """A new description."""
    project: EntityReference | None = None
    """Move the model to this project."""
    custom_properties: dict[str, str] | None = None
    """New custom properties."""


@attrs.frozen(kw_only=True)
class ModelFile:
    """One file a model needs in the speech container."""

    name: str | None = None
    """The file's path inside the model folder."""
    content_url: str | None = attrs.field(default=None, repr=url_repr)
    """Where to download it (a SAS URL valid for ``sasLifetimeMinutes``: send no key)."""


@attrs.frozen(kw_only=True)
class ModelManifest:
    """What the on-premises speech container needs to run a model."""

    model: EntityReference
    """The model the manifest is for."""
    model_files: list[ModelFile]
    """The files to download."""
    properties: dict[str, Any]
    """The container configuration (free-form)."""


@attrs.frozen(kw_only=True)
class ModelCopyAuthorizationDefinition:
    """The body of ``Models_AuthorizeCopy``."""

    source_resource_id: str
    """The Azure resource id of the speech resource the model is copied from."""


@attrs.frozen(kw_only=True)
class ModelCopyAuthorization:
    """A target resource's permission to copy a model into it (``Models_AuthorizeCopy``);
    give it to ``Models_Copy`` on the source resource before it expires."""

    target_resource_region: str
    """The target resource's region, e.g. ``westus2``."""
    target_resource_id: str
    """The target resource's Azure resource id."""
    target_resource_endpoint: str
    """The target resource's endpoint."""
    source_resource_id: str
    """The source resource's Azure resource id."""
    expiration_date_time: datetime
    """When the authorization expires."""
    id: str
    """The authorization's id."""
