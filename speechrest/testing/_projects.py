"""Emulated ``/speechtotext/projects``, including the lists of each project's entities.

A project lists the entities of other groups whose ``project.self`` points to it, reading
the stores of datasets, evaluations, endpoints, models and transcriptions.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from ._entities import (
    SUPPORTED_LOCALES,
    check_fields,
    handler,
    id_of,
    in_project,
    public,
    read_json,
    retry_after,
)
from ._entity_routes import Group
from ._filter import FILTERABLE
from ._state import EmulatorState, Handler, get_state, paginate
from ._stores import Entity, Stores

__all__ = ["register"]

_UPDATABLE = ("displayName", "description", "customProperties", "foundryProjectName")
_FIELDS = (*_UPDATABLE, "locale")
_MEMBERS: dict[str, Callable[[Stores], dict[str, Entity]]] = {
    "evaluations": lambda stores: stores.evaluations,
    "datasets": lambda stores: stores.datasets,
    "endpoints": lambda stores: stores.endpoints,
    "models": lambda stores: stores.models,
    "transcriptions": lambda stores: stores.transcriptions,
}
"""The groups a project lists, by path segment."""

GROUP = Group(
    name="projects",
    store=lambda stores: stores.projects,
    filterable=FILTERABLE["projects"],
    updatable=_UPDATABLE,
    lifecycle=False,
)


def register(app: web.Application, state: EmulatorState) -> None:
    GROUP.register(app, create=_create, locales=list(SUPPORTED_LOCALES))
    for group, store in _MEMBERS.items():
        members = handler(_members(group, store))
        app.router.add_get(f"/speechtotext/projects/{{id}}/{group}", members)


async def _create(request: web.Request) -> web.StreamResponse:
    state = get_state(request)
    body = await read_json(request)
    check_fields(body, _FIELDS, required=("displayName", "locale"), create=True)
    entity = GROUP.new_entity(state, body)
    del entity["lastActionDateTime"]  # projects have no status, hence no last action
    project_id = id_of(entity)
    entity["links"] = {g: state.url(f"/projects/{project_id}/{g}") for g in _MEMBERS}
    if body.get("foundryProjectName") is not None:
        entity["foundryProjectName"] = body["foundryProjectName"]
    return await GROUP.create(state, entity, None)


def _members(group: str, store: Callable[[Stores], dict[str, Entity]]) -> Handler:
    async def members(request: web.Request) -> web.StreamResponse:
        state, project = GROUP.entity(request)
        project_id = id_of(project)
        entities = store(state.stores).values()
        items = [public(e) for e in entities if in_project(e, project_id)]
        return paginate(
            request,
            state,
            items,
            filterable=FILTERABLE[group],
            headers=retry_after(state, items),
        )

    return members
