"""The emulator's core: the aiohttp.web application, auth, api-version, paging, errors."""

from __future__ import annotations

import asyncio
import collections
import json
import secrets
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from typing import Any, Self

import attrs
from aiohttp import web
from yarl import URL

from ._faults import FaultPlan
from ._filter import FilterError, apply_filter
from ._recognizer import DeterministicRecognizer, Recognizer

__all__ = [
    "EmulatorState",
    "RequestRecord",
    "SpeechEmulator",
    "Timing",
    "error_response",
    "json_response",
    "paginate",
]

API_VERSION = "2025-10-15"
MAX_UPLOAD_BYTES = 250 * 1000 * 1000
"""The service's limit for one fast transcription upload (250 MB)."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
STATE_KEY = web.AppKey("speechrest_state", object)


@attrs.define(kw_only=True)
class RequestRecord:
    """One request the emulator received (for assertions in tests)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Request headers, names lower-cased."""


@attrs.frozen(kw_only=True)
class Timing:
    """How fast emulated long-running work moves (seconds). The defaults let a job of a few
    short files finish within a couple of seconds; tests may make it faster still."""

    queue_delay: float = 0.2
    """Time an entity stays ``NotStarted`` before it starts ``Running``."""
    run_time: float = 0.5
    """Least time an entity stays ``Running`` before it ends."""
    retry_after: int = 1
    """``Retry-After`` (whole seconds, as the service sends) on status and list responses of
    entities that are not finished."""
    time_to_live_scale: float = 3600.0
    """Seconds per hour of ``timeToLiveHours`` (lower it to see entities expire)."""


@attrs.define(kw_only=True)
class EmulatorState:
    """Everything the emulator holds. Operation groups keep their entities in ``stores``."""

    keys: set[str]
    """Accepted subscription keys (add one to test key rotation)."""
    tokens: set[str] = attrs.field(factory=set)
    """Accepted bearer tokens."""
    recognizer: Recognizer = attrs.field(factory=DeterministicRecognizer)
    api_version: str = API_VERSION
    timing: Timing = attrs.field(factory=Timing)
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    spool_dir: Path = attrs.field(factory=lambda: Path(tempfile.gettempdir()))
    base_url: str = ""
    """``http://127.0.0.1:<port>`` once serving."""
    requests: collections.deque[RequestRecord] = attrs.field(
        factory=lambda: collections.deque(maxlen=100_000)
    )
    transcribe_definitions: collections.deque[dict[str, Any]] = attrs.field(
        factory=lambda: collections.deque(maxlen=10_000)
    )
    """The ``definition`` of every fast transcription request, as received."""
    stores: dict[str, Any] = attrs.field(factory=dict)
    """Per operation group state, keyed by group name."""
    listeners: list[Callable[[str, str], Awaitable[None]]] = attrs.field(factory=list)
    """Called as ``listener(event_kind, entity_url)`` when entities change (web hooks)."""
    middlewares: list[Any] = attrs.field(factory=list)
    """Extra aiohttp middlewares run before auth (fault injection plugs in here)."""
    tasks: set[asyncio.Task[None]] = attrs.field(factory=set)
    """Background work started with :meth:`spawn`, cancelled when the emulator stops."""

    def url(self, path: str, **query: Any) -> str:
        """Absolute URL of an API path, with ``api-version``."""
        q = {k: str(v) for k, v in query.items() if v is not None}
        q["api-version"] = self.api_version
        return str(URL(self.base_url + "/speechtotext" + path).with_query(q))

    async def emit(self, event_kind: str, entity_url: str) -> None:
        """Tell the listeners that an entity changed (``transcriptionCompletion``, ...)."""
        for listener in list(self.listeners):
            await listener(event_kind, entity_url)

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run background work (entity lifecycles, web hook deliveries) in a task that the
        emulator owns: it is cancelled when the emulator stops."""
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task


def json_response(
    data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=json.dumps(data, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    inner_code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """An error in the service's shape: ``{"code", "message", "innerError": {...}}``."""
    body: dict[str, Any] = {"code": code, "message": message}
    if inner_code is not None:
        body["innerError"] = {"code": inner_code, "message": message}
    return json_response(body, status=status, headers=headers)


def now_iso() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def paginate(
    request: web.Request,
    state: EmulatorState,
    items: Iterable[Mapping[str, Any]],
    *,
    filterable: Iterable[str],
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """A paged list response (``values`` and ``@nextLink``) honouring skip, top and filter."""
    try:
        skip = int(request.query.get("skip", "0"))
        top = int(request.query.get("top", "100"))
    except ValueError:
        return error_response(
            400,
            "InvalidArgument",
            "skip and top must be integers.",
            inner_code="UnsupportedPagination",
        )
    if skip < 0 or not 1 <= top <= 100:
        return error_response(
            400,
            "InvalidArgument",
            "skip must be >= 0 and top 1..100.",
            inner_code="UnsupportedPagination",
        )
    expr = request.query.get("filter")
    selected = list(items)
    if expr:
        try:
            selected = apply_filter(selected, expr, set(filterable))
        except FilterError as exc:
            return error_response(400, "InvalidArgument", str(exc), inner_code="UnsupportedFilter")
    page = selected[skip : skip + top]
    body: dict[str, Any] = {"values": page}
    if skip + top < len(selected):
        body["@nextLink"] = str(
            request.url.with_query(
                {
                    **request.query,
                    "skip": str(skip + top),
                    "top": str(top),
                    "api-version": state.api_version,
                }
            )
        )
    return json_response(body, headers=headers)


def _state(request: web.Request) -> EmulatorState:
    state = request.app[STATE_KEY]
    assert isinstance(state, EmulatorState)
    return state


@web.middleware
async def _record(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = _state(request)
    state.requests.append(
        RequestRecord(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
        )
    )
    request_id = str(uuid.uuid4())
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["apim-request-id"] = request_id
        raise
    response.headers["apim-request-id"] = request_id
    return response


@web.middleware
async def _check_api(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = _state(request)
    if not request.path.startswith("/speechtotext/"):
        return await handler(request)  # e.g. result blobs, which carry their own SAS token
    key = request.headers.get("Ocp-Apim-Subscription-Key")
    auth = request.headers.get("Authorization", "")
    token = auth[7:] if auth.startswith("Bearer ") else None
    if not (
        (key is not None and key in state.keys) or (token is not None and token in state.tokens)
    ):
        # The gateway's shape, as the real front door answers.
        return json_response(
            {
                "error": {
                    "code": "401",
                    "message": "Access denied due to invalid subscription key or wrong API "
                    "endpoint. Make sure to provide a valid key for an active subscription "
                    "and use a correct regional API endpoint for your resource.",
                }
            },
            status=401,
        )
    version = request.query.get("api-version")
    if version is None:
        return error_response(
            400,
            "InvalidRequest",
            "The api-version query parameter is required.",
            inner_code="InvalidParameterValue",
        )
    if version != state.api_version:
        return error_response(
            400,
            "InvalidRequest",
            f"The api-version '{version}' is not supported; use '{state.api_version}'.",
            inner_code="InvalidParameterValue",
        )
    return await handler(request)


RouteRegistrar = Callable[[web.Application, EmulatorState], None]


def build_app(state: EmulatorState) -> web.Application:
    """The emulator's aiohttp application."""
    from . import (
        _batch,
        _blobs,
        _datasets,
        _endpoints,
        _evaluations,
        _fast,
        _models,
        _projects,
        _webhooks,
    )

    app = web.Application(
        middlewares=[_record, *state.middlewares, _check_api],
        client_max_size=64 * 1024 * 1024,
    )
    app[STATE_KEY] = state
    app.on_cleanup.append(_cancel_tasks)
    registrars: list[RouteRegistrar] = [
        _batch.register,
        _blobs.register,
        _fast.register,
        _models.register,
        _projects.register,
        _datasets.register,
        _endpoints.register,
        _evaluations.register,
        _webhooks.register,
    ]
    for register in registrars:
        register(app, state)
    return app


async def _cancel_tasks(app: web.Application) -> None:
    state = app[STATE_KEY]
    assert isinstance(state, EmulatorState)
    tasks = list(state.tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def get_state(request: web.Request) -> EmulatorState:
    """The emulator state behind a request (for route handlers)."""
    return _state(request)


class SpeechEmulator:
    """A local stand-in for the Speech to text service, served over HTTP on loopback.

    ::

        async with SpeechEmulator() as emulator:
            async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
                ...

    ``key`` defaults to a random key; ``port=0`` picks a free port. ``recognizer`` decides
    what the emulator "hears" (see :class:`ScriptedRecognizer`). ``faults`` is a
    :class:`FaultPlan` of errors to inject (see ``emulator.faults``).
    """

    def __init__(
        self,
        *,
        key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        recognizer: Recognizer | None = None,
        tokens: Iterable[str] = (),
        spool_dir: str | Path | None = None,
        timing: Timing | None = None,
        faults: FaultPlan | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.key = key or "emu-" + secrets.token_hex(16)
        self.state = EmulatorState(keys={self.key}, tokens=set(tokens))
        if recognizer is not None:
            self.state.recognizer = recognizer
        if timing is not None:
            self.state.timing = timing
        if spool_dir is not None:
            self.state.spool_dir = Path(spool_dir)
        self.faults = faults if faults is not None else FaultPlan()
        """The faults this emulator injects; add and clear rules at any time."""
        self.state.middlewares.append(self.faults.middleware)
        self._runner: web.AppRunner | None = None
        self.app: web.Application | None = None

    @property
    def endpoint(self) -> str:
        """The endpoint to give ``SpeechClient``: ``http://127.0.0.1:<port>``."""
        if self._runner is None:
            raise RuntimeError("the emulator is not running: use `async with SpeechEmulator()`")
        return self.state.base_url

    @property
    def requests(self) -> collections.deque[RequestRecord]:
        """Every request received so far."""
        return self.state.requests

    def __repr__(self) -> str:
        where = self.state.base_url or "not running"
        return f"SpeechEmulator({where})"

    async def start(self) -> None:
        self.app = build_app(self.state)
        self._runner = web.AppRunner(
            self.app, handle_signals=False, access_log=None, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        port = sockets[0].getsockname()[1] if sockets else self.port
        self.port = port
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.state.base_url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
