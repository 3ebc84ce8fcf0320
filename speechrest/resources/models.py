"""Models (``client.models``): base models, custom model training, manifests and copies."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from .. import _checks as check
from .._convert import structure
from .._polling import PollPolicy
from ..errors import InvalidInputError
from ..types import (
    BaseModel,
    CustomModel,
    CustomModelProperties,
    File,
    ModelCopyAuthorization,
    ModelCopyAuthorizationDefinition,
    ModelManifest,
    ModelUpdate,
    Operation,
)
from ..types._common import _id_from_url
from ._base import AsyncPager
from ._entity import EntityRef, EntityResource, entity_id, sas_minutes
from .operations import Operations

__all__ = ["Models"]

_BASE = "/models/base"
_ARM_MARKER = "/providers/microsoft.cognitiveservices/accounts/"


def _manifest_query(value: object) -> dict[str, Any]:
    """The query of the manifest operations, which require ``sasLifetimeMinutes``."""
    if value is None:
        raise InvalidInputError(
            "sas_lifetime_minutes is required for manifests: how many minutes the returned "
            "file URLs stay valid, e.g. sas_lifetime_minutes=360"
        )
    return sas_minutes(value, low=1)


def _check_resource_id(value: object, what: str) -> str:
    if (
        not isinstance(value, str)
        or not value.lower().startswith("/subscriptions/")
        or _ARM_MARKER not in value.lower()
    ):
        raise InvalidInputError(
            f"{what} must be the Azure resource id of a Speech resource, such as "
            "/subscriptions/<subscription>/resourceGroups/<group>/providers/"
            f"Microsoft.CognitiveServices/accounts/<name>; got {value!r}"
        )
    return value


def _check_authorization(value: object) -> ModelCopyAuthorization:
    if not isinstance(value, ModelCopyAuthorization):
        raise InvalidInputError(
            "authorization must be the ModelCopyAuthorization returned by "
            "authorize_copy() on the target resource"
        )
    expiry = value.expiration_date_time
    if expiry.tzinfo is None:
        expiry = expiry.replace(tzinfo=UTC)
    if expiry <= datetime.now(UTC):
        raise InvalidInputError(
            f"the copy authorization {value.id} expired at {expiry.isoformat()}; ask the "
            "target resource for a new one with client.models.authorize_copy()"
        )
    return value


class Models(EntityResource):
    """``client.models``: base models, custom model training, files, manifests and copies
    to other Speech resources.

    Train and wait::

        model = await client.models.create(
            display_name="calls", locale="en-US", datasets=[dataset], base_model=base
        )
        model = await client.models.wait(model)
    """

    _path = "/models"

    # -- base models -----------------------------------------------------------------------

    def list_base_models(
        self, *, skip: int | None = None, top: int | None = None, filter: str | None = None
    ) -> AsyncPager[BaseModel]:
        """Every base model (``Models_ListBaseModels``). ``filter`` may use ``displayName``,
        ``description``, ``createdDateTime``, ``lastActionDateTime``, ``status`` and
        ``locale``, e.g. ``"locale eq 'en-US'"``."""
        return self._list(
            BaseModel, "Models_ListBaseModels", target=_BASE, skip=skip, top=top, filter=filter
        )

    async def get_base_model(self, model: EntityRef) -> BaseModel:
        """One base model (``Models_GetBaseModel``)."""
        target = f"{_BASE}/{entity_id(model, 'base model')}"
        return await self._fetch("GET", target, BaseModel, operation="Models_GetBaseModel")

    async def get_base_model_manifest(
        self, model: EntityRef, *, sas_lifetime_minutes: int
    ) -> ModelManifest:
        """What the speech container needs to run a base model
        (``Models_GetBaseModelManifest``); file URLs stay valid ``sas_lifetime_minutes``."""
        target = f"{_BASE}/{entity_id(model, 'base model')}/manifest"
        return await self._fetch(
            "GET",
            target,
            ModelManifest,
            operation="Models_GetBaseModelManifest",
            params=_manifest_query(sas_lifetime_minutes),
        )

    # -- custom models ---------------------------------------------------------------------

    async def list_supported_locales(self) -> builtins.list[str]:
        """The locales custom models can be trained for (``Models_ListSupportedLocales``)."""
        return await self._locales("Models_ListSupportedLocales")

    async def create(
        self,
        *,
        display_name: str,
        locale: str,
        datasets: Iterable[EntityRef],
        base_model: EntityRef | None = None,
        description: str | None = None,
        project: EntityRef | None = None,
        custom_properties: dict[str, str] | None = None,
        custom_model_weight_percent: int | None = None,
    ) -> CustomModel:
        """Train a custom model from datasets (``Models_Create``); it starts ``NotStarted``:
        :meth:`wait` for it. Without ``base_model`` the service picks the locale's
        default. ``custom_model_weight_percent`` (1..100) weighs the custom model against
        its base model; leave it unset at first."""
        if isinstance(datasets, str) or not isinstance(datasets, Iterable):
            raise InvalidInputError("datasets must be a list of datasets (ids, URLs or objects)")
        refs = [self._ref(d, f"datasets[{i}]", "/datasets") for i, d in enumerate(datasets)]
        if not refs:
            raise InvalidInputError("datasets is empty: a model is trained from at least one")
        weight = check.optional(
            check.integer, custom_model_weight_percent, "custom_model_weight_percent", 1, 100
        )
        body = CustomModel(
            display_name=check.name(display_name),
            locale=check.locale(locale),
            description=check.optional(check.text, description, "description"),
            custom_properties=check.optional(check.custom_properties, custom_properties),
            base_model=self._opt_ref(base_model, "base_model", _BASE),
            datasets=refs,
            project=self._opt_ref(project, "project", "/projects"),
            properties=(
                CustomModelProperties(custom_model_weight_percent=weight)
                if weight is not None
                else None
            ),
        )
        return await self._create(body, CustomModel, "Models_Create")

    async def get(self, model: EntityRef) -> CustomModel:
        """One custom model (``Models_GetCustomModel``)."""
        return await self._get(model, CustomModel, "Models_GetCustomModel", "model")

    async def update(
        self,
        model: EntityRef,
        *,
        display_name: str | None = None,
        description: str | None = None,
        project: EntityRef | None = None,
        custom_properties: dict[str, str] | None = None,
    ) -> CustomModel:
        """Change a custom model's name, description, project or custom properties
        (``Models_Update``)."""
        body = ModelUpdate(
            display_name=check.optional(check.name, display_name),
            description=check.optional(check.text, description, "description"),
            project=self._opt_ref(project, "project", "/projects"),
            custom_properties=check.optional(check.custom_properties, custom_properties),
        )
        return await self._update(model, body, CustomModel, "Models_Update", "model")

    async def delete(self, model: EntityRef) -> None:
        """Delete a custom model (``Models_Delete``); a model an endpoint uses cannot be."""
        await self._delete(model, "Models_Delete", "model")

    def list_files(
        self,
        model: EntityRef,
        *,
        sas_lifetime_minutes: int | None = None,
        skip: int | None = None,
        top: int | None = None,
        filter: str | None = None,
    ) -> AsyncPager[File]:
        """The files of a custom model, such as its training report (``Models_ListFiles``)."""
        return self._list_files(
            model,
            "Models_ListFiles",
            "model",
            sas_lifetime_minutes=sas_lifetime_minutes,
            skip=skip,
            top=top,
            filter=filter,
        )

    async def get_file(
        self, model: EntityRef, file: EntityRef, *, sas_lifetime_minutes: int | None = None
    ) -> File:
        """One file of a custom model (``Models_GetFile``)."""
        return await self._get_file(model, file, "Models_GetFile", "model", sas_lifetime_minutes)

    async def get_manifest(self, model: EntityRef, *, sas_lifetime_minutes: int) -> ModelManifest:
        """What the speech container needs to run a custom model
        (``Models_GetCustomModelManifest``); file URLs stay valid ``sas_lifetime_minutes``."""
        return await self._fetch(
            "GET",
            self._target(model, "model", "/manifest"),
            ModelManifest,
            operation="Models_GetCustomModelManifest",
            params=_manifest_query(sas_lifetime_minutes),
        )

    async def wait(
        self,
        model: EntityRef,
        *,
        policy: PollPolicy | None = None,
        on_status: Callable[[CustomModel], object] | None = None,
    ) -> CustomModel:
        """Poll ``Models_GetCustomModel`` until training ends: return the ``Succeeded``
        model or raise :class:`~speechrest.errors.OperationFailedError`. Bound the wait
        with ``anyio.fail_after``."""
        return await self._wait_for(
            model, CustomModel, "Models_GetCustomModel", "model", policy, on_status
        )

    # -- copy to another resource ----------------------------------------------------------

    async def authorize_copy(self, source_resource_id: str) -> ModelCopyAuthorization:
        """On the TARGET resource: allow the resource ``source_resource_id`` (its Azure
        resource id) to copy a model here (``Models_AuthorizeCopy``). Hand the result to
        :meth:`copy` on the source resource before it expires."""
        body = ModelCopyAuthorizationDefinition(
            source_resource_id=_check_resource_id(source_resource_id, "source_resource_id")
        )
        return await self._fetch(
            "POST",
            "/models:authorizecopy",
            ModelCopyAuthorization,
            operation="Models_AuthorizeCopy",
            json=body,
            creates=True,
        )

    async def copy(self, model: EntityRef, authorization: ModelCopyAuthorization) -> Operation:
        """On the SOURCE resource: start copying a model to the resource that issued
        ``authorization`` (``Models_Copy``). Returns the :class:`Operation` to poll with
        ``client.operations.wait()`` (or use :meth:`copy_and_wait`)."""
        target = self._target(model, "model", ":copy")
        body = _check_authorization(authorization)
        response = await self._api.request(
            "POST", target, operation="Models_Copy", json=body, creates=True
        )
        if response.data is None and response.headers.get("operation-location"):
            location = response.headers["operation-location"]
            return Operation(id=_id_from_url(location), self_=location)
        return structure(response.data, Operation, "Models_Copy", response.request_id)

    async def copy_and_wait(
        self,
        model: EntityRef,
        authorization: ModelCopyAuthorization,
        *,
        policy: PollPolicy | None = None,
        on_status: Callable[[Operation], object] | None = None,
    ) -> Operation:
        """:meth:`copy` (``Models_Copy``), then wait for the copy to finish
        (``Operations_GetModelCopy``). ``result.link`` of the returned operation is the
        new model's URL on the target resource."""
        operation = await self.copy(model, authorization)
        operations = Operations(self._api)
        return await operations.wait(operation, policy=policy, on_status=on_status)

    # -- listing (last: ``list`` shadows the builtin in the class body) --------------------

    def list(
        self, *, skip: int | None = None, top: int | None = None, filter: str | None = None
    ) -> AsyncPager[CustomModel]:
        """Every custom model (``Models_ListCustomModels``). ``filter`` may use
        ``displayName``, ``description``, ``createdDateTime``, ``lastActionDateTime``,
        ``status`` and ``locale``."""
        return self._list(CustomModel, "Models_ListCustomModels", skip=skip, top=top, filter=filter)
