"""Endpoints (``client.endpoints``): deploy a model for real-time recognition."""

from __future__ import annotations

import builtins
from collections.abc import Callable

from .. import _checks as check
from .._polling import PollPolicy
from ..types import Endpoint, EndpointProperties, EndpointPropertiesUpdate, EndpointUpdate
from ._base import AsyncPager
from ._entity import EntityRef, EntityResource

__all__ = ["Endpoints"]


class Endpoints(EntityResource):
    """``client.endpoints``: deployments of custom (or base) models."""

    _path = "/endpoints"

    async def list_supported_locales(self) -> builtins.list[str]:
        """The locales endpoints can be created for (``Endpoints_ListSupportedLocales``)."""
        return await self._locales("Endpoints_ListSupportedLocales")

    def list(
        self, *, skip: int | None = None, top: int | None = None, filter: str | None = None
    ) -> AsyncPager[Endpoint]:
        """Every endpoint (``Endpoints_List``). ``filter`` may use ``displayName``,
        ``description``, ``createdDateTime``, ``lastActionDateTime``, ``status`` and
        ``locale``."""
        return self._list(Endpoint, "Endpoints_List", skip=skip, top=top, filter=filter)

    async def create(
        self,
        *,
        model: EntityRef,
        locale: str,
        display_name: str,
        logging_enabled: bool | None = None,
        description: str | None = None,
        project: EntityRef | None = None,
        custom_properties: dict[str, str] | None = None,
    ) -> Endpoint:
        """Deploy a model (``Endpoints_Create``); then ``wait()`` until it runs.

        ``model`` is a custom model's id, or any model's URL or object (pass a base model
        as its object or URL). ``logging_enabled`` turns content logging on.
        """
        body = Endpoint(
            model=self._ref(model, "model", "/models"),
            locale=check.locale(locale),
            display_name=check.name(display_name),
            description=check.optional(check.text, description, "description"),
            project=self._opt_ref(project, "project", "/projects"),
            custom_properties=check.optional(check.custom_properties, custom_properties),
            properties=(
                None
                if logging_enabled is None
                else EndpointProperties(
                    logging_enabled=check.optional(check.flag, logging_enabled, "logging_enabled")
                )
            ),
        )
        return await self._create(body, Endpoint, "Endpoints_Create")

    async def get(self, endpoint: EntityRef) -> Endpoint:
        """One endpoint (``Endpoints_Get``)."""
        return await self._get(endpoint, Endpoint, "Endpoints_Get", "endpoint")

    async def update(
        self,
        endpoint: EntityRef,
        *,
        display_name: str | None = None,
        description: str | None = None,
        model: EntityRef | None = None,
        logging_enabled: bool | None = None,
        project: EntityRef | None = None,
        custom_properties: dict[str, str] | None = None,
    ) -> Endpoint:
        """Change the given fields of an endpoint (``Endpoints_Update``). A new ``model``
        is deployed in place; ``logging_enabled`` is sent as
        ``properties.contentLoggingEnabled``."""
        flag = check.optional(check.flag, logging_enabled, "logging_enabled")
        body = EndpointUpdate(
            display_name=check.optional(check.name, display_name),
            description=check.optional(check.text, description, "description"),
            model=self._opt_ref(model, "model", "/models"),
            properties=None
            if flag is None
            else EndpointPropertiesUpdate(content_logging_enabled=flag),
            project=self._opt_ref(project, "project", "/projects"),
            custom_properties=check.optional(check.custom_properties, custom_properties),
        )
        return await self._update(endpoint, body, Endpoint, "Endpoints_Update", "endpoint")

    async def delete(self, endpoint: EntityRef) -> None:
        """Delete an endpoint (``Endpoints_Delete``)."""
        await self._delete(endpoint, "Endpoints_Delete", "endpoint")

    async def wait(
        self,
        endpoint: EntityRef,
        *,
        policy: PollPolicy | None = None,
        on_status: Callable[[Endpoint], object] | None = None,
    ) -> Endpoint:
        """Poll ``Endpoints_Get`` until the deployment has succeeded; raise
        :class:`~speechrest.errors.OperationFailedError` if it failed."""
        return await self._wait_for(
            endpoint, Endpoint, "Endpoints_Get", "endpoint", policy, on_status
        )
