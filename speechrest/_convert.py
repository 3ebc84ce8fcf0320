"""The wire format: cattrs converters that (un)structure the attrs models in ``types/``.

This is the only module that knows how models look on the wire:

* attribute names are snake_case, wire keys camelCase (``display_name`` <-> ``displayName``);
* ``*_ms`` attributes are ``*Milliseconds`` keys (``offset_ms`` <-> ``offsetMilliseconds``);
* a trailing underscore is dropped (``self_`` <-> ``self``);
* irregular keys are listed in ``_RENAMES`` (``next_link`` <-> ``@nextLink``, ...);
* datetimes are ISO 8601 (``Z`` for UTC); enums are their wire values, unknown values are kept;
* unset (``None``) optional fields are omitted from request bodies;
* query parameters (:func:`query`), list pages (:func:`page_fields`), error bodies
  (:func:`error_fields`), the multipart parts of fast transcription (``PART_*``) and the
  list filter of a sweep (:func:`sweep_filter`).

Production converters ignore unknown keys (the service adds fields); ``strict=True`` forbids
them, which the tests use against the official examples to catch model drift.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.preconf.json import make_converter as make_json_converter

from .errors import ResponseValidationError
from .types import Status, WireEnum

__all__ = [
    "PART_AUDIO",
    "PART_DEFINITION",
    "converter",
    "error_fields",
    "make_converter",
    "page_fields",
    "query",
    "structure",
    "sweep_filter",
    "unstructure",
    "wire_name",
]

T = TypeVar("T")

# Irregular wire keys, by attribute name, or by (class name, attribute name) when the
# same attribute name is regular elsewhere. Each operation group keeps its own block.
_RENAMES: dict[str | tuple[str, str], str] = {
    # common
    "next_link": "@nextLink",
    # batch transcription
    "masked_itn": "maskedITN",
    ("TranscriptionLocales", "transcribe"): "Transcribe",
    ("TranscriptionLocales", "submit"): "Submit",
}


_QUERY_RENAMES = {"block_id": "blockid"}
"""Irregular query parameter names, by keyword."""
PART_DEFINITION = "definition"
"""The multipart field of ``Transcriptions_Transcribe`` that holds the definition JSON."""
PART_AUDIO = "audio"
"""The multipart field of ``Transcriptions_Transcribe`` that holds the audio file."""


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@functools.cache
def wire_name(cls_name: str, attribute: str) -> str:
    """The wire key of ``attribute`` on the class named ``cls_name``."""
    special = _RENAMES.get((cls_name, attribute)) or _RENAMES.get(attribute)
    if special is not None:
        return special
    name = attribute.rstrip("_")
    if name.endswith("_ms"):
        return _camel(name[:-3]) + "Milliseconds"
    return _camel(name)


def _overrides(cls: type) -> dict[str, Any]:
    return {a.name: override(rename=wire_name(cls.__name__, a.name)) for a in attrs.fields(cls)}


def _unstructure_datetime(value: datetime) -> str:
    if value.tzinfo is not None and value.utcoffset() == UTC.utcoffset(None):
        return value.replace(tzinfo=None).isoformat() + "Z"
    return value.isoformat()


def _structure_datetime(value: Any, _: type) -> datetime:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 date-time string, got {type(value).__name__}")
    return datetime.fromisoformat(value)


def _structure_enum(value: Any, cls: type[WireEnum]) -> WireEnum:
    if not isinstance(value, str):
        raise TypeError(f"expected a string for {cls.__name__}, got {type(value).__name__}")
    return cls(value)


def _structure_strict_float(value: Any, _: type) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return float(value)


def _structure_strict_int(value: Any, _: type) -> int:
    # Accept 7600000.0 (the batch format prints ticks as floats), refuse "12" and 1.5.
    kind = type(value)
    if kind is int:  # the fast path: a batch result file has hundreds of thousands
        return value  # type: ignore[no-any-return]
    if kind is float and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"expected an integer, got {value!r}")
    return int(value)


def _structure_strict_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _structure_strict_bool(value: Any, _: type) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {type(value).__name__}")
    return value


def _is_optional(t: Any) -> bool:
    args = typing.get_args(t)
    return (
        typing.get_origin(t) in (typing.Union, types.UnionType)
        and len(args) == 2
        and type(None) in args
    )


def _optional_hook(c: cattrs.Converter) -> Callable[[Any], Callable[[Any, Any], Any]]:
    """``X | None``: resolve the hook of ``X`` once, not on every value (cattrs' default
    looks it up per value, which dominates structuring large documents)."""

    def factory(t: Any) -> Callable[[Any, Any], Any]:
        inner_type = next(a for a in typing.get_args(t) if a is not type(None))
        inner = c.get_structure_hook(inner_type)

        def hook(value: Any, _: Any) -> Any:
            return None if value is None else inner(value, inner_type)

        return hook

    return factory


def make_converter(*, strict: bool = False, detailed: bool = True) -> cattrs.Converter:
    """Build a converter with speechrest's wire rules.

    ``strict=True`` rejects keys that the models do not know; use it to check that
    stored documents match the models exactly. ``detailed=False`` structures faster but
    says less about what is wrong when a document does not fit.
    """
    c = make_json_converter(
        forbid_extra_keys=strict, omit_if_default=True, detailed_validation=detailed
    )
    c.register_unstructure_hook(datetime, _unstructure_datetime)
    c.register_structure_hook(datetime, _structure_datetime)
    c.register_structure_hook(WireEnum, _structure_enum)
    c.register_unstructure_hook(WireEnum, lambda v: v.value)
    # JSON scalars are checked, not coerced: a string where a number belongs is an error.
    c.register_structure_hook(float, _structure_strict_float)
    c.register_structure_hook(int, _structure_strict_int)
    c.register_structure_hook(str, _structure_strict_str)
    c.register_structure_hook(bool, _structure_strict_bool)
    c.register_structure_hook_factory(_is_optional, _optional_hook(c))
    c.register_structure_hook_factory(
        attrs.has, lambda cl: make_dict_structure_fn(cl, c, **_overrides(cl))
    )
    c.register_unstructure_hook_factory(
        attrs.has,
        lambda cl: make_dict_unstructure_fn(cl, c, _cattrs_omit_if_default=True, **_overrides(cl)),
    )
    return c


converter = make_converter()
"""The converter speechrest uses for every request and response."""
_quick = make_converter(detailed=False)
"""The same rules without per-field error bookkeeping (a sixth faster on a long
transcript): tried first; a document it refuses is structured again by ``converter``."""


_quick_hooks: dict[Any, Callable[[Any, Any], Any]] = {}


def structure(data: Any, cls: type[T], operation: str, request_id: str | None = None) -> T:
    """Structure a decoded JSON body, turning any failure into ResponseValidationError
    that names every field in error."""
    hook = _quick_hooks.get(cls)
    if hook is None:
        hook = _quick_hooks[cls] = _quick.get_structure_hook(cls)
    try:
        return hook(data, cls)  # type: ignore[no-any-return]
    except Exception:  # structured again, to say what is wrong
        return _structure_detailed(data, cls, operation, request_id)


def _structure_detailed(data: Any, cls: type[T], operation: str, request_id: str | None) -> T:
    try:
        return converter.structure(data, cls)
    except cattrs.BaseValidationError as exc:
        problems = cattrs.transform_error(exc, path=cls.__name__)
        raise ResponseValidationError(operation, problems, request_id=request_id) from exc
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        problem = f"{type(exc).__name__}: {exc} @ {cls.__name__}"
        raise ResponseValidationError(operation, [problem], request_id=request_id) from exc


def unstructure(value: Any) -> Any:
    """Unstructure a model (or a list/dict of models) into JSON-ready data."""
    return converter.unstructure(value)


def query(**params: Any) -> dict[str, Any]:
    """Query parameters by their wire names (``sas_lifetime_minutes`` ->
    ``sasLifetimeMinutes``); None values are left out."""
    return {
        _QUERY_RENAMES.get(name) or _camel(name): value
        for name, value in params.items()
        if value is not None
    }


def page_fields(data: Any) -> tuple[list[Any], str | None] | None:
    """The items and the next link of a list page (``values``, ``@nextLink``), or None
    when ``data`` is not a page."""
    if not isinstance(data, dict):
        return None
    values = data.get("values")
    if not isinstance(values, list):
        return None
    link = data.get(_RENAMES["next_link"])
    return values, link if isinstance(link, str) and link else None


def sweep_filter(since: datetime | None) -> str:
    """The list ``filter`` of the entities still running, and of those whose last action
    was at ``since`` or later (the service's grammar: enum values quoted, date-times not)."""
    running = f"status eq '{Status.NOT_STARTED.value}' or status eq '{Status.RUNNING.value}'"
    if since is None:
        return running
    return f"{running} or lastActionDateTime ge {since.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def error_fields(data: Any) -> tuple[str | None, str | None, str | None]:
    """(code, inner code, message) of an error body, in either of the service's shapes:
    ``{"code", "message", "innerError": {"code"}}`` or ``{"error": {...}}``."""
    if not isinstance(data, dict):
        return None, None, None
    if isinstance(data.get("error"), dict):
        data = data["error"]
    code = data.get("code")
    message = data.get("message")
    inner = data.get("innerError") or data.get("innererror")
    inner_code = inner.get("code") if isinstance(inner, dict) else None
    return (
        code if isinstance(code, str) else None,
        inner_code if isinstance(inner_code, str) else None,
        message if isinstance(message, str) else None,
    )
