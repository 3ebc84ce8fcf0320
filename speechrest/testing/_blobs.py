"""Result and data files served like blob storage: SAS-signed URLs, no subscription key.

Every group that exposes files (``links.contentUrl``) stores them here and hands out
``sas_url()`` links. A link carries an expiry (``se``) and an HMAC signature (``sig``);
a missing, wrong or expired signature gets 403 ``AuthenticationFailed``, as blob storage
answers.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from ._emulator import EmulatorState, get_state

__all__ = ["BlobStore", "blobs", "register"]

DEFAULT_SAS_MINUTES = 12 * 60


class BlobStore:
    """Named blobs (bytes or files on disk) and their signed URLs."""

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)
        self._blobs: dict[str, bytes | Path] = {}

    def put(self, name: str, content: bytes | Path) -> None:
        self._blobs[name] = content

    def delete_prefix(self, prefix: str) -> None:
        for name in [n for n in self._blobs if n.startswith(prefix)]:
            del self._blobs[name]

    def size(self, name: str) -> int:
        content = self._blobs[name]
        return len(content) if isinstance(content, bytes) else content.stat().st_size

    def sas_url(self, state: EmulatorState, name: str, lifetime_minutes: int | None = None) -> str:
        minutes = DEFAULT_SAS_MINUTES if lifetime_minutes is None else lifetime_minutes
        expiry = int(time.time() + minutes * 60)
        se = datetime.fromtimestamp(expiry, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        sig = self._sign(name, se)
        return f"{state.base_url}/blobs/{quote(name)}?sv=2025-01-05&sr=b&sp=r&se={se}&sig={sig}"

    def _sign(self, name: str, se: str) -> str:
        mac = hmac.new(self._secret, f"{name}\n{se}".encode(), hashlib.sha256)
        return mac.hexdigest()

    def check(self, name: str, se: str | None, sig: str | None) -> bool:
        if not se or not sig or not hmac.compare_digest(self._sign(name, se), sig):
            return False
        try:
            expiry = datetime.strptime(se, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return False
        return expiry.timestamp() > time.time()

    def get(self, name: str) -> bytes | Path | None:
        return self._blobs.get(name)


def blobs(state: EmulatorState) -> BlobStore:
    """The emulator's blob store."""
    store = state.stores.setdefault("blobs", BlobStore())
    assert isinstance(store, BlobStore)
    return store


def _blob_error(status: int, code: str, message: str) -> web.Response:
    body = (
        f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code>'
        f"<Message>{message}</Message></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")


async def _get_blob(request: web.Request) -> web.StreamResponse:
    state = get_state(request)
    name = request.match_info["name"]
    store = blobs(state)
    if not store.check(name, request.query.get("se"), request.query.get("sig")):
        return _blob_error(
            403,
            "AuthenticationFailed",
            "Server failed to authenticate the request: the signature is missing, wrong or "
            "expired.",
        )
    content = store.get(name)
    if content is None:
        return _blob_error(404, "BlobNotFound", "The specified blob does not exist.")
    if isinstance(content, Path):
        return web.FileResponse(content)
    return web.Response(body=content, content_type="application/json")


def register(app: web.Application, state: EmulatorState) -> None:
    app.router.add_get("/blobs/{name:.+}", _get_blob)
