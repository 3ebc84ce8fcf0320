"""The emulator's page: what it received and did, live, in a browser.

The page is served at the emulator's root URL (``http://127.0.0.1:<port>/``); its JSON, its
server-sent events and its static files live under ``/_emulator/``, off the API's path
(``/speechtotext/...`` stays exactly the service's). Page requests skip the API's
middlewares: they are not recorded, metered, faulted or authenticated, so that an open page
changes nothing a test observes. They are answered to loopback clients only, and what they
show is redacted: no key or token, no SAS signature, no web hook secret.

- ``GET /``: the page (``static/index.html``; ``page.js`` and ``page.css`` beside it);
- ``GET /_emulator/api/snapshot``: everything the page shows, as JSON;
- ``GET /_emulator/api/requests/{seq}``: one request in detail (headers, the definition of a
  fast transcription);
- ``GET /_emulator/events``: server-sent events: a ``snapshot`` first, then an ``update``
  whenever something changed (new or answered requests, entities, deliveries, quotas).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web
from yarl import URL

from .._redact import redact_url
from ._faults import FaultPlan
from ._quota import Quotas
from ._state import STATE_KEY, EmulatorState, Handler, RequestRecord

__all__ = ["PAGE_PREFIX", "Page", "bypass", "register"]

PAGE_PREFIX = "/_emulator/"
STATIC = Path(__file__).with_name("static")
SHOWN_REQUESTS = 500
"""Most requests the page lists (the newest)."""
SHOWN_ENTITIES = 200
"""Most entities the page lists per group (the newest)."""
SHOWN_DELIVERIES = 50
"""Most deliveries the page lists per web hook (the newest)."""
TICK = 0.25
"""Seconds between two looks for changes, per open page."""
HEARTBEAT = 15.0
"""Seconds between two keep-alive comments on a quiet event stream."""
REDACTED = "REDACTED"
GROUPS = ("transcriptions", "datasets", "models", "endpoints", "evaluations", "projects")
_SECRET_HEADERS = frozenset(
    {"ocp-apim-subscription-key", "authorization", "proxy-authorization", "cookie"}
)
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "Referrer-Policy": "no-referrer",
}
_STATIC_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}


class Page:
    """What the page shows, built from the emulator's state, with every secret redacted."""

    def __init__(
        self, state: EmulatorState, quotas: Quotas | None, faults: FaultPlan | None
    ) -> None:
        self.state = state
        self.quotas = quotas
        self.faults = faults
        self.closing = asyncio.Event()
        """Set when the emulator stops: open event streams end."""

    # -- redaction ---------------------------------------------------------------------------

    def scrub(self, text: str) -> str:
        """``text`` without SAS signatures and without any key or token the emulator accepts."""
        text = redact_url(text)
        for secret in (*self.state.keys, *self.state.tokens):
            if secret:
                text = text.replace(secret, REDACTED)
        return text

    def scrub_json(self, value: Any) -> Any:
        """A JSON value with every string scrubbed and every ``secret`` replaced."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, Mapping):
            return {
                str(k): REDACTED if k == "secret" else self.scrub_json(v)
                for k, v in value.items()
                if not str(k).startswith("_")
            }
        if isinstance(value, list | tuple):
            return [self.scrub_json(v) for v in value]
        return value

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        shown = {}
        for name, value in headers.items():
            if name.lower() in _SECRET_HEADERS:
                scheme, sep, _ = value.partition(" ")
                shown[name] = f"{scheme} {REDACTED}" if sep else REDACTED
            else:
                shown[name] = self.scrub(value)
        return shown

    # -- requests ----------------------------------------------------------------------------

    def summary(self, record: RequestRecord) -> dict[str, Any]:
        url = URL.build(path=record.path, query=record.query) if record.query else record.path
        return {
            "seq": record.seq,
            "time": record.time,
            "method": record.method,
            "path": self.scrub(record.path),
            "url": self.scrub(str(url)),
            "status": record.status,
            "operation": record.operation,
            "answeredBy": record.answered_by,
            "requestId": record.request_id,
            "durationMs": None if record.duration is None else round(record.duration * 1000, 1),
        }

    def detail(self, record: RequestRecord) -> dict[str, Any]:
        return {
            **self.summary(record),
            "headers": self.headers(record.headers),
            "definition": self.scrub_json(record.definition),
        }

    def recent(self, after: int = 0) -> list[RequestRecord]:
        """The newest kept requests numbered after ``after``, newest first (at most
        :data:`SHOWN_REQUESTS`)."""
        found: list[RequestRecord] = []
        for record in reversed(self.state.requests):
            if record.seq <= after or len(found) == SHOWN_REQUESTS:
                break
            found.append(record)
        return found

    def find(self, seq: int) -> RequestRecord | None:
        requests = self.state.requests
        if requests:
            index = seq - requests[0].seq
            if 0 <= index < len(requests) and requests[index].seq == seq:
                return requests[index]
        return next((r for r in requests if r.seq == seq), None)

    # -- entities, deliveries, quotas --------------------------------------------------------

    def _entity(self, entity: Mapping[str, Any]) -> dict[str, Any]:
        error = entity.get("properties", {}).get("error") or {}
        return {
            "id": str(entity.get("self", "")).rsplit("/", 1)[-1].split("?", 1)[0],
            "name": self.scrub(str(entity.get("displayName", ""))),
            "status": entity.get("status"),
            "locale": entity.get("locale"),
            "created": entity.get("createdDateTime"),
            "lastAction": entity.get("lastActionDateTime"),
            "error": self.scrub(str(error.get("message", ""))) or None,
            "json": self.scrub_json(entity),
        }

    def _newest(self, entities: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        ordered = sorted(entities, key=lambda e: str(e.get("createdDateTime", "")), reverse=True)
        return ordered[:SHOWN_ENTITIES]

    def entities(self) -> dict[str, Any]:
        stores = self.state.stores
        shown: dict[str, Any] = {}
        for group in GROUPS:
            items: dict[str, Any] = getattr(stores, group)
            shown[group] = {
                "count": len(items),
                "items": [self._entity(e) for e in self._newest(items.values())],
            }
        log = stores.webhook_delivery.log
        hooks = []
        for hook in self._newest(stores.webhooks.values()):
            row = self._entity(hook)
            row["webUrl"] = self.scrub(str(hook.get("webUrl", "")))
            row["events"] = sorted(k for k, on in hook.get("events", {}).items() if on)
            deliveries = list(log.get(row["id"], ()))[-SHOWN_DELIVERIES:]
            row["deliveries"] = [
                {
                    "time": d.time,
                    "event": d.event,
                    "attempt": d.attempt,
                    "url": self.scrub(d.url),
                    "status": d.status,
                    "outcome": self.scrub(d.outcome),
                    "signature": d.signature,
                }
                for d in reversed(deliveries)
            ]
            hooks.append(row)
        shown["webhooks"] = {"count": len(stores.webhooks), "items": hooks}
        return shown

    def quota_state(self) -> dict[str, Any] | None:
        """Each family's quota and what it admitted and throttled; None when nothing is
        metered (and nothing was)."""
        quotas = self.quotas
        if quotas is None:
            return None
        families = {"fast": quotas.fast, "rest": quotas.rest}
        if all(q is None for q in families.values()) and not quotas.throttled:
            return None
        return {
            family: {
                "limit": None if quota is None else str(quota),
                "admitted": quotas.admitted[family],
                "throttled": quotas.throttled[family],
            }
            for family, quota in families.items()
        }

    def fault_state(self) -> dict[str, Any] | None:
        faults = self.faults
        if faults is None or not (faults.rules or faults.injected):
            return None
        return {
            "rules": len(faults.rules),
            "active": sum(1 for rule in faults.rules if not rule.exhausted),
            "injected": dict(faults.injected),
        }

    def counts(self) -> dict[str, Any]:
        """The emulator's address and counts, the quotas and the faults (small, and changing
        with most requests)."""
        state = self.state
        return {
            "emulator": {
                "endpoint": state.base_url,
                "apiVersion": state.api_version,
                "received": state.received,
                "kept": len(state.requests),
                "keep": state.requests.maxlen,
            },
            "quotas": self.quota_state(),
            "faults": self.fault_state(),
        }

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": [self.summary(r) for r in self.recent()],
            **self.counts(),
            "entities": self.entities(),
        }


PAGE_KEY = web.AppKey("speechrest_page", Page)


def is_page_path(path: str) -> bool:
    return path == "/" or path.startswith(PAGE_PREFIX)


def _loopback(request: web.Request) -> bool:
    try:
        address = ipaddress.ip_address((request.remote or "").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1, on a dual-stack socket
    return address.is_loopback


@web.middleware
async def bypass(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Page requests go straight to their route, past the API's middlewares (records,
    quotas, faults, auth); the API's requests go on as before. Loopback clients only."""
    if not is_page_path(request.path):
        return await handler(request)
    if not _loopback(request):
        return web.Response(
            status=403,
            text="The emulator's page is served to loopback clients only.\n",
            headers=_HEADERS,
        )
    route_handler: Handler = request.match_info.handler
    return await route_handler(request)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, headers=_HEADERS, dumps=_dumps)


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


async def _static(request: web.Request) -> web.StreamResponse:
    name = request.match_info.get("name", "index.html")
    path = STATIC / name
    content_type = _STATIC_TYPES.get(path.suffix)
    if "/" in name or content_type is None or not path.is_file():
        raise web.HTTPNotFound(headers=_HEADERS)
    return web.Response(
        body=path.read_bytes(), content_type=content_type, charset="utf-8", headers=_HEADERS
    )


async def _snapshot(request: web.Request) -> web.StreamResponse:
    return _json(request.app[PAGE_KEY].snapshot())


async def _request_detail(request: web.Request) -> web.StreamResponse:
    page = request.app[PAGE_KEY]
    seq = request.match_info["seq"]
    record = page.find(int(seq)) if seq.isdigit() else None
    if record is None:
        return _json({"error": f"request {seq} is not kept (or never was)"}, status=404)
    return _json(page.detail(record))


class _Feed:
    """What one open page has been sent: the updates it needs next."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.last_seq = 0
        self.pending: dict[int, RequestRecord] = {}
        """Requests sent while still being handled: sent again once answered."""
        self.counts = ""
        self.entities = ""

    def _requests(self, records: list[RequestRecord]) -> list[dict[str, Any]]:
        if records:
            self.last_seq = max(self.last_seq, records[0].seq)
        self.pending.update((r.seq, r) for r in records if r.status is None)
        return [self.page.summary(r) for r in records]

    def snapshot(self) -> str:
        data = self.page.snapshot()
        self.counts = _dumps({k: data[k] for k in ("emulator", "quotas", "faults")})
        self.entities = _dumps(data["entities"])
        self._requests(self.page.recent())
        return _dumps(data)

    def update(self) -> str | None:
        """The next ``update`` event: the requests received or answered since the last one,
        the counts, and the entities when they changed; None when nothing changed."""
        answered = [r for r in self.pending.values() if r.status is not None]
        for record in answered:
            del self.pending[record.seq]
        records = self.page.recent(self.last_seq) + sorted(
            answered, key=lambda r: r.seq, reverse=True
        )
        counts = self.page.counts()
        counts_text = _dumps(counts)
        entities = self.page.entities()
        entities_text = _dumps(entities)
        if not records and counts_text == self.counts and entities_text == self.entities:
            return None
        data: dict[str, Any] = {"requests": self._requests(records), **counts}
        if entities_text != self.entities:
            data["entities"] = entities
        self.counts, self.entities = counts_text, entities_text
        return _dumps(data)


async def _events(request: web.Request) -> web.StreamResponse:
    page = request.app[PAGE_KEY]
    response = web.StreamResponse(headers={**_HEADERS, "Content-Type": "text/event-stream"})
    await response.prepare(request)
    feed = _Feed(page)
    quiet = 0.0
    try:
        await response.write(f"event: snapshot\ndata: {feed.snapshot()}\n\n".encode())
        while not page.closing.is_set():
            transport = request.transport
            if transport is None or transport.is_closing():
                break
            data = feed.update()
            if data is not None:
                await response.write(f"event: update\ndata: {data}\n\n".encode())
                quiet = 0.0
            elif quiet >= HEARTBEAT:
                await response.write(b": still here\n\n")
                quiet = 0.0
            try:
                await asyncio.wait_for(page.closing.wait(), TICK)
            except TimeoutError:
                quiet += TICK
    except ConnectionResetError:
        pass  # the page was closed
    return response


async def _close(app: web.Application) -> None:
    app[PAGE_KEY].closing.set()


def register(
    app: web.Application,
    state: EmulatorState,
    *,
    quotas: Quotas | None = None,
    faults: FaultPlan | None = None,
) -> None:
    """Serve the page from ``app`` (the emulator's application)."""
    assert app[STATE_KEY] is state
    app[PAGE_KEY] = Page(state, quotas, faults)
    app.router.add_get("/", _static)
    app.router.add_get(PAGE_PREFIX + "static/{name}", _static)
    app.router.add_get(PAGE_PREFIX + "api/snapshot", _snapshot)
    app.router.add_get(PAGE_PREFIX + "api/requests/{seq}", _request_detail)
    app.router.add_get(PAGE_PREFIX + "events", _events)
    app.on_shutdown.append(_close)
