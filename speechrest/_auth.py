"""Credentials: a resource key, or bearer tokens from a token provider, refreshed before
they expire. Secrets are kept in :class:`~speechrest._redact.Secret` so that no ``repr()``,
log line or exception shows them."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any, Protocol

import anyio

from . import _checks as check
from ._redact import Secret
from .errors import InvalidInputError

__all__ = ["SCOPE", "Auth", "TokenProvider"]

SCOPE = "https://cognitiveservices.azure.com/.default"
"""The token scope of Azure AI services."""
REFRESH_MARGIN = 300.0
"""A token is refreshed when it has less than this many seconds left."""
KEY_HEADER = "Ocp-Apim-Subscription-Key"


class TokenProvider(Protocol):
    """Anything with ``async get_token(*scopes)`` returning an object with ``token`` and
    ``expires_on`` (epoch seconds): ``azure.identity.aio`` credentials fit."""

    def get_token(self, *scopes: str) -> Awaitable[Any]: ...


class Auth:
    """Key or bearer token; the token is fetched lazily and refreshed before it expires."""

    def __init__(self, key: str | None, credential: TokenProvider | None) -> None:
        if (key is None) == (credential is None):
            raise InvalidInputError(
                "give exactly one of key= (a Speech resource key) or credential= "
                "(an async token provider such as azure.identity.aio.DefaultAzureCredential)"
            )
        self._key = None if key is None else Secret(_checked_key(key))
        self._credential = credential
        self._token: Secret | None = None
        self._expires_on = 0.0
        self._lock = anyio.Lock()

    @property
    def key(self) -> str | None:
        """The resource key, or None when a credential is used."""
        return None if self._key is None else self._key.reveal()

    @key.setter
    def key(self, value: str) -> None:
        if self._key is None:
            raise InvalidInputError("this client authenticates with a credential, not a key")
        self._key = Secret(_checked_key(value))

    def header(self) -> tuple[str, str] | None:
        """The credential's header: the key, or a bearer token that is not about to
        expire; None when a token must be fetched first (:meth:`refresh`)."""
        if self._key is not None:
            return KEY_HEADER, self._key.reveal()
        if self._token is None or self._expires_on - time.time() < REFRESH_MARGIN:
            return None
        return "Authorization", f"Bearer {self._token.reveal()}"

    async def refresh(self) -> tuple[str, str]:
        """Fetch a new token (once for all the requests that need it); its header."""
        assert self._credential is not None
        async with self._lock:
            if self._token is None or self._expires_on - time.time() < REFRESH_MARGIN:
                access = await self._credential.get_token(SCOPE)
                token = getattr(access, "token", None)
                expires_on = getattr(access, "expires_on", None)
                self._token = Secret(check.header_value(token, "the credential's token"))
                self._expires_on = float(check.number(expires_on, "the credential's expires_on"))
        return "Authorization", f"Bearer {self._token.reveal()}"


def _checked_key(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError("key= is empty: pass the Speech resource key")
    return check.header_value(value, "key=")
