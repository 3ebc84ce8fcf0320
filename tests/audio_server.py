"""A loopback HTTP server that serves audio files like a blob container, for batch tests.

``GET /<container>/<name>`` returns the file; ``GET /<container>?restype=container&comp=list``
returns the blob listing XML that Azure Blob Storage returns (one page). Every request is
recorded in ``requests`` as ``(path, query)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from xml.sax.saxutils import escape

import pytest
from aiohttp import web


class AudioServer:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.base = ""
        self._runner: web.AppRunner | None = None

    def add(self, path: str, content: bytes) -> str:
        """Serve ``content`` at ``/<path>``; returns its URL."""
        self.files[path.lstrip("/")] = content
        return self.url(path)

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        self.requests.append((path, dict(request.query)))
        if request.query.get("comp") == "list" and request.query.get("restype") == "container":
            prefix = path.rstrip("/") + "/"
            names = sorted(n[len(prefix) :] for n in self.files if n.startswith(prefix))
            blobs = "".join(f"<Blob><Name>{escape(n)}</Name></Blob>" for n in names)
            xml = (
                '<?xml version="1.0" encoding="utf-8"?>'
                f'<EnumerationResults ContainerName="{escape(self.url(path))}">'
                f"<Blobs>{blobs}</Blobs><NextMarker /></EnumerationResults>"
            )
            return web.Response(text=xml, content_type="application/xml")
        content = self.files.get(path)
        if content is None:
            return web.Response(status=404, text="BlobNotFound")
        return web.Response(body=content, content_type="audio/wav")

    async def __aenter__(self) -> AudioServer:
        app = web.Application()
        app.router.add_get("/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def audio_server() -> AsyncIterator[AudioServer]:
    async with AudioServer() as server:
        yield server
