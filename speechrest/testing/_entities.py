"""What the emulated groups share: service-shaped errors (:class:`ApiError`, raised from
any handler wrapped with :func:`handler`), path and query parameters, body checks and
references. The generic routes and the status lifecycle of entities are in
``_entity_routes``.

Entities are kept as the wire JSON the service returns, in ``state.stores.<group>`` keyed
by id. Keys starting with ``_`` are private bookkeeping and never served.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from aiohttp import web
from yarl import URL

from ._state import EmulatorState, Handler, error_response, now_iso
from ._stores import Entity

__all__ = [
    "SUBMIT_LOCALES",
    "SUPPORTED_LOCALES",
    "TERMINAL",
    "TRANSCRIBE_LOCALES",
    "ApiError",
    "bad",
    "check_fields",
    "check_project",
    "find_model",
    "handler",
    "id_of",
    "in_project",
    "merge_patch",
    "new_id",
    "not_found",
    "path_id",
    "public",
    "read_json",
    "ref_path",
    "refers_to",
    "resolve_ref",
    "retry_after",
    "sas_minutes",
    "set_status",
]

SUPPORTED_LOCALES = (
    "de-DE",
    "en-AU",
    "en-GB",
    "en-IN",
    "en-US",
    "es-ES",
    "es-MX",
    "fr-CA",
    "fr-FR",
    "it-IT",
    "ja-JP",
    "ko-KR",
    "pt-BR",
    "zh-CN",
)
"""Locales the emulated custom speech groups accept."""
TRANSCRIBE_LOCALES = ["de-DE", "en-GB", "en-IN", "en-US", "es-ES", "es-MX", "fr-FR", "it-IT"]
TRANSCRIBE_LOCALES += ["ja-JP", "ko-KR", "pt-BR", "zh-CN"]
"""Locales of fast transcription (``Transcriptions_ListSupportedLocales``: ``Transcribe``)."""
SUBMIT_LOCALES = sorted({*TRANSCRIBE_LOCALES, "ar-AE", "da-DK", "el-GR", "fi-FI", "hi-IN"} | {
    "nb-NO", "nl-NL", "pl-PL", "pt-PT", "ru-RU", "sv-SE", "tr-TR", "en-AU", "fr-CA",
})  # fmt: skip
"""Locales of batch transcription (``Transcriptions_ListSupportedLocales``: ``Submit``)."""
TERMINAL = ("Succeeded", "Failed")
"""The statuses an entity ends in."""
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_COMMON_FIELDS = frozenset({"displayName", "description", "customProperties", "locale"})
_READ_ONLY = frozenset(
    {"self", "createdDateTime", "lastActionDateTime", "status", "links", "properties"}
)
MAX_INT32 = 2**31 - 1


class ApiError(Exception):
    """An error answer in the service's shape, raised from deep inside a handler."""

    def __init__(self, status: int, code: str, message: str, inner: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.inner = status, code, message, inner

    def response(self) -> web.Response:
        return error_response(self.status, self.code, self.message, inner_code=self.inner)


def handler(fn: Handler) -> Handler:
    """Turn an :class:`ApiError` raised by ``fn`` into its error response."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await fn(request)
        except ApiError as exc:
            return exc.response()

    return wrapped


def bad(message: str, inner: str = "InvalidParameterValue") -> ApiError:
    return ApiError(400, "InvalidArgument", message, inner)


def not_found(what: str, entity_id: str) -> ApiError:
    """The service's 404 for an id that names nothing, e.g. ``not_found("dataset", id)``."""
    return ApiError(404, "NotFound", f"The {what} '{entity_id}' does not exist.")


def new_id() -> str:
    return str(uuid.uuid4())


def public(entity: Mapping[str, Any]) -> dict[str, Any]:
    """The entity as served: without private ``_`` keys."""
    return {k: v for k, v in entity.items() if not k.startswith("_")}


def path_id(request: web.Request, name: str = "id") -> str:
    """The UUID path parameter ``name``, lower-cased; anything else names nothing (404)."""
    value = request.match_info[name]
    if not _UUID.fullmatch(value):
        raise ApiError(404, "NotFound", f"The id '{value}' is not a valid UUID.")
    return value.lower()


def sas_minutes(request: web.Request, *, required: bool = False) -> int | None:
    """The ``sasLifetimeMinutes`` query parameter: an int32 from 0 (from 1 where
    ``required``, as the manifests need it), or None when absent and not required."""
    raw = request.query.get("sasLifetimeMinutes")
    if raw is None and not required:
        return None
    least = 1 if required else 0
    if raw is None or not raw.isascii() or not raw.isdigit() or not least <= int(raw) <= MAX_INT32:
        needed = "is required here: " if required else "must be "
        raise bad(
            f"sasLifetimeMinutes {needed}an integer from {least} to {MAX_INT32}.",
            "InvalidSasValidityDuration",
        )
    return int(raw)


def id_of(entity: Mapping[str, Any]) -> str:
    """The id of a stored entity (the last path segment of its ``self``)."""
    return str(entity["self"]).split("?")[0].rsplit("/", 1)[-1]


def set_status(entity: dict[str, Any], status: str) -> None:
    entity["status"] = status
    entity["lastActionDateTime"] = now_iso()


def retry_after(state: EmulatorState, entities: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``Retry-After`` when any of ``entities`` has not finished."""
    if any(e.get("status", "Succeeded") not in TERMINAL for e in entities):
        return {"Retry-After": str(state.timing.retry_after)}
    return {}


# -- request bodies -----------------------------------------------------------------------


async def read_json(request: web.Request, kind: type = dict) -> Any:
    """The JSON body (an object, or a list with ``kind=list``), or a 400: not JSON (``NaN``
    and ``Infinity`` are not), not UTF-8, nested too deeply."""
    if request.content_type not in ("application/json", "application/merge-patch+json"):
        raise ApiError(415, "UnsupportedMediaType", "The request body must be application/json.")
    raw = await request.read()
    try:
        body = json.loads(raw.decode("utf-8") or "null", parse_constant=_not_a_number)
    except (ValueError, RecursionError):
        raise bad("The request body is not valid JSON.", "InvalidRequestBodyFormat") from None
    if not isinstance(body, kind):
        raise bad(
            f"The request body must be a JSON {'array' if kind is list else 'object'}.",
            "InvalidRequestBodyFormat",
        )
    return body


def _not_a_number(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def check_fields(
    body: Mapping[str, Any],
    allowed: Iterable[str],
    *,
    required: Iterable[str] = (),
    create: bool = False,
    locales: Collection[str] = SUPPORTED_LOCALES,
) -> None:
    """Check the common fields of a create (``create=True``) or update body; ``locale``
    must be one of ``locales``."""
    known = set(allowed) | (_READ_ONLY if create else set())
    unknown = sorted(set(body) - known)
    if unknown:
        raise bad(
            f"Unknown properties in the request body: {', '.join(unknown)}.", "InvalidPayload"
        )
    for name in required:
        if body.get(name) is None:
            raise bad(f"The property '{name}' is required.")
    for name in ("displayName", "description", "foundryProjectName", "contentUrl"):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise bad(f"The property '{name}' must be a string.")
    if "displayName" in body and not (body["displayName"] or "").strip():
        raise bad("The property 'displayName' must not be empty.")
    if "locale" in body:
        locale = body["locale"]
        if locale not in locales:
            raise bad(f"The locale '{locale}' is not supported.", "InvalidLocale")
    props = body.get("customProperties")
    if props is not None:
        if not isinstance(props, dict) or not all(
            isinstance(k, str) and isinstance(v, str | None) for k, v in props.items()
        ):
            raise bad("customProperties must map strings to strings.")
        if len(props) > 10 or any(len(k) > 64 or len(v or "") > 256 for k, v in props.items()):
            raise bad(
                "customProperties allows at most 10 entries, keys of at most 64 characters "
                "and values of at most 256 characters."
            )


def merge_patch(entity: dict[str, Any], patch: Mapping[str, Any]) -> None:
    """Apply a JSON merge patch (RFC 7396): objects merge, ``null`` removes."""
    for key, value in patch.items():
        if value is None:
            entity.pop(key, None)
        elif isinstance(value, dict) and isinstance(entity.get(key), dict) and key != "project":
            merge_patch(entity[key], value)
        else:
            entity[key] = value


# -- references ---------------------------------------------------------------------------


def ref_path(ref: Any, name: str, inner: str) -> list[str]:
    """The path segments after ``/speechtotext`` of an ``EntityReference``."""
    url = ref.get("self") if isinstance(ref, dict) else None
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise bad(f"The property '{name}' must be an object with a 'self' URL.", inner)
    parts = URL(url).path.strip("/").split("/")
    if len(parts) < 3 or parts[0] != "speechtotext" or not _UUID.fullmatch(parts[-1]):
        raise bad(f"The reference '{name}' ({url}) is not a valid entity URL.", inner)
    return parts[1:]


def resolve_ref(
    store: Mapping[str, Entity], body: Mapping[str, Any], name: str, group: str, inner: str
) -> Entity | None:
    """The entity that ``body[name]`` references in ``group`` (kept in ``store``), or None
    when absent."""
    ref = body.get(name)
    if ref is None:
        return None
    parts = ref_path(ref, name, inner)
    if len(parts) != 2 or parts[0] != group:
        raise bad(f"The reference '{name}' must point to one of the {group}.", inner)
    entity = store.get(parts[1].lower())
    if entity is None:
        raise bad(f"The {group[:-1]} referenced by '{name}' does not exist.", inner)
    return entity


def find_model(state: EmulatorState, body: Mapping[str, Any], name: str, locale: str) -> Entity:
    """The custom or base model ``body[name]`` references; it must be usable, for
    ``locale``."""
    parts = ref_path(body.get(name), name, "InvalidModel")
    model_id = parts[-1].lower()
    if parts[:-1] == ["models", "base"]:
        model = state.stores.base_models.get(model_id)
    elif parts[:-1] == ["models"]:
        model = state.stores.models.get(model_id)
    else:
        raise bad(f"The reference '{name}' must point to a model.", "InvalidModel")
    if not isinstance(model, dict):
        raise bad(f"The model referenced by '{name}' does not exist.", "InvalidModel")
    if model.get("status", "Succeeded") == "Failed":
        raise bad(f"The model referenced by '{name}' has failed.", "InvalidModel")
    if model.get("status", "Succeeded") != "Succeeded":
        raise bad(f"The model referenced by '{name}' is not trained yet.", "InvalidModel")
    if model.get("locale") != locale:
        raise bad(
            f"The locale of {name} ('{model.get('locale')}') is not '{locale}'.", "ModelMismatch"
        )
    return model


def check_project(state: EmulatorState, body: Mapping[str, Any]) -> None:
    """``body["project"]``, when given, must be a project of the emulator."""
    resolve_ref(state.stores.projects, body, "project", "projects", "InvalidProject")


def refers_to(ref: Any, entity_id: str) -> bool:
    """Whether the ``EntityReference`` ``ref`` points to the entity ``entity_id``."""
    url = ref.get("self") if isinstance(ref, dict) else None
    return isinstance(url, str) and URL(url).path.rstrip("/").endswith("/" + entity_id)


def in_project(entity: Mapping[str, Any], project_id: str) -> bool:
    return refers_to(entity.get("project"), project_id)
