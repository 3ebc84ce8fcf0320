"""Fault injection: make the emulator misbehave on purpose, per operation, on cue or at random;
and record what your code sent.

::

    plan = FaultPlan(seed=7)
    plan.add(Fault.throttled(retry_after=0), operation="Transcriptions_Transcribe", times=2)
    plan.add(Fault.reset_during_response(), operation="Transcriptions_Submit")
    plan.add(Fault.unavailable(retry_after=0), rate=0.1)  # 10% of all requests, seeded
    plan.add(Fault.respond(502, "<html>Bad gateway</html>", content_type="text/html"))
    submits = plan.record(operation="Transcriptions_Submit")

    async with SpeechEmulator(faults=plan) as emulator:
        ...
        emulator.faults.add(Fault.stall())      # change the plan while it runs
        assert emulator.faults.injected["http_429"] == 2
        assert submits.requests[0].json()["locale"] == "en-US"

A rule matches by ``operation`` (an operationId such as ``Transcriptions_Submit``), ``method``,
``path`` (a regular expression searched in the URL path) and ``query`` (parameters that must
have these values); a rule without any matches every request, result downloads included. It
fires on the next ``times`` matching requests (once by default, after letting ``skip`` pass),
or, with ``rate``, on each matching request with that probability from the plan's seeded
random generator. The first rule that fires wins. Faults run before authentication, and every
request, faulted or not, is in ``emulator.requests``.

A :class:`Recording` (``plan.record(...)``, same matching) keeps the matching requests with
their JSON or text bodies, faulted or not, and how many were in flight at once.
"""

from __future__ import annotations

import asyncio
import collections
import json
import math
import random
import re
import socket
import struct
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
from aiohttp import web
from multidict import CIMultiDict

from ._operations import OPERATIONS, operation_of
from ._state import note_answer

__all__ = ["Fault", "FaultPlan", "FaultRule", "RecordedRequest", "Recording"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_UNSET: Any = object()
_JSON = "application/json"


@attrs.frozen(kw_only=True)
class Fault:
    """One way to misbehave. Build it with the class methods (``Fault.throttled()``, ...)."""

    kind: str
    """``status``, ``latency``, ``reset_upload``, ``reset_response``, ``truncate``, ``stall``."""
    status: int = 200
    """The HTTP status sent by ``status`` faults."""
    body: bytes = b""
    """The raw body sent by ``status`` faults."""
    content_type: str = _JSON
    """The ``Content-Type`` of the body sent by ``status`` faults (a ``Content-Type`` in
    ``headers`` wins)."""
    headers: Mapping[str, str] = attrs.field(factory=dict)
    """Extra response headers (``Retry-After``, ...)."""
    seconds: float = 0.0
    """The delay of ``latency`` faults."""
    after_bytes: int = 0
    """Request body bytes read before a ``reset_upload`` or a ``stall`` (-1: all of them)."""
    keep: float = 0.5
    """Share of the real response body sent before ``reset_response``/``truncate``."""
    label: str = ""
    """The name faults are counted under in :attr:`FaultPlan.injected`."""

    @property
    def name(self) -> str:
        """The name this fault is counted under: its label, else ``http_<status>`` or its kind."""
        if self.label:
            return self.label
        return f"http_{self.status}" if self.kind == "status" else self.kind

    # -- responses -------------------------------------------------------------------------

    @classmethod
    def respond(
        cls,
        status: int = 200,
        body: bytes | str = b"",
        *,
        content_type: str = _JSON,
        headers: Mapping[str, str] | None = None,
        label: str = "",
    ) -> Fault:
        """Answer with exactly this response instead of the service's: any status, body
        (bytes, or text sent as UTF-8), ``content_type`` and extra ``headers``. The request
        body is read first; the request never reaches the service."""
        return cls(
            kind="status",
            status=status,
            body=body.encode() if isinstance(body, str) else body,
            content_type=content_type,
            headers=dict(headers or {}),
            label=label,
        )

    @classmethod
    def replace_json(
        cls, data: Any, status: int = 200, *, headers: Mapping[str, str] | None = None
    ) -> Fault:
        """Answer ``status`` with ``data`` as the JSON body (wrong shapes, missing fields)."""
        return cls.respond(status, json.dumps(data), headers=headers, label="replaced")

    @classmethod
    def malformed_json(cls, body: bytes = b'{"values": [}', status: int = 200) -> Fault:
        """Answer ``status`` with a body that is not valid JSON."""
        return cls.respond(status, body, label="malformed_json")

    # -- error statuses --------------------------------------------------------------------

    @classmethod
    def http_status(
        cls,
        status: int,
        *,
        code: str | None = None,
        message: str | None = None,
        inner_code: str | None = None,
        retry_after: float | None = None,
        retry_after_ms: int | None = None,
        gateway: bool = False,
        label: str = "",
    ) -> Fault:
        """An error response in the service's shape (``{"code", "message", "innerError"}``),
        or in the gateway's shape (``{"error": {...}}``) when ``gateway``. ``retry_after``
        (seconds) and ``retry_after_ms`` set ``Retry-After`` and ``retry-after-ms``."""
        error: dict[str, Any] = {
            "code": code or str(status),
            "message": message or f"Injected HTTP {status}.",
        }
        if inner_code is not None:
            error["innerError"] = {"code": inner_code}
        headers = {}
        if retry_after is not None:
            headers["Retry-After"] = _number(retry_after)
        if retry_after_ms is not None:
            headers["retry-after-ms"] = str(retry_after_ms)
        body = json.dumps({"error": error} if gateway else error)
        return cls.respond(status, body, headers=headers, label=label)

    @classmethod
    def throttled(
        cls, retry_after: float | None = 1, *, retry_after_ms: int | None = None
    ) -> Fault:
        """429 Too Many Requests: a transient rate limit, with ``Retry-After``."""
        return cls.http_status(
            429,
            code="TooManyRequests",
            message="Rate limit is exceeded. Try again later.",
            retry_after=retry_after,
            retry_after_ms=retry_after_ms,
        )

    @classmethod
    def unavailable(
        cls, retry_after: float | None = 1, *, retry_after_ms: int | None = None
    ) -> Fault:
        """503 Service Unavailable, with ``Retry-After``."""
        return cls.http_status(
            503,
            code="ServiceUnavailable",
            message="The service is temporarily unavailable.",
            retry_after=retry_after,
            retry_after_ms=retry_after_ms,
        )

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        """A 5xx without ``Retry-After`` (500 InternalServerError by default)."""
        return cls.http_status(status, code="InternalServerError", message="Injected failure.")

    @classmethod
    def gateway_error(cls, status: int = 502, message: str = "Bad gateway.") -> Fault:
        """An error from the front door, in its ``{"error": {...}}`` shape."""
        return cls.http_status(status, code=str(status), message=message, gateway=True)

    @classmethod
    def quota_exhausted(cls, retry_after: float | None = None) -> Fault:
        """429 that will not pass by waiting: the subscription's quota is used up. It has no
        ``Retry-After`` unless one is given (give a huge one to test the cap)."""
        return cls.http_status(
            429,
            code="QuotaExceeded",
            message="Out of call volume quota for this subscription. "
            "The quota will be replenished at the start of the next billing period.",
            retry_after=retry_after,
            gateway=True,
            label="quota_exhausted",
        )

    @classmethod
    def redirect(cls, location: str, status: int = 307) -> Fault:
        """Answer with a redirect to ``location`` (another host, to test where credentials
        go)."""
        return cls(kind="status", status=status, headers={"Location": location}, label="redirect")

    # -- broken exchanges ------------------------------------------------------------------

    @classmethod
    def latency(cls, seconds: float) -> Fault:
        """Wait ``seconds``, then answer normally."""
        return cls(kind="latency", seconds=seconds)

    @classmethod
    def reset_during_upload(cls, after_bytes: int = 64 * 1024) -> Fault:
        """Read ``after_bytes`` of the request body, then reset the connection. The request
        never reaches the route handler."""
        return cls(kind="reset_upload", after_bytes=after_bytes)

    @classmethod
    def reset_during_response(cls, keep: float = 0.5) -> Fault:
        """Handle the request normally (an entity *is* created), send the status, headers and
        ``keep`` of the body, then drop the connection."""
        return cls(kind="reset_response", keep=keep)

    @classmethod
    def truncated_json(cls, keep: float = 0.5) -> Fault:
        """Handle the request normally but send only ``keep`` of the JSON body, with a
        Content-Length that matches: a complete response whose JSON is cut short."""
        return cls(kind="truncate", keep=keep)

    @classmethod
    def stall(cls, after_bytes: int | None = None) -> Fault:
        """Never answer, until the client gives up and disconnects. The request body is read
        first; or, with ``after_bytes``, only that much of it, so the upload stalls."""
        return cls(kind="stall", after_bytes=-1 if after_bytes is None else after_bytes)


@attrs.define(kw_only=True)
class _Match:
    """Which requests a rule or a recording is about (see :meth:`FaultPlan.add`)."""

    operation: str | None = None
    """An operationId (``Transcriptions_Submit``), or None for any request."""
    method: str | None = None
    """An HTTP method (upper case), or None for any."""
    path: re.Pattern[str] | None = None
    """A regular expression searched in the URL path, or None for any path."""
    query: Mapping[str, str] = attrs.field(factory=dict)
    """Query parameters that must have exactly these values."""

    def matches(self, method: str, path: str, query: Mapping[str, str] | None = None) -> bool:
        """Whether a request with this method, path and query parameters matches."""
        if self.method is not None and self.method != method:
            return False
        if self.path is not None and not self.path.search(path):
            return False
        if self.query and any((query or {}).get(k) != v for k, v in self.query.items()):
            return False
        return self.operation is None or operation_of(method, path) == self.operation


@attrs.define(kw_only=True)
class FaultRule(_Match):
    """A fault and when it fires (see :meth:`FaultPlan.add`)."""

    fault: Fault
    times: int | None = 1
    """How many times it fires at most (None: no limit)."""
    rate: float | None = None
    """Probability of firing on each matching request (None: always, until ``times``)."""
    skip: int = 0
    """Matching requests let through before the rule starts firing."""
    seen: int = 0
    """Matching requests so far."""
    injected: int = 0
    """Times it fired so far."""

    @property
    def exhausted(self) -> bool:
        """Whether it has fired ``times`` times and will not fire again."""
        return self.times is not None and self.injected >= self.times


@attrs.frozen(kw_only=True)
class RecordedRequest:
    """One request a :class:`Recording` kept, as the emulator received it."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    """Request headers, names lower-cased."""
    body: bytes | None
    """The body of a JSON or text request (``b""`` when there is none); None for other
    bodies (audio, dataset blocks), which the emulator streams without keeping them, and for
    requests whose body a ``reset_during_upload`` or ``stall`` fault consumed."""
    fault: str | None
    """The :attr:`Fault.name` of the fault injected into this request, if any."""

    @property
    def content_type(self) -> str:
        """The media type of the body, without parameters (``application/json``)."""
        return self.headers.get("content-type", "").partition(";")[0].strip().lower()

    def json(self) -> Any:
        """The body, decoded as JSON."""
        if self.body is None:
            raise ValueError(
                f"the body of this {self.content_type or 'binary'} request is not kept"
            )
        return json.loads(self.body)


@attrs.define(kw_only=True, eq=False)
class Recording(_Match):
    """The requests that matched, faulted or not, in arrival order (see
    :meth:`FaultPlan.record`)."""

    requests: collections.deque[RecordedRequest]
    """The matching requests (the latest ``keep`` of them)."""
    count: int = 0
    """Matching requests so far (including any no longer kept)."""
    in_flight: int = 0
    """Matching requests being handled right now."""
    max_in_flight: int = 0
    """The most matching requests handled at the same time so far."""

    def clear(self) -> None:
        """Forget the requests and reset the counts (requests in flight stay counted)."""
        self.requests.clear()
        self.count = 0
        self.max_in_flight = self.in_flight


class FaultPlan:
    """The faults an emulator injects, changeable while it runs; counts what it injected and
    records what it is asked to."""

    def __init__(self, *, seed: int | None = None) -> None:
        self.rules: list[FaultRule] = []
        """The fault rules, in the order they are tried."""
        self.recordings: list[Recording] = []
        """The recordings made with :meth:`record` (remove one to stop it)."""
        self.injected: collections.Counter[str] = collections.Counter()
        """Faults injected so far, by :attr:`Fault.name` (``http_503``, ``reset_upload``...)."""
        self._random = random.Random(seed)  # noqa: S311 - reproducible faults, not crypto

    def add(
        self,
        fault: Fault,
        *,
        operation: str | None = None,
        method: str | None = None,
        path: str | None = None,
        query: Mapping[str, str] | None = None,
        times: int | None = _UNSET,
        rate: float | None = None,
        skip: int = 0,
    ) -> FaultRule:
        """Inject ``fault`` into matching requests.

        ``operation`` is an operationId; ``method`` an HTTP method; ``path`` a regular
        expression searched in the request path; ``query`` query parameters that must have
        these values (``{"blockid": "..."}``). ``times`` defaults to 1 (a one-shot fault), or
        to no limit when a ``rate`` (0..1) is given. ``skip`` lets that many matching
        requests through first. Returns the rule, which counts what it matched and injected.
        """
        if rate is not None and not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1; got {rate!r}")
        rule = FaultRule(
            fault=fault,
            **_match(operation, method, path, query),
            times=(1 if rate is None else None) if times is _UNSET else times,
            rate=rate,
            skip=skip,
        )
        self.rules.append(rule)
        return rule

    def record(
        self,
        *,
        operation: str | None = None,
        method: str | None = None,
        path: str | None = None,
        query: Mapping[str, str] | None = None,
        keep: int = 10_000,
    ) -> Recording:
        """Record the requests that match (as :meth:`add` matches them; no argument: every
        request), whether or not a fault is injected into them, with the bodies of JSON and
        text requests. Keeps the latest ``keep`` requests; counts them all, and how many were
        in flight at once."""
        recording = Recording(
            **_match(operation, method, path, query),
            requests=collections.deque(maxlen=keep),
        )
        self.recordings.append(recording)
        return recording

    def clear(self) -> None:
        """Remove every fault rule (recordings and counts are kept; ``injected.clear()``
        resets the counts)."""
        self.rules.clear()

    @property
    def total(self) -> int:
        """Faults injected so far, of every kind."""
        return sum(self.injected.values())

    def _pick(self, method: str, path: str, query: Mapping[str, str]) -> Fault | None:
        for rule in self.rules:
            if rule.exhausted or not rule.matches(method, path, query):
                continue
            rule.seen += 1
            if rule.seen <= rule.skip:
                continue
            if rule.rate is not None and self._random.random() >= rule.rate:
                continue
            rule.injected += 1
            self.injected[rule.fault.name] += 1
            return rule.fault
        return None

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The aiohttp middleware that applies the plan (``SpeechEmulator`` installs it; add
        it to your own ``web.Application`` to fault any aiohttp server)."""
        method, path, query = request.method, request.path, request.query
        fault = self._pick(method, path, query)
        if fault is not None:
            note_answer(f"fault {fault.name}")
        recordings = [r for r in self.recordings if r.matches(method, path, query)]
        if not recordings:
            return await _respond(fault, request, handler)
        record = RecordedRequest(
            method=method,
            path=path,
            query=dict(query),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await _kept_body(request, fault),
            fault=fault.name if fault is not None else None,
        )
        for recording in recordings:
            recording.requests.append(record)
            recording.count += 1
            recording.in_flight += 1
            recording.max_in_flight = max(recording.max_in_flight, recording.in_flight)
        try:
            return await _respond(fault, request, handler)
        finally:
            for recording in recordings:
                recording.in_flight -= 1


def _match(
    operation: str | None, method: str | None, path: str | None, query: Mapping[str, str] | None
) -> dict[str, Any]:
    """The checked matching arguments of a rule or a recording."""
    if operation is not None and operation not in OPERATIONS:
        raise ValueError(f"unknown operationId {operation!r}")
    return {
        "operation": operation,
        "method": method.upper() if method else None,
        "path": re.compile(path) if path is not None else None,
        "query": dict(query or {}),
    }


def _is_text(content_type: str) -> bool:
    return (
        content_type == _JSON or content_type.endswith("+json") or content_type.startswith("text/")
    )


async def _kept_body(request: web.Request, fault: Fault | None) -> bytes | None:
    """The body a recording keeps: JSON and text only (read here; aiohttp keeps it for the
    handler), and not when the fault reads the body itself."""
    if fault is not None and fault.kind in ("reset_upload", "stall"):
        return None
    if not request.body_exists:
        return b""
    if not _is_text(request.content_type):
        return None
    return await request.read()


async def _respond(
    fault: Fault | None, request: web.Request, handler: Handler
) -> web.StreamResponse:
    return await handler(request) if fault is None else await _apply(fault, request, handler)


async def _apply(fault: Fault, request: web.Request, handler: Handler) -> web.StreamResponse:
    if fault.kind == "latency":
        await _while_connected(request, fault.seconds)
        return await handler(request)
    if fault.kind == "status":
        await _discard_body(request)
        return _status_response(fault)
    if fault.kind == "reset_upload":
        await _discard_body(request, limit=fault.after_bytes)
        _reset(request)
        return _gone()
    if fault.kind == "stall":
        await _discard_body(request, limit=None if fault.after_bytes < 0 else fault.after_bytes)
        await _while_connected(request, math.inf)
        return _gone()
    response = await handler(request)
    if not isinstance(response, web.Response) or not isinstance(response.body, bytes):
        return response
    body = response.body
    part = body[: int(len(body) * fault.keep)]
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    if fault.kind == "truncate":
        return web.Response(status=response.status, body=part, headers=headers)
    # reset_response: promise the whole body, send part of it, then hang up.
    stream = web.StreamResponse(status=response.status, headers=headers)
    stream.content_length = len(body)
    await stream.prepare(request)
    await stream.write(part)
    transport = request.transport
    if transport is not None:
        transport.close()  # flushes headers and the partial body first
    return stream


def _status_response(fault: Fault) -> web.Response:
    headers = CIMultiDict(fault.headers)
    headers.setdefault("Content-Type", fault.content_type)
    return web.Response(status=fault.status, body=fault.body, headers=headers)


async def _discard_body(request: web.Request, limit: int | None = None) -> None:
    read = 0
    while limit is None or read < limit:
        try:
            chunk = await request.content.readany()
        except ConnectionResetError:  # the client gave up (on a stalled upload, say)
            return
        if not chunk:
            return
        read += len(chunk)


async def _while_connected(request: web.Request, seconds: float) -> None:
    """Sleep ``seconds``, or less if the client hangs up first."""
    deadline = asyncio.get_running_loop().time() + seconds
    # aiohttp has no disconnect event: poll until the client hangs up.
    while request.transport is not None and not request.transport.is_closing():
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            return
        await asyncio.sleep(min(left, 0.02))


def _reset(request: web.Request) -> None:
    """Abort the connection with a TCP reset."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _gone() -> web.Response:
    # Never reaches the client: the connection is already closed.
    return web.Response(status=499)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
