"""Redaction of secrets in anything we show: URLs with SAS signatures, keys, tokens."""

from __future__ import annotations

import re

__all__ = ["Secret", "redact_url"]

_SECRET_PARAMS = re.compile(
    r"(?i)([?&](?:sig|signature|token|access_token|code|key|subscription-key)=)[^&#\s]*"
)


def redact_url(url: object) -> str:
    """``url`` with SAS signatures and other credential query values replaced by ``REDACTED``."""
    return _SECRET_PARAMS.sub(r"\1REDACTED", str(url))


class Secret:
    """A string that never shows itself in ``repr()``/``str()``; ``reveal()`` gets it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")
