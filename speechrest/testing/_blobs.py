"""Result and data files served like Blob Storage: SAS-signed URLs, no subscription key.

Every group that exposes files (``links.contentUrl``) keeps them in ``state.stores.blobs``
(a :class:`~._stores.BlobStore`) and hands out its ``sas_url()`` links. A missing, wrong or
expired signature gets 403 ``AuthenticationFailed``, as Blob Storage answers.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from aiohttp import web

from ._state import EmulatorState, get_state

__all__ = ["register"]


def _blob_error(status: int, code: str, message: str) -> web.Response:
    body = (
        f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code>'
        f"<Message>{message}</Message></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")


async def _get_blob(request: web.Request) -> web.StreamResponse:
    store = get_state(request).stores.blobs
    name = request.match_info["name"]
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
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return web.Response(body=content, content_type=kind)


def register(app: web.Application, state: EmulatorState) -> None:
    app.router.add_get("/blobs/{name:.+}", _get_blob)
