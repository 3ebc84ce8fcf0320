"""Emulated ``/speechtotext/projects``, including the lists of each project's entities.

A project lists the entities of other groups whose ``project.self`` points to it, reading
``state.stores`` of datasets, evaluations, endpoints, models and transcriptions.
"""

from __future__ import annotations

from aiohttp import web

from ._emulator import EmulatorState, get_state, paginate
from ._entities import (
    SUPPORTED_LOCALES,
    Handler,
    check_fields,
    handler,
    id_of,
    in_project,
    public,
    read_json,
    retry_after,
)
from ._entity_routes import Group, base_entity, create_response
from ._filter import FILTERABLE

__all__ = ["register"]

_UPDATABLE = ("displayName", "description", "customProperties", "foundryProjectName")
_FIELDS = (*_UPDATABLE, "locale")
_MEMBERS = ("evaluations", "datasets", "endpoints", "models", "transcriptions")

GROUP = Group(
    name="projects", filterable=FILTERABLE["projects"], updatable=_UPDATABLE, lifecycle=False
)


def register(app: web.Application, state: EmulatorState) -> None:
    GROUP.register(app, create=_create, locales=list(SUPPORTED_LOCALES))
    for group in _MEMBERS:
        app.router.add_get(f"/speechtotext/projects/{{id}}/{group}", handler(_members(group)))


async def _create(request: web.Request) -> web.StreamResponse:
    state = get_state(request)
    body = await read_json(request)
    check_fields(body, _FIELDS, required=("displayName", "locale"), create=True)
    entity = base_entity(state, "projects", body)
    del entity["lastActionDateTime"]  # projects have no status, hence no last action
    project_id = id_of(entity)
    entity["links"] = {g: state.url(f"/projects/{project_id}/{g}") for g in _MEMBERS}
    if body.get("foundryProjectName") is not None:
        entity["foundryProjectName"] = body["foundryProjectName"]
    return await create_response(state, "projects", entity, None)


def _members(group: str) -> Handler:
    async def members(request: web.Request) -> web.StreamResponse:
        state, project = GROUP.entity(request)
        project_id = id_of(project)
        store = state.stores.get(group) or {}
        items = [public(e) for e in store.values() if in_project(e, project_id)]
        return paginate(
            request,
            state,
            items,
            filterable=FILTERABLE[group],
            headers=retry_after(state, items),
        )

    return members
