"""Emulated model copy: ``Models_AuthorizeCopy``, ``Models_Copy`` and
``Operations_GetModelCopy``.

The emulator plays both resources: it issues copy authorizations as the target, and as the
source it accepts only the unexpired authorizations it issued. A copy is an operation that
goes ``NotStarted`` -> ``Running`` -> ``Succeeded`` (``result.link`` is the new model) or
``Failed`` (the source model was deleted meanwhile).
"""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from ._base_models import custom_model_links
from ._entities import (
    ApiError,
    bad,
    handler,
    new_id,
    not_found,
    path_id,
    public,
    read_json,
    retry_after,
    set_status,
)
from ._entity_routes import add_file
from ._state import EmulatorState, get_state, json_response, now_iso
from ._stores import Entity

__all__ = ["EMULATOR_REGION", "EMULATOR_RESOURCE_ID", "register"]

EMULATOR_RESOURCE_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/speechrest"
    "/providers/Microsoft.CognitiveServices/accounts/speechrest-emulator"
)
"""The Azure resource id the emulator answers as (source and target of copies)."""
EMULATOR_REGION = "local"
AUTHORIZATION_LIFETIME = timedelta(hours=24)
_FIELDS = (
    "targetResourceRegion",
    "targetResourceId",
    "targetResourceEndpoint",
    "sourceResourceId",
    "expirationDateTime",
    "id",
)


def _is_resource_id(value: object) -> bool:
    text = value.lower() if isinstance(value, str) else ""
    return text.startswith("/subscriptions/") and (
        "/providers/microsoft.cognitiveservices/accounts/" in text
    )


async def authorize_copy(request: web.Request) -> web.StreamResponse:
    state = get_state(request)
    body = await read_json(request)
    if not _is_resource_id(body.get("sourceResourceId")):
        raise bad(
            "sourceResourceId must be the Azure resource id of a Speech resource.",
            "InvalidSourceAzureResourceId",
        )
    expiry = datetime.now(UTC) + AUTHORIZATION_LIFETIME
    authorization: dict[str, Any] = {
        "targetResourceRegion": EMULATOR_REGION,
        "targetResourceId": EMULATOR_RESOURCE_ID,
        "targetResourceEndpoint": state.base_url,
        "sourceResourceId": body["sourceResourceId"],
        "expirationDateTime": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "id": new_id(),
    }
    state.stores.copy_authorizations[authorization["id"]] = authorization
    return json_response(authorization)


async def copy_model(request: web.Request) -> web.StreamResponse:
    state = get_state(request)
    body = await read_json(request)
    missing = [f for f in _FIELDS if not isinstance(body.get(f), str) or not body[f]]
    if missing:
        raise bad(f"The copy authorization lacks {', '.join(missing)}.", "InvalidPayload")
    model_id = path_id(request)
    source = state.stores.models.get(model_id)
    if source is None:
        raise not_found("model", model_id)
    if source["status"] != "Succeeded":
        raise bad(
            f"The model is {source['status']}; only a Succeeded model can be copied.",
            "InvalidModel",
        )
    issued = state.stores.copy_authorizations.get(body["id"])
    if issued is None or issued["targetResourceId"] != body["targetResourceId"]:
        raise ApiError(
            403,
            "Forbidden",
            "The target resource did not issue this copy authorization.",
            "InvalidPermissions",
        )
    if datetime.fromisoformat(issued["expirationDateTime"]) <= datetime.now(UTC):
        raise bad(
            "The copy authorization expired; ask the target resource for a new one.",
            "ModelCopyAuthorizationExpired",
        )
    operation_id = new_id()
    now = now_iso()
    operation: Entity = {
        "id": operation_id,
        "self": state.url(f"/operations/models/copy/{operation_id}"),
        "createdDateTime": now,
        "lastActionDateTime": now,
        "status": "NotStarted",
    }
    state.stores.model_copies[operation_id] = operation
    state.spawn(_run_copy(state, operation, model_id))
    headers = {"Operation-Location": operation["self"], **retry_after(state, [operation])}
    return json_response(operation, status=202, headers=headers)


async def _run_copy(state: EmulatorState, operation: Entity, model_id: str) -> None:
    await asyncio.sleep(state.timing.queue_delay)
    set_status(operation, "Running")
    await asyncio.sleep(state.timing.run_time)
    source = state.stores.models.get(model_id)
    if source is None:
        operation["error"] = {
            "code": "InvalidModel",
            "message": "The source model was deleted before the copy finished.",
        }
        set_status(operation, "Failed")
        return
    new = new_id()
    model = {
        k: copy.deepcopy(v) for k, v in source.items() if not k.startswith("_") and k != "project"
    }
    model["self"] = state.url(f"/models/{new}")
    model["createdDateTime"] = now_iso()
    model["links"] = custom_model_links(state, new)
    for file in source.get("_files", []):
        content = state.stores.blobs.get(file["blob"])
        if content is not None:
            add_file(state, "models", model, file["name"], file["kind"], content)
    set_status(model, "Succeeded")
    state.stores.models[new] = model
    operation["result"] = {"link": model["self"]}
    set_status(operation, "Succeeded")
    await state.emit("modelCreation", model["self"])
    await state.emit("modelCompletion", model["self"])


async def get_copy(request: web.Request) -> web.StreamResponse:
    state = get_state(request)
    operation_id = path_id(request)
    operation = state.stores.model_copies.get(operation_id)
    if operation is None:
        raise not_found("operation", operation_id)
    return json_response(public(operation), headers=retry_after(state, [operation]))


def register(app: web.Application, state: EmulatorState) -> None:
    app.router.add_post("/speechtotext/models:authorizecopy", handler(authorize_copy))
    app.router.add_post("/speechtotext/models/{id}:copy", handler(copy_model))
    app.router.add_get("/speechtotext/operations/models/copy/{id}", handler(get_copy))
