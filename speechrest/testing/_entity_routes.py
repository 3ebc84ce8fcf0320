"""The generic routes of the emulated entity groups (get, list, update, delete, files), the
creation of entities and their status lifecycle, written once for every group."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
from aiohttp import web

from ._entities import (
    check_fields,
    check_project,
    handler,
    id_of,
    merge_patch,
    new_id,
    not_found,
    path_id,
    public,
    read_json,
    retry_after,
    sas_minutes,
    set_status,
)
from ._filter import FILTERABLE
from ._state import EmulatorState, Handler, get_state, json_response, now_iso, paginate
from ._stores import Entity, Stores

__all__ = ["Group", "Work", "add_file", "add_link"]

Work = Callable[[EmulatorState, Entity], Awaitable[dict[str, str] | None]]
"""Processing of an entity: returns None on success, or ``{"code", "message"}``."""


# -- files --------------------------------------------------------------------------------


def _blob_prefix(group: str, entity_id: str) -> str:
    return f"{group}/{entity_id}/"


def add_file(
    state: EmulatorState,
    group: str,
    entity: Entity,
    name: str,
    kind: str,
    data: bytes | Path,
) -> None:
    """Attach a file (kept in the blob store) to an entity of ``group``; it is served by
    the group's file routes and deleted with the entity."""
    file_id = new_id()
    blob = f"{_blob_prefix(group, id_of(entity))}{file_id}/{name}"
    state.stores.blobs.put(blob, data)
    entity.setdefault("_files", []).append(
        {"id": file_id, "name": name, "kind": kind, "blob": blob, "created": now_iso()}
    )


def add_link(entity: Entity, name: str, kind: str, url: str, size: int) -> None:
    """Attach a file kept in the caller's storage (a ``destinationContainerUrl``): it is
    listed with its ``url``, without a SAS, as the service lists such files, and it is
    left untouched when the entity is deleted."""
    entity.setdefault("_files", []).append(
        {"id": new_id(), "name": name, "kind": kind, "url": url, "size": size, "created": now_iso()}
    )


def _file_json(
    state: EmulatorState, group: str, entity_id: str, f: Mapping[str, Any], minutes: int | None
) -> dict[str, Any]:
    """A file :func:`add_file` attached, as served, with a SAS link valid ``minutes`` (or
    one :func:`add_link` attached, with its plain URL)."""
    blobs = state.stores.blobs
    if "url" in f:
        url, size = f["url"], f["size"]
    else:
        url, size = blobs.sas_url(state.base_url, f["blob"], minutes), blobs.size(f["blob"])
    return {
        "self": state.url(f"/{group}/{entity_id}/files/{f['id']}"),
        "name": f["name"],
        "kind": f["kind"],
        "links": {"contentUrl": url},
        "properties": {"size": size},
        "createdDateTime": f["created"],
    }


# -- a group ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Group:
    """One group of entities: its generic routes (get, list, update, delete, files), how its
    entities are created, and their status lifecycle."""

    name: str
    """Path segment, e.g. ``datasets``; its singular names the events (``datasetCreation``)."""
    store: Callable[[Stores], dict[str, Entity]]
    """Where the group's entities are kept, e.g. ``lambda stores: stores.datasets``."""
    filterable: frozenset[str]
    updatable: tuple[str, ...] = ("displayName", "description", "customProperties", "project")
    lifecycle: bool = True
    """Whether the entities have a status (projects do not)."""
    on_update: Callable[[EmulatorState, Entity, dict[str, Any]], None] | None = None
    """Extra checks and effects of an update: ``(state, entity, body)``."""
    on_delete: Callable[[EmulatorState, Entity], None] | None = None
    """Refuse a delete by raising :class:`ApiError`, or clean up."""
    time_to_live: Callable[[EmulatorState, Entity], float] | None = None
    """Seconds an entity is kept after it ended, then deleted; None: kept until deleted."""

    @property
    def kind(self) -> str:
        """The singular, as events spell it: ``dataset``."""
        return self.name[:-1]

    def entities(self, state: EmulatorState) -> dict[str, Entity]:
        return self.store(state.stores)

    # -- routes --

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

    def entity(self, request: web.Request) -> tuple[EmulatorState, Entity]:
        """The entity the request's ``{id}`` names, or a 404."""
        state = get_state(request)
        entity_id = path_id(request)
        entity = self.entities(state).get(entity_id)
        if entity is None:
            raise not_found(self.kind, entity_id)
        return state, entity

    def _headers(self, state: EmulatorState, entities: Iterable[Mapping[str, Any]]) -> Any:
        return retry_after(state, entities) if self.lifecycle else None

    async def list(self, request: web.Request) -> web.StreamResponse:
        state = get_state(request)
        items = [public(e) for e in self.entities(state).values()]
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
        entity = self.entities(state).get(path_id(request))
        if entity is not None:
            if self.on_delete is not None:
                self.on_delete(state, entity)
            await self.remove(state, entity)
        return web.Response(status=204)

    async def list_files(self, request: web.Request) -> web.StreamResponse:
        state, entity = self.entity(request)
        minutes = sas_minutes(request)
        entity_id = id_of(entity)
        files = [
            _file_json(state, self.name, entity_id, f, minutes) for f in entity.get("_files", [])
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
        minutes = sas_minutes(request)
        file_id = path_id(request, "fileId")
        for f in entity.get("_files", []):
            if f["id"] == file_id:
                return json_response(_file_json(state, self.name, id_of(entity), f, minutes))
        raise not_found("file", file_id)

    # -- creation, lifecycle, removal --

    def new_entity(self, state: EmulatorState, body: Mapping[str, Any]) -> Entity:
        """A new entity with a fresh id and the common fields of the create ``body``."""
        now = now_iso()
        entity: Entity = {"self": state.url(f"/{self.name}/{new_id()}")}
        for key in ("displayName", "description", "customProperties", "locale", "project"):
            if body.get(key) is not None:
                entity[key] = body[key]
        entity["createdDateTime"] = now
        entity["lastActionDateTime"] = now
        return entity

    async def create(self, state: EmulatorState, entity: Entity, work: Work | None) -> web.Response:
        """Store a new entity, emit ``<kind>Creation``, start its lifecycle with ``work``,
        and answer 201 with ``Location``."""
        self.entities(state)[id_of(entity)] = entity
        if self.lifecycle and "status" in entity:
            await state.emit(f"{self.kind}Creation", entity["self"])
        if work is not None:
            self.start(state, entity, work)
        return json_response(public(entity), status=201, headers={"Location": entity["self"]})

    def start(self, state: EmulatorState, entity: Entity, work: Work) -> None:
        """Run the entity through its statuses with ``work``, in a task that deleting the
        entity cancels."""
        entity["_task"] = state.spawn(self._lifecycle(state, entity, work))

    async def _lifecycle(self, state: EmulatorState, entity: Entity, work: Work) -> None:
        """``NotStarted`` for ``timing.queue_delay``, ``Running`` for ``timing.run_time``,
        then ``work`` runs and the entity ends ``Succeeded``, or ``Failed`` with
        ``properties.error``; events ``<kind>Processing`` and ``<kind>Completion`` at the
        transitions. With :attr:`time_to_live`, the entity is deleted that long after."""
        try:
            await asyncio.sleep(state.timing.queue_delay)
            set_status(entity, "Running")
            await state.emit(f"{self.kind}Processing", entity["self"])
            await asyncio.sleep(state.timing.run_time)
            try:
                error = await work(state, entity)
            except Exception as exc:  # the emulator's own failure: report it on the entity
                error = {"code": "InternalError", "message": f"{type(exc).__name__}: {exc}"}
            if error is not None:
                entity.setdefault("properties", {})["error"] = error
            set_status(entity, "Failed" if error is not None else "Succeeded")
            await state.emit(f"{self.kind}Completion", entity["self"])
            if self.time_to_live is not None:
                await asyncio.sleep(self.time_to_live(state, entity))
                await self.remove(state, entity)
        finally:
            if entity.get("_task") is asyncio.current_task():
                del entity["_task"]

    async def remove(self, state: EmulatorState, entity: Entity) -> None:
        """Forget the entity, its files and its pending work; emit ``<kind>Deletion``."""
        entity_id = id_of(entity)
        store = self.entities(state)
        if store.get(entity_id) is not entity:
            return
        del store[entity_id]
        state.stores.blobs.delete_prefix(_blob_prefix(self.name, entity_id))
        task = entity.pop("_task", None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        if self.lifecycle:
            await state.emit(f"{self.kind}Deletion", entity["self"])
