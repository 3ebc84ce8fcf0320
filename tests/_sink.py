"""A web hook receiver served on loopback for tests: records the events it accepts."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import anyio
from aiohttp import web

from speechrest.webhooks import WebHookEvent, WebhookReceiver


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 and yield its base URL."""
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


class Sink:
    """A :class:`WebhookReceiver` mounted at ``/hooks/`` that keeps every event.

    ``status`` (when not 200) makes the server fail every request before the receiver
    sees it; ``wrong_token`` makes it answer challenges with something else.
    """

    def __init__(self, secret: str | None = "s3cret") -> None:
        self.events: list[WebHookEvent] = []
        self.requests: list[web.Request] = []
        self.status = 200
        self.wrong_token = False
        self._changed = anyio.Event()
        self.receiver = WebhookReceiver(secret=secret, on_event=self._record)
        self.url = ""

    def _record(self, event: WebHookEvent) -> None:
        self.events.append(event)
        self._changed.set()
        self._changed = anyio.Event()

    async def _front(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        if self.status != 200:
            return web.Response(status=self.status)
        if self.wrong_token and "validationToken" in request.query:
            return web.Response(text="not the token")
        return await self.receiver.handle(request)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/hooks/", self._front)
        return app

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Sink]:
        async with serve(self.app()) as base:
            self.url = base + "/hooks/"
            yield self

    def kinds(self) -> list[str]:
        return [e.kind.value for e in self.events]

    async def wait_for(self, predicate: Callable[[list[WebHookEvent]], bool]) -> None:
        """Wait until ``predicate(events)`` holds (a safety bound stops a hang)."""
        with anyio.fail_after(20):
            while not predicate(self.events):
                await self._changed.wait()

    async def wait_kind(self, kind: str, entity_id: str | None = None) -> WebHookEvent:
        def found(events: list[WebHookEvent]) -> bool:
            return any(_match(e, kind, entity_id) for e in events)

        await self.wait_for(found)
        return next(e for e in self.events if _match(e, kind, entity_id))


def _match(event: WebHookEvent, kind: str, entity_id: str | None) -> bool:
    return event.kind == kind and (entity_id is None or event.entity_id == entity_id)
