"""Receiving the service's web hook notifications in your own aiohttp backend.

The pure helpers work with any framework:

* :func:`verify_signature` checks ``X-MicrosoftSpeechServices-Signature`` (the Base64
  HMAC-SHA256 of the raw body, keyed with the hook's secret) in constant time;
* :func:`challenge_response` answers the registration challenge (the ``validationToken``
  query parameter, echoed back as the body of a 200);
* :func:`parse_event` turns the headers and body of a notification into a
  :class:`WebHookEvent` (its kind, the ``self`` URL of the entity and ``invocationId``).

:class:`WebhookReceiver` puts them together as a ready aiohttp handler or sub-application::

    receiver = WebhookReceiver(secret=os.environ["SPEECH_HOOK_SECRET"])

    @receiver.on("transcriptionCompletion")
    async def done(event: WebHookEvent) -> None:
        job = await client.transcriptions.get(event.self_)

    app.add_subapp("/speech-events", receiver.app())   # register .../speech-events/

Requests without a valid signature get 401 and never reach a callback; a body larger than
``max_body_bytes`` (64 KiB: notifications are a few hundred bytes) gets 413 before more of
it is read; a body that is not a notification gets 400; a notification seen before (same
``invocationId``) is acknowledged with 200 but not delivered twice; a callback that raises
makes the answer 500, so the service sends the notification again.

Unlike the rest of the client side, which reaches aiohttp only through the transport,
this module (like :mod:`speechrest.testing`) imports ``aiohttp.web``: it *is* a server.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
from aiohttp import web

from . import _checks as check
from ._redact import redact_url
from .errors import InvalidInputError
from .types import WebHookEventKind
from .types._common import _id_from_url

__all__ = [
    "EVENT_HEADER",
    "MAX_BODY_BYTES",
    "SIGNATURE_HEADER",
    "EventCallback",
    "WebHookEvent",
    "WebhookReceiver",
    "challenge_response",
    "parse_event",
    "parse_event_kind",
    "sign",
    "verify_signature",
]

log = logging.getLogger("speechrest.webhooks")

EVENT_HEADER = "X-MicrosoftSpeechServices-Event"
"""The header naming the event kind (``transcriptionCompletion``, ``ping``, ...)."""
SIGNATURE_HEADER = "X-MicrosoftSpeechServices-Signature"
"""The header carrying the Base64 HMAC-SHA256 of the body, when the hook has a secret."""
MAX_BODY_BYTES = 64 * 1024
"""The default largest notification :class:`WebhookReceiver` reads (they are a few hundred
bytes); a larger body is answered 413 before the rest of it is read."""


def sign(body: bytes, secret: str) -> str:
    """The signature the service sends for ``body``: Base64 HMAC-SHA256 keyed by the
    secret's UTF-8 bytes."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(body: bytes, signature: str | None, secret: str) -> bool:
    """Whether ``signature`` (the ``X-MicrosoftSpeechServices-Signature`` header) is the
    signature of the raw request ``body`` under ``secret``. Compared in constant time."""
    if not signature or not secret:
        return False
    try:
        given = signature.strip().encode("ascii")
    except UnicodeError:  # a Base64 signature is ASCII: anything else is not one
        return False
    return hmac.compare_digest(sign(body, secret).encode("ascii"), given)


def challenge_response(query: Mapping[str, str]) -> str | None:
    """The body to answer a registration challenge with (the ``validationToken`` query
    parameter, with status 200), or None when the request is not a challenge."""
    return query.get("validationToken")


def parse_event_kind(value: str) -> WebHookEventKind:
    """The event kind of an ``X-MicrosoftSpeechServices-Event`` header, which may be
    camelCase (``transcriptionCompletion``) or PascalCase (``TranscriptionCompletion``).
    An unknown kind is kept as is (``is_known`` is then False)."""
    text = value.strip()
    if not text:
        raise InvalidInputError(f"the {EVENT_HEADER} header is empty")
    return WebHookEventKind(text[:1].lower() + text[1:])


@attrs.frozen(kw_only=True)
class WebHookEvent:
    """One notification from the service."""

    kind: WebHookEventKind
    """What happened, e.g. ``transcriptionCompletion``."""
    self_: str = attrs.field(repr=redact_url)
    """The URL of the entity concerned (GET it to see its status); for ``ping``, the
    web hook itself."""
    invocation_id: str | None = None
    """Unique per notification: the same value means a repeated delivery."""
    payload: dict[str, Any] = attrs.field(factory=dict, repr=False)
    """The whole JSON body."""

    @property
    def entity_id(self) -> str:
        """The id of the entity concerned (the last path segment of ``self_``)."""
        return _id_from_url(self.self_)


def parse_event(headers: Mapping[str, str], body: bytes) -> WebHookEvent:
    """Read a notification (its headers and raw body) into a :class:`WebHookEvent`.
    Raises :class:`~speechrest.errors.InvalidInputError` when it is not one. Check the
    signature first (:func:`verify_signature`)."""
    kind_header = _header(headers, EVENT_HEADER)
    if kind_header is None:
        raise InvalidInputError(f"not a Speech web hook notification: no {EVENT_HEADER} header")
    kind = parse_event_kind(kind_header)
    try:
        payload = json.loads(body) if body.strip() else {}
    except (ValueError, RecursionError):
        raise InvalidInputError("the notification body is not JSON") from None
    if not isinstance(payload, dict):
        raise InvalidInputError("the notification body is not a JSON object")
    entity = payload.get("self")
    if not isinstance(entity, str) or not entity:
        raise InvalidInputError("the notification body has no 'self' URL")
    invocation = payload.get("invocationId")
    return WebHookEvent(
        kind=kind,
        self_=entity,
        invocation_id=invocation if isinstance(invocation, str) and invocation else None,
        payload=payload,
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


EventCallback = Callable[[WebHookEvent], Awaitable[object] | object]
"""A function (plain or async) called with each new event."""


class _Seen:
    """The most recent invocation ids, bounded (least recently seen forgotten first)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ids: collections.OrderedDict[str, None] = collections.OrderedDict()

    def add(self, key: str) -> bool:
        """Remember ``key``; False when it was already known."""
        if key in self._ids:
            self._ids.move_to_end(key)
            return False
        self._ids[key] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True

    def discard(self, key: str) -> None:
        self._ids.pop(key, None)


async def _read_at_most(request: web.Request, limit: int) -> bytes | None:
    """The request body, read as it comes; None as soon as it is known to be over
    ``limit`` bytes (the rest is not read)."""
    length = request.content_length
    if length is not None:
        # aiohttp reads exactly Content-Length bytes (and keeps them for request.read())
        return await request.read() if length <= limit else None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class WebhookReceiver:
    """An aiohttp handler for the service's notifications.

    ``secret`` is the hook's secret: every notification must carry a valid signature, or
    it is answered 401. Pass ``secret=None`` only for a hook registered without one.
    ``on_event`` is called with every new event; per-kind callbacks are given in
    ``handlers`` or registered with :meth:`on`. Mount :meth:`app` as a sub-application,
    or route to :attr:`handler` yourself. The last ``remember`` invocation ids are kept
    to drop repeated deliveries. A body over ``max_body_bytes`` is answered 413 as soon as
    that is known (from ``Content-Length``, or while reading), whatever limit the web
    application that mounts the receiver allows.
    """

    def __init__(
        self,
        *,
        secret: str | None,
        on_event: EventCallback | None = None,
        handlers: Mapping[WebHookEventKind | str, EventCallback] | None = None,
        remember: int = 10_000,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        if secret is not None and (not isinstance(secret, str) or not secret):
            raise InvalidInputError("secret must be the hook's non-empty secret, or None")
        self._max_body = check.positive(max_body_bytes, "max_body_bytes")
        self._secret = secret
        self._on_event = on_event
        self._handlers: dict[WebHookEventKind, list[EventCallback]] = {}
        self._seen = _Seen(check.positive(remember, "remember"))
        for kind, callback in (handlers or {}).items():
            self.on(kind)(callback)

    def __repr__(self) -> str:
        signed = "signed" if self._secret else "unsigned"
        return f"WebhookReceiver({signed}, kinds={sorted(k.value for k in self._handlers)})"

    def on(self, kind: WebHookEventKind | str) -> Callable[[EventCallback], EventCallback]:
        """Decorator: call the function for events of ``kind`` (camelCase or PascalCase)."""
        parsed = parse_event_kind(str(kind))

        def register(callback: EventCallback) -> EventCallback:
            self._handlers.setdefault(parsed, []).append(callback)
            return callback

        return register

    @property
    def handler(self) -> Callable[[web.Request], Awaitable[web.Response]]:
        """The aiohttp request handler (route POST, and GET if you like, to it)."""
        return self.handle

    def app(self) -> web.Application:
        """A sub-application answering at its root (``add_subapp("/hooks", r.app())``
        serves ``/hooks/``)."""
        app = web.Application()
        app.router.add_route("POST", "/", self.handle)
        app.router.add_route("GET", "/", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        """Answer one request from the service."""
        token = challenge_response(request.query)
        if token is not None:
            return web.Response(status=200, text=token, content_type="text/plain")
        if request.method != "POST":
            return web.Response(status=405, text="notifications are POSTed")
        body = await _read_at_most(request, self._max_body)
        if body is None:
            log.warning("web hook request over %d bytes rejected", self._max_body)
            return web.Response(
                status=413, text=f"a notification is at most {self._max_body} bytes"
            )
        if self._secret is not None and not verify_signature(
            body, request.headers.get(SIGNATURE_HEADER), self._secret
        ):
            log.warning("web hook request with a missing or wrong signature rejected")
            return web.Response(status=401, text="invalid signature")
        try:
            event = parse_event(request.headers, body)
        except InvalidInputError as exc:
            return web.Response(status=400, text=str(exc))
        if event.invocation_id is not None and not self._seen.add(event.invocation_id):
            log.debug("repeated notification %s acknowledged", event.invocation_id)
            return web.Response(status=200, text="already received")
        try:
            await self.dispatch(event)
        except Exception:
            if event.invocation_id is not None:
                self._seen.discard(event.invocation_id)  # let the service's retry through
            log.exception("web hook callback failed for %s", event.kind.value)
            return web.Response(status=500, text="callback failed")
        return web.Response(status=200, text="ok")

    async def dispatch(self, event: WebHookEvent) -> None:
        """Call the callbacks for ``event`` (the kind's own, then ``on_event``)."""
        callbacks = [*self._handlers.get(event.kind, ())]
        if self._on_event is not None:
            callbacks.append(self._on_event)
        for callback in callbacks:
            outcome = callback(event)
            if inspect.isawaitable(outcome):
                await outcome
