"""Projects (``client.projects``): group the entities of one custom speech effort."""

from __future__ import annotations

import builtins

from .. import _checks as check
from ..types import (
    CustomModel,
    Dataset,
    Endpoint,
    Evaluation,
    Project,
    ProjectUpdate,
    Transcription,
)
from ._base import AsyncPager
from ._entity import EntityRef, EntityResource

__all__ = ["Projects"]


class Projects(EntityResource):
    """``client.projects``: create, list, update and delete projects, and list what each
    project holds."""

    _path = "/projects"

    async def list_supported_locales(self) -> builtins.list[str]:
        """The locales projects can be created for (``Projects_ListSupportedLocales``)."""
        return await self._locales("Projects_ListSupportedLocales")

    def list(
        self, *, skip: int | None = None, top: int | None = None, filter: str | None = None
    ) -> AsyncPager[Project]:
        """Every project (``Projects_List``). ``filter`` may use ``displayName``,
        ``description``, ``createdDateTime``, ``locale`` and ``foundryProjectName``."""
        return self._list(Project, "Projects_List", skip=skip, top=top, filter=filter)

    async def create(
        self,
        *,
        display_name: str,
        locale: str,
        description: str | None = None,
        custom_properties: dict[str, str] | None = None,
        foundry_project_name: str | None = None,
    ) -> Project:
        """Create a project (``Projects_Create``)."""
        body = Project(
            display_name=check.name(display_name),
            locale=check.locale(locale),
            description=check.optional(check.text, description, "description"),
            custom_properties=check.optional(check.custom_properties, custom_properties),
            foundry_project_name=check.optional(
                check.text, foundry_project_name, "foundry_project_name"
            ),
        )
        return await self._create(body, Project, "Projects_Create")

    async def get(self, project: EntityRef) -> Project:
        """One project (``Projects_Get``)."""
        return await self._get(project, Project, "Projects_Get", "project")

    async def update(
        self,
        project: EntityRef,
        *,
        display_name: str | None = None,
        description: str | None = None,
        custom_properties: dict[str, str] | None = None,
        foundry_project_name: str | None = None,
    ) -> Project:
        """Change the given fields of a project (``Projects_Update``)."""
        body = ProjectUpdate(
            display_name=check.optional(check.name, display_name),
            description=check.optional(check.text, description, "description"),
            custom_properties=check.optional(check.custom_properties, custom_properties),
            foundry_project_name=check.optional(
                check.text, foundry_project_name, "foundry_project_name"
            ),
        )
        return await self._update(project, body, Project, "Projects_Update", "project")

    async def delete(self, project: EntityRef) -> None:
        """Delete a project (``Projects_Delete``); succeeds if it does not exist."""
        await self._delete(project, "Projects_Delete", "project")

    def list_evaluations(
        self,
        project: EntityRef,
        *,
        skip: int | None = None,
        top: int | None = None,
        filter: str | None = None,
    ) -> AsyncPager[Evaluation]:
        """The evaluations of a project (``Projects_ListEvaluations``)."""
        target = self._target(project, "project", "/evaluations")
        return self._list(
            Evaluation,
            "Projects_ListEvaluations",
            target=target,
            skip=skip,
            top=top,
            filter=filter,
        )

    def list_datasets(
        self,
        project: EntityRef,
        *,
        skip: int | None = None,
        top: int | None = None,
        filter: str | None = None,
    ) -> AsyncPager[Dataset]:
        """The datasets of a project (``Projects_ListDatasets``)."""
        target = self._target(project, "project", "/datasets")
        return self._list(
            Dataset, "Projects_ListDatasets", target=target, skip=skip, top=top, filter=filter
        )

    def list_endpoints(
        self,
        project: EntityRef,
        *,
        skip: int | None = None,
        top: int | None = None,
        filter: str | None = None,
    ) -> AsyncPager[Endpoint]:
        """The endpoints of a project (``Projects_ListEndpoints``)."""
        target = self._target(project, "project", "/endpoints")
        return self._list(
            Endpoint, "Projects_ListEndpoints", target=target, skip=skip, top=top, filter=filter
        )

    def list_models(
        self,
        project: EntityRef,
        *,
        skip: int | None = None,
        top: int | None = None,
        filter: str | None = None,
    ) -> AsyncPager[CustomModel]:
        """The custom models of a project (``Projects_ListModels``)."""
        target = self._target(project, "project", "/models")
        return self._list(
            CustomModel, "Projects_ListModels", target=target, skip=skip, top=top, filter=filter
        )

    def list_transcriptions(
        self,
        project: EntityRef,
        *,
        skip: int | None = None,
        top: int | None = None,
        filter: str | None = None,
    ) -> AsyncPager[Transcription]:
        """The batch transcriptions of a project (``Projects_ListTranscriptions``)."""
        target = self._target(project, "project", "/transcriptions")
        return self._list(
            Transcription,
            "Projects_ListTranscriptions",
            target=target,
            skip=skip,
            top=top,
            filter=filter,
        )
