"""Emulated web hooks: registration, the challenge and signed notifications (``WebHooks_*``).

A new hook (or one whose ``webUrl`` is PATCHed) is ``NotStarted`` until the emulator's
challenge to ``webUrl`` succeeds (a POST with the ``validationToken`` query parameter and
event ``challenge``, answered 200 with the token): then it is ``Succeeded`` (active), else
``Failed``. Active hooks get a POST for every registered event that other groups report
with ``state.emit(kind, entity_url)``: headers ``X-MicrosoftSpeechServices-Event`` and,
with a secret, ``X-MicrosoftSpeechServices-Signature``; body ``{"self", "invocationId"}``.
Each hook has one delivery queue, worked in a task the emulator owns, so notifications
arrive in order and the emitter never waits. A notification that fails ``max_attempts``
times (``state.stores.webhook_delivery``) marks the hook ``Failed`` with ``properties.error``,
as the service does.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from ._entities import (
    ApiError,
    bad,
    check_fields,
    handler,
    id_of,
    new_id,
    path_id,
    read_json,
    set_status,
)
from ._entity_routes import Group
from ._filter import FILTERABLE
from ._state import STATE_KEY, EmulatorState, Listener, get_state
from ._stores import Delivery, Entity

__all__ = ["register"]

EVENT_HEADER = "X-MicrosoftSpeechServices-Event"
SIGNATURE_HEADER = "X-MicrosoftSpeechServices-Signature"
EVENT_KINDS = frozenset(
    f"{entity}{stage}"
    for entity in ("dataset", "model", "evaluation", "transcription", "endpoint")
    for stage in ("Creation", "Processing", "Completion", "Deletion")
) | {"ping", "challenge"}
Item = tuple[str, bytes]
"""A queued request: event kind and body."""


def _signature(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


# -- delivery ------------------------------------------------------------------------------


def _enqueue(state: EmulatorState, hook_id: str, item: Item) -> None:
    store = state.stores.webhook_delivery
    queue = store.queues.get(hook_id)
    if queue is None:
        queue = store.queues[hook_id] = asyncio.Queue()
        state.spawn(_work(state, hook_id, queue))
    queue.put_nowait(item)


async def _work(state: EmulatorState, hook_id: str, queue: asyncio.Queue[Item]) -> None:
    store = state.stores.webhook_delivery
    try:
        while True:
            kind, body = await queue.get()
            hook = state.stores.webhooks.get(hook_id)
            if hook is None:
                return
            if kind == "challenge":
                await _challenge(state, hook)
            elif hook["status"] == "Succeeded":
                await _deliver(state, hook, kind, body)
    finally:
        if store.queues.get(hook_id) is queue:
            del store.queues[hook_id]


async def _post(
    state: EmulatorState,
    hook: Entity,
    kind: str,
    body: bytes,
    query: dict[str, str],
    attempt: int,
) -> tuple[bool, str]:
    """POST one request to the hook's URL, the ``attempt``-th try of this notification, and
    log it: (answered 2xx, what happened)."""
    store = state.stores.webhook_delivery
    if store.session is None or store.session.closed:
        store.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=store.timeout),
            connector=aiohttp.TCPConnector(ssl=state.outbound_ssl),
        )
    headers = {EVENT_HEADER: kind, "Content-Type": "application/json"}
    secret = hook.get("properties", {}).get("secret")
    if secret:
        headers[SIGNATURE_HEADER] = _signature(secret, body)
    url = URL(hook["webUrl"]).update_query(query) if query else URL(hook["webUrl"])
    sent_at = time.time()
    status: int | None = None
    try:
        async with store.session.post(url, data=body, headers=headers) as response:
            status = response.status
            text = await response.text(errors="replace")
            token = query.get("validationToken")
            if not 200 <= response.status < 300:
                ok, why = False, f"HTTP {response.status}"
            elif token is not None and text.strip() != token:
                ok, why = False, "the answer to the challenge was not the validation token"
            else:
                ok, why = True, "ok"
    except (aiohttp.ClientError, TimeoutError) as exc:
        ok, why = False, type(exc).__name__
    delivery = Delivery(
        time=sent_at,
        event=kind,
        attempt=attempt,
        url=str(url),
        status=status,
        outcome=why,
        signature=headers.get(SIGNATURE_HEADER),
    )
    _log(state, id_of(hook), delivery)
    return ok, why


def _log(state: EmulatorState, hook_id: str, delivery: Delivery) -> None:
    store = state.stores.webhook_delivery
    if hook_id not in store.log:
        for gone in [h for h in store.log if h not in state.stores.webhooks]:
            del store.log[gone]
        store.log[hook_id] = collections.deque(maxlen=store.keep)
    store.log[hook_id].append(delivery)


async def _attempts(
    state: EmulatorState, hook: Entity, kind: str, body: bytes, query: dict[str, str]
) -> str | None:
    """Try a request up to ``max_attempts`` times; None when it went through, else why."""
    store = state.stores.webhook_delivery
    why = "not sent"
    for attempt in range(store.max_attempts):
        if attempt:
            await asyncio.sleep(store.retry_delay * 2 ** (attempt - 1))
        ok, why = await _post(state, hook, kind, body, query, attempt + 1)
        if ok:
            return None
    return why


async def _challenge(state: EmulatorState, hook: Entity) -> None:
    token = secrets.token_urlsafe(24)
    url = hook["webUrl"]
    why = await _attempts(state, hook, "challenge", b"", {"validationToken": token})
    if hook["webUrl"] != url or hook["status"] != "NotStarted":
        return  # changed meanwhile: a new challenge is queued
    hook["properties"].pop("error", None)
    if why is None:
        set_status(hook, "Succeeded")
    else:
        hook["properties"]["error"] = {
            "code": "InvalidCallbackUri",
            "message": f"The challenge to the web URL failed ({why}).",
        }
        set_status(hook, "Failed")


async def _deliver(state: EmulatorState, hook: Entity, kind: str, body: bytes) -> None:
    why = await _attempts(state, hook, kind, body, {})
    if why is not None and hook["status"] == "Succeeded":
        tries = state.stores.webhook_delivery.max_attempts
        message = (
            f"Notifications to the web URL failed {tries} times (last: {why}); the web hook "
            "is disabled. Update its webUrl to re-activate it."
        )
        hook["properties"]["error"] = {"code": "InvalidCallbackUri", "message": message}
        set_status(hook, "Failed")


def _listener(state: EmulatorState) -> Listener:
    async def on_change(kind: str, entity_url: str) -> None:
        store = state.stores.webhook_delivery
        store.last_entity[kind] = entity_url
        for hook_id, hook in list(state.stores.webhooks.items()):
            if hook["status"] == "Succeeded" and hook["events"].get(kind) is True:
                _enqueue(state, hook_id, (kind, _notification(entity_url)))

    return on_change


def _notification(entity_url: str) -> bytes:
    body = {"self": entity_url, "invocationId": new_id()}
    return json.dumps(body, separators=(",", ":")).encode()


# -- handlers ------------------------------------------------------------------------------

_FIELDS = ("displayName", "description", "customProperties", "webUrl", "events", "properties")


def _web_url(value: object) -> str:
    url = URL(value) if isinstance(value, str) else None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise bad("webUrl must be an absolute http(s) URL.", "InvalidCallbackUri")
    assert isinstance(value, str)
    return value


def _events(value: object, *, create: bool) -> dict[str, bool]:
    if not isinstance(value, dict) or not all(isinstance(v, bool) for v in value.values()):
        raise bad("events must be an object of event kinds and booleans.", "InvalidPayload")
    unknown = sorted(set(value) - EVENT_KINDS)
    if unknown:
        raise bad(f"Unknown event kinds: {', '.join(unknown)}.", "InvalidWebHookEventKind")
    if create and not any(on for kind, on in value.items() if kind != "challenge"):
        raise bad("events must turn at least one event on.", "InvalidWebHookEventKind")
    return dict(value)


def _secret(body: dict[str, Any]) -> str | None:
    properties = body.get("properties")
    if properties is None:
        return None
    if not isinstance(properties, dict) or not isinstance(properties.get("secret", ""), str):
        raise bad("properties.secret must be a string.")
    secret = properties.get("secret")
    return secret if isinstance(secret, str) else None


def _challenge_again(state: EmulatorState, hook: Entity) -> None:
    hook["properties"].pop("error", None)
    set_status(hook, "NotStarted")
    _enqueue(state, id_of(hook), ("challenge", b""))


def _on_update(state: EmulatorState, hook: Entity, body: dict[str, Any]) -> None:
    if "webUrl" in body:
        _web_url(body["webUrl"])
    if "events" in body:
        _events(body["events"], create=False)
    secret = _secret(body)
    if secret:
        hook["properties"]["secret"] = secret
    elif secret is not None:
        hook["properties"].pop("secret", None)  # an empty secret stops the signatures
    if "webUrl" in body:
        _challenge_again(state, hook)  # queued: it runs after the update is applied


WEBHOOKS = Group(
    name="webhooks",
    store=lambda stores: stores.webhooks,
    filterable=FILTERABLE["webhooks"],
    updatable=_FIELDS,
    on_update=_on_update,
)


async def create_hook(request: web.Request) -> web.StreamResponse:
    state = get_state(request)
    body = await read_json(request)
    check_fields(body, _FIELDS, required=("displayName", "webUrl", "events"), create=True)
    hook = WEBHOOKS.new_entity(state, body)
    secret = _secret(body)
    hook_id = id_of(hook)
    hook.update(
        {
            "properties": {
                "apiVersion": state.api_version,
                **({"secret": secret} if secret else {}),
            },
            "webUrl": _web_url(body["webUrl"]),
            "events": _events(body["events"], create=True),
            "status": "NotStarted",
            "links": {
                "test": state.url(f"/webhooks/{hook_id}:test"),
                "ping": state.url(f"/webhooks/{hook_id}:ping"),
            },
        }
    )
    response = await WEBHOOKS.create(state, hook, None)
    _enqueue(state, hook_id, ("challenge", b""))
    return response


def _active_hook(request: web.Request) -> tuple[EmulatorState, str, Entity]:
    state, hook = WEBHOOKS.entity(request)
    if hook["status"] != "Succeeded":
        raise ApiError(
            409,
            "Conflict",
            f"The web hook is {hook['status']}, not active: it "
            "receives events once the challenge to its webUrl succeeded.",
            "InvalidCallbackUri",
        )
    return state, path_id(request), hook


async def ping_hook(request: web.Request) -> web.StreamResponse:
    state, hook_id, hook = _active_hook(request)
    _enqueue(state, hook_id, ("ping", json.dumps(hook, separators=(",", ":")).encode()))
    return web.Response(status=202, headers={"Retry-After": str(state.timing.retry_after)})


async def test_hook(request: web.Request) -> web.StreamResponse:
    state, hook_id, hook = _active_hook(request)
    last = state.stores.webhook_delivery.last_entity
    kinds = [k for k, on in hook["events"].items() if on and k in last]
    for kind in kinds:
        _enqueue(state, hook_id, (kind, _notification(last[kind])))
    if not kinds:
        return web.Response(status=204)
    return web.Response(status=202, headers={"Retry-After": str(state.timing.retry_after)})


async def _close(app: web.Application) -> None:
    store = app[STATE_KEY].stores.webhook_delivery
    store.queues.clear()
    if store.session is not None:
        await store.session.close()
        store.session = None


def register(app: web.Application, state: EmulatorState) -> None:
    app.router.add_post("/speechtotext/webhooks/{id}:ping", handler(ping_hook))
    app.router.add_post("/speechtotext/webhooks/{id}:test", handler(test_hook))
    WEBHOOKS.register(app, create=create_hook)
    store = state.stores.webhook_delivery
    if not store.listening:
        store.listening = True
        state.listeners.append(_listener(state))
    app.on_cleanup.append(_close)
