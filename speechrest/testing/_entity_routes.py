"""The generic routes of the emulated custom speech groups (get, list, update, delete,
files) and the creation of entities."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
from aiohttp import web

from ._blobs import blobs
from ._emulator import EmulatorState, get_state, json_response, now_iso, paginate
from ._entities import (
    ApiError,
    Handler,
    Work,
    bad,
    check_fields,
    check_project,
    entity_store,
    handler,
    id_of,
    merge_patch,
    new_id,
    path_id,
    public,
    read_json,
    retry_after,
    run_lifecycle,
)
from ._filter import FILTERABLE

__all__ = ["Group", "add_file", "base_entity", "create_response", "file_json"]


# -- files --------------------------------------------------------------------------------


def add_file(
    state: EmulatorState,
    group: str,
    entity: dict[str, Any],
    name: str,
    kind: str,
    data: bytes | Path,
) -> None:
    """Attach a file (kept in the blob store) to an entity."""
    file_id = new_id()
    blob = f"{group}/{id_of(entity)}/{file_id}/{name}"
    blobs(state).put(blob, data)
    entity.setdefault("_files", []).append(
        {"id": file_id, "name": name, "kind": kind, "blob": blob, "created": now_iso()}
    )


def file_json(
    state: EmulatorState, group: str, entity_id: str, f: Mapping[str, Any], minutes: int | None
) -> dict[str, Any]:
    """A file :func:`add_file` attached, as served, with a SAS link valid ``minutes``."""
    return {
        "self": state.url(f"/{group}/{entity_id}/files/{f['id']}"),
        "name": f["name"],
        "kind": f["kind"],
        "links": {"contentUrl": blobs(state).sas_url(state, f["blob"], minutes)},
        "properties": {"size": blobs(state).size(f["blob"])},
        "createdDateTime": f["created"],
    }


def _sas_minutes(request: web.Request) -> int | None:
    raw = request.query.get("sasLifetimeMinutes")
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) > 7 * 24 * 60:
        raise bad(
            "sasLifetimeMinutes must be an integer between 0 and 10080.",
            "InvalidSasValidityDuration",
        )
    return int(raw)


# -- the generic routes of a group ----------------------------------------------------------


@attrs.frozen(kw_only=True)
class Group:
    """One custom speech group's generic routes: get, list, update, delete, files."""

    name: str
    """Store key and path segment, e.g. ``datasets``."""
    filterable: frozenset[str]
    updatable: tuple[str, ...] = ("displayName", "description", "customProperties", "project")
    lifecycle: bool = True
    """Whether the entities have a status (projects do not)."""
    on_update: Callable[[EmulatorState, dict[str, Any], dict[str, Any]], None] | None = None
    """Extra checks and effects of an update: ``(state, entity, body)``."""
    on_delete: Callable[[EmulatorState, dict[str, Any]], None] | None = None
    """Refuse a delete by raising :class:`ApiError`, or clean up."""

    def register(
        self, app: web.Application, *, create: Handler | None = None, locales: Any = None
    ) -> None:
        """Add the routes; with ``locales`` (the JSON answer of ``ListSupportedLocales``)
        and ``create`` (the ``Create`` handler) also those two."""
        base = f"/speechtotext/{self.name}"
        if locales is not None:

            async def list_locales(request: web.Request) -> web.StreamResponse:
                return json_response(locales)

            app.router.add_get(base + "/locales", handler(list_locales))
        if create is not None:
            app.router.add_post(base, handler(create))
        app.router.add_get(base, handler(self.list))
        app.router.add_get(base + "/{id}", handler(self.get))
        app.router.add_patch(base + "/{id}", handler(self.update))
        app.router.add_delete(base + "/{id}", handler(self.delete))

    def register_files(self, app: web.Application) -> None:
        base = f"/speechtotext/{self.name}/{{id}}/files"
        app.router.add_get(base, handler(self.list_files))
        app.router.add_get(base + "/{fileId}", handler(self.get_file))

    def entity(self, request: web.Request) -> tuple[EmulatorState, dict[str, Any]]:
        state = get_state(request)
        entity_id = path_id(request)
        entity = entity_store(state, self.name).get(entity_id)
        if entity is None:
            raise ApiError(404, "NotFound", f"The {self.name[:-1]} '{entity_id}' does not exist.")
        return state, entity

    def _headers(self, state: EmulatorState, entities: Iterable[Mapping[str, Any]]) -> Any:
        return retry_after(state, entities) if self.lifecycle else None

    async def list(self, request: web.Request) -> web.StreamResponse:
        state = get_state(request)
        items = [public(e) for e in entity_store(state, self.name).values()]
        headers = self._headers(state, items)
        return paginate(request, state, items, filterable=self.filterable, headers=headers)

    async def get(self, request: web.Request) -> web.StreamResponse:
        state, entity = self.entity(request)
        return json_response(public(entity), headers=self._headers(state, [entity]))

    async def update(self, request: web.Request) -> web.StreamResponse:
        state, entity = self.entity(request)
        body = await read_json(request)
        check_fields(body, self.updatable)
        check_project(state, body)
        if self.on_update is not None:
            self.on_update(state, entity, body)
        merge_patch(entity, {k: v for k, v in body.items() if k != "properties"})
        return json_response(public(entity), headers=self._headers(state, [entity]))

    async def delete(self, request: web.Request) -> web.StreamResponse:
        state = get_state(request)
        entity_id = path_id(request)
        entity = entity_store(state, self.name).get(entity_id)
        if entity is not None:
            if self.on_delete is not None:
                self.on_delete(state, entity)
            del entity_store(state, self.name)[entity_id]
            blobs(state).delete_prefix(f"{self.name}/{entity_id}/")
            if self.lifecycle:
                await state.emit(f"{self.name[:-1]}Deletion", entity["self"])
        return web.Response(status=204)

    async def list_files(self, request: web.Request) -> web.StreamResponse:
        state, entity = self.entity(request)
        minutes = _sas_minutes(request)
        entity_id = path_id(request)
        files = [
            file_json(state, self.name, entity_id, f, minutes) for f in entity.get("_files", [])
        ]
        return paginate(
            request,
            state,
            files,
            filterable=FILTERABLE["files"],
            headers=self._headers(state, [entity]),
        )

    async def get_file(self, request: web.Request) -> web.StreamResponse:
        state, entity = self.entity(request)
        minutes = _sas_minutes(request)
        file_id = path_id(request, "fileId")
        for f in entity.get("_files", []):
            if f["id"] == file_id:
                return json_response(file_json(state, self.name, path_id(request), f, minutes))
        raise ApiError(404, "NotFound", f"The file '{file_id}' does not exist.")


async def create_response(
    state: EmulatorState, group: str, entity: dict[str, Any], work: Work | None
) -> web.Response:
    """Store a new entity, start its lifecycle, and answer 201 with ``Location``."""
    entity_id = id_of(entity)
    entity_store(state, group)[entity_id] = entity
    if work is not None:
        state.spawn(run_lifecycle(state, group, entity_id, work))
    if "status" in entity:
        await state.emit(f"{group[:-1]}Creation", entity["self"])
    return json_response(public(entity), status=201, headers={"Location": entity["self"]})


def base_entity(state: EmulatorState, group: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields every new entity starts with."""
    entity_id = new_id()
    now = now_iso()
    entity: dict[str, Any] = {"self": state.url(f"/{group}/{entity_id}")}
    for key in ("displayName", "description", "customProperties", "locale", "project"):
        if body.get(key) is not None:
            entity[key] = body[key]
    entity["createdDateTime"] = now
    entity["lastActionDateTime"] = now
    return entity
