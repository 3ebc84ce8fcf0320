"""Input checks: each rule about a caller's argument, written once.

Every public method checks its arguments here before any request is sent, and a bad value
raises :class:`~speechrest.errors.InvalidInputError` saying what was wrong and what is
expected. Fast and batch transcription, custom speech and the client share these.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, cast

from yarl import URL

from ._redact import redact_url
from .errors import ClientStateError, InvalidInputError
from .types import WireEnum

__all__ = [
    "MAX_CONCURRENCY",
    "MAX_INT32",
    "MAX_SPEAKERS",
    "MIN_SPEAKERS",
    "channels",
    "concurrency",
    "custom_properties",
    "enum",
    "flag",
    "header_value",
    "http_url",
    "integer",
    "items",
    "iterable",
    "locale",
    "locales",
    "max_speakers",
    "name",
    "number",
    "on_asyncio",
    "optional",
    "positive",
    "strings",
    "text",
]

E = TypeVar("E", bound=WireEnum)
R = TypeVar("R")
T = TypeVar("T")

MIN_SPEAKERS, MAX_SPEAKERS = 2, 35
"""The range of ``maxSpeakers`` in fast and batch diarization."""
MAX_INT32 = 2**31 - 1
"""The largest ``int32``, the wire type of counts such as ``skip``, ``top`` and
``sasLifetimeMinutes``."""
MAX_CONCURRENCY = 10_000
"""The most requests a fan-out (``concurrency=``) keeps in flight: far beyond the service's
quotas, small enough that a typo cannot spawn a million tasks."""
MAX_CUSTOM_PROPERTIES = 10
MAX_PROPERTY_KEY = 64
MAX_PROPERTY_VALUE = 256


def integer(value: object, what: str, low: int | None = None, high: int | None = None) -> int:
    """An integer (not a bool) within ``low..high``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"{what} must be an integer; got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise InvalidInputError(f"{what} must be {_range(low, high)}; got {value}")
    return value


def positive(value: object, what: str) -> int:
    """A positive integer, such as ``concurrency``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{what} must be a positive integer; got {value!r}")
    return value


def concurrency(value: object, what: str = "concurrency") -> int:
    """How many requests a fan-out keeps in flight: 1 to :data:`MAX_CONCURRENCY`."""
    return integer(value, what, 1, MAX_CONCURRENCY)


def number(value: object, what: str, low: float | None = None, high: float | None = None) -> float:
    """A finite real number (not a bool) within ``low..high``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(f"{what} must be a finite number; got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise InvalidInputError(f"{what} must be {_range(low, high)}; got {value}")
    return value


def _range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"between {low} and {high}"
    return f"at least {low}" if low is not None else f"at most {high}"


def flag(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{what} must be True or False; got {value!r}")
    return value


def optional(check: Callable[..., R], value: object, *args: Any) -> R | None:
    """``check(value, *args)``, or None when ``value`` is None (an option left out)."""
    return None if value is None else check(value, *args)


def enum(value: object, cls: type[E], what: str) -> E:
    try:
        return cls.parse(value, what)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None


def iterable(value: T, what: str, example: str) -> T:
    """A list-like argument, left unconsumed. A string or bytes is refused: it is an
    iterable of characters, almost never what was meant."""
    if isinstance(value, str | bytes | bytearray | memoryview) or not isinstance(value, Iterable):
        raise InvalidInputError(
            f"{what} must be a list (or another iterable) such as {example}; got a "
            f"{type(value).__name__} (wrap a single value in a list)"
        )
    return value


def items(value: object, what: str, example: str) -> list[Any]:
    """The items of a list-like argument (see :func:`iterable`)."""
    return list(cast("Iterable[Any]", iterable(value, what, example)))


def strings(value: object, what: str, example: str) -> list[str]:
    """A non-empty list of non-empty strings."""
    values = items(value, what, example)
    if not values or not all(isinstance(v, str) and v.strip() for v in values):
        raise InvalidInputError(
            f"{what} must be non-empty strings such as {example}; got {value!r}"
        )
    return values


def name(value: object, what: str = "display_name") -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{what} must be a non-empty string; got {value!r}")
    return value


def text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string; got {type(value).__name__}")
    return value


def header_value(value: object, what: str) -> str:
    """A string that can travel in an HTTP header: no control characters (a line break
    would end the header). The value itself is not shown: it may be a secret."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{what} must be a non-empty string")
    if not value.isprintable() or not value.isascii():
        raise InvalidInputError(
            f"{what} must be printable ASCII without control characters or line breaks"
        )
    return value


def locale(value: object, what: str = "locale") -> str:
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise InvalidInputError(
            f"{what} must be a non-empty locale name such as 'en-US'; got {value!r}"
        )
    return value


def locales(value: object) -> list[str]:
    """Candidate locales: a list of locale names (a single name is accepted too)."""
    values = [value] if isinstance(value, str) else items(value, "locales", "['en-US']")
    if not values:
        raise InvalidInputError("locales must hold at least one locale name such as 'en-US'")
    return [locale(v, "each of locales") for v in values]


def http_url(value: object, what: str) -> str:
    """An absolute http(s) URL."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a URL string; got {type(value).__name__}")
    text = value.strip()
    try:
        url = URL(text)
    except ValueError:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise InvalidInputError(
            f"{what} must be an absolute http(s) URL; got {redact_url(text)[:80]!r}"
        )
    return text


def channels(value: object, at_most: int | None = None) -> list[int]:
    """Distinct 0-based channel numbers, at least one (and at most ``at_most``)."""
    values = items(value, "channels", "[0, 1]")
    if (
        not values
        or any(isinstance(c, bool) or not isinstance(c, int) or c < 0 for c in values)
        or len(set(values)) != len(values)
    ):
        raise InvalidInputError(
            f"channels must be distinct 0-based integers such as [0, 1]; got {value!r}"
        )
    if at_most is not None and len(values) > at_most:
        raise InvalidInputError(
            f"at most {at_most} channels can be transcribed separately; got {values}"
        )
    return values


def max_speakers(value: object) -> int:
    return integer(value, "max_speakers", MIN_SPEAKERS, MAX_SPEAKERS)


def custom_properties(value: object) -> dict[str, str]:
    """At most 10 string entries; keys up to 64 characters, values up to 256."""
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            f"custom_properties must be a dict of strings; got {type(value).__name__}"
        )
    if len(value) > MAX_CUSTOM_PROPERTIES:
        raise InvalidInputError(
            f"custom_properties holds at most {MAX_CUSTOM_PROPERTIES} entries; got {len(value)}"
        )
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise InvalidInputError(
                f"custom_properties keys and values must be strings; got {key!r}: {item!r}"
            )
        if not key or len(key) > MAX_PROPERTY_KEY:
            raise InvalidInputError(
                f"custom_properties keys must be 1 to {MAX_PROPERTY_KEY} characters; got {key!r}"
            )
        if len(item) > MAX_PROPERTY_VALUE:
            raise InvalidInputError(
                f"custom_properties value of {key!r} is {len(item)} characters; "
                f"at most {MAX_PROPERTY_VALUE} are allowed"
            )
    return dict(value)


def on_asyncio(what: str) -> None:
    """Raise :class:`ClientStateError` unless called on a running asyncio event loop:
    aiohttp, under ``what``, runs on asyncio only (not on trio, say)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise ClientStateError(
            f"{what} needs asyncio: its HTTP library, aiohttp, runs on asyncio only. Run your "
            "code with asyncio.run(main()) or anyio.run(main) (anyio's default backend, "
            "asyncio), not under trio"
        ) from None
