"""Emulated ``/speechtotext/endpoints``: deployments go NotStarted -> Running -> Succeeded.

A new ``model`` given to ``Endpoints_Update`` is deployed again the same way.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ._entities import (
    SUPPORTED_LOCALES,
    ApiError,
    bad,
    check_fields,
    check_project,
    find_model,
    id_of,
    read_json,
    set_status,
)
from ._entity_routes import Group
from ._filter import FILTERABLE
from ._state import EmulatorState, get_state
from ._stores import Entity

__all__ = ["register"]

_UPDATABLE = ("displayName", "description", "customProperties", "project", "model", "properties")
_FIELDS = (*_UPDATABLE, "locale")


def _check_model(state: EmulatorState, body: dict[str, Any], locale: str) -> None:
    if body.get("model") is not None:
        find_model(state, body, "model", locale)


def _flag(body: dict[str, Any], name: str) -> bool | None:
    props = body.get("properties")
    if props is None:
        return None
    if (
        not isinstance(props, dict)
        or set(props) - {name}
        or not isinstance(props.get(name, False), bool)
    ):
        raise bad(f"properties accepts only '{name}' (true or false) here.", "InvalidPayload")
    value = props.get(name)
    return value if isinstance(value, bool) else None


async def _deploy(state: EmulatorState, entity: Entity) -> dict[str, str] | None:
    return None


def _on_update(state: EmulatorState, entity: Entity, body: dict[str, Any]) -> None:
    flag = _flag(body, "contentLoggingEnabled")
    if body.get("model") is not None:
        if entity.get("status") not in ("Succeeded", "Failed"):
            raise ApiError(
                409,
                "Conflict",
                "The endpoint is still being deployed; update its model afterwards.",
                "EndpointNotUpdatable",
            )
        _check_model(state, body, entity["locale"])
        set_status(entity, "NotStarted")
        entity.get("properties", {}).pop("error", None)
        GROUP.start(state, entity, _deploy)
    if flag is not None:
        entity.setdefault("properties", {})["loggingEnabled"] = flag


GROUP = Group(
    name="endpoints",
    store=lambda stores: stores.endpoints,
    filterable=FILTERABLE["endpoints"],
    updatable=_UPDATABLE,
    on_update=_on_update,
)


def register(app: web.Application, state: EmulatorState) -> None:
    GROUP.register(app, create=_create, locales=list(SUPPORTED_LOCALES))


async def _create(request: web.Request) -> web.StreamResponse:
    state = get_state(request)
    body = await read_json(request)
    check_fields(body, _FIELDS, required=("displayName", "locale"), create=True)
    logging = _flag(body, "loggingEnabled")
    _check_model(state, body, body["locale"])
    check_project(state, body)
    entity = GROUP.new_entity(state, body)
    if body.get("model") is not None:
        entity = {"self": entity.pop("self"), "model": body["model"], **entity}
    endpoint_id = id_of(entity)
    host = state.base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    entity["properties"] = {"loggingEnabled": bool(logging)}
    entity["links"] = {"webSocket": f"{host}/stt/speech/universal/v2?cid={endpoint_id}"}
    entity["status"] = "NotStarted"
    return await GROUP.create(state, entity, _deploy)
