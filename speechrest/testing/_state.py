"""What every part of the emulator shares: its state, timing, and the service's answer
shapes (JSON, errors, pages). The route modules build on this; ``_emulator`` assembles them.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import json
import logging
import tempfile
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
from aiohttp import web
from yarl import URL

from ._filter import FilterError, apply_filter
from ._operations import operation_of
from ._recognizer import DeterministicRecognizer, Recognizer
from ._stores import Stores

__all__ = [
    "API_VERSION",
    "CURRENT_RECORD",
    "STATE_KEY",
    "EmulatorState",
    "Handler",
    "Listener",
    "RequestRecord",
    "Timing",
    "error_response",
    "get_state",
    "json_response",
    "note_answer",
    "note_definition",
    "now_iso",
    "paginate",
]

log = logging.getLogger("speechrest.emulator")

API_VERSION = "2025-10-15"
MAX_UPLOAD_BYTES = 250 * 1000 * 1000
"""The service's limit for one fast transcription upload (250 MB)."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Listener = Callable[[str, str], Awaitable[None]]


@attrs.define(kw_only=True)
class RequestRecord:
    """One request the emulator received (for assertions in tests)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Request headers, names lower-cased."""
    seq: int = 0
    """Its number: the emulator's first request is 1."""
    time: float = 0.0
    """When it arrived (seconds since the epoch)."""
    request_id: str = ""
    """The ``apim-request-id`` of its answer."""
    status: int | None = None
    """The status it was answered with; None while it is being handled (499: the client hung
    up first)."""
    answered_by: str | None = None
    """The rule that answered it or changed its answer, if any: ``fault http_503``, ``quota
    fast (600 requests per 60 seconds)``."""
    definition: dict[str, Any] | None = None
    """The ``definition`` of a fast transcription, as received."""
    duration: float | None = None
    """Seconds it took to answer."""

    @property
    def operation(self) -> str | None:
        """Its operationId (``Transcriptions_Submit``), or None (result downloads, unknown
        paths)."""
        return operation_of(self.method, self.path)


CURRENT_RECORD: contextvars.ContextVar[RequestRecord | None] = contextvars.ContextVar(
    "speechrest_record", default=None
)
"""The record of the request being handled (set by the emulator for each request)."""


def note_answer(who: str) -> None:
    """Note on the record of the request being handled which rule answered it (the first
    one to answer wins); a no-op outside the emulator."""
    record = CURRENT_RECORD.get()
    if record is not None and record.answered_by is None:
        record.answered_by = who


def note_definition(definition: dict[str, Any]) -> None:
    """Keep a fast transcription's ``definition`` on the record of its request."""
    record = CURRENT_RECORD.get()
    if record is not None:
        record.definition = definition


@attrs.frozen(kw_only=True)
class Timing:
    """How fast emulated long-running work moves (seconds). The defaults let a job of a few
    short files finish within a couple of seconds; tests may make it faster still."""

    queue_delay: float = 0.2
    """Time an entity stays ``NotStarted`` before it starts ``Running``."""
    run_time: float = 0.5
    """Least time an entity stays ``Running``: its work (downloads, transcription, training)
    starts after it, and the entity ends, with its files, when the work is done."""
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
    """The latest requests received (``SpeechEmulator(keep_requests=...)`` of them)."""
    received: int = 0
    """Requests received so far, kept or not."""
    transcribe_definitions: collections.deque[dict[str, Any]] = attrs.field(
        factory=lambda: collections.deque(maxlen=10_000)
    )
    """The ``definition`` of every fast transcription request, as received."""
    stores: Stores = attrs.field(factory=Stores)
    """The entities of each operation group (``stores.transcriptions``, ``stores.datasets``,
    ...), keyed by id, and the blob store behind the SAS links."""
    listeners: list[Listener] = attrs.field(factory=list)
    """Called as ``listener(event_kind, entity_url)`` when entities change (web hooks)."""
    middlewares: list[Any] = attrs.field(factory=list)
    """Extra aiohttp middlewares run before auth (fault injection plugs in here)."""
    metering: list[Any] = attrs.field(factory=list)
    """Extra aiohttp middlewares run first, as the service's gateway (quotas plug in here)."""
    tasks: set[asyncio.Task[None]] = attrs.field(factory=set)
    """Background work started with :meth:`spawn`, cancelled when the emulator stops."""

    def url(self, path: str, **query: Any) -> str:
        """Absolute URL of an API path, with ``api-version``."""
        q = {k: str(v) for k, v in query.items() if v is not None}
        q["api-version"] = self.api_version
        return str(URL(self.base_url + "/speechtotext" + path).with_query(q))

    async def emit(self, event_kind: str, entity_url: str) -> None:
        """Tell the listeners that an entity changed (``transcriptionCompletion``, ...). A
        listener that fails is logged; it breaks neither the others nor the entity's work."""
        for listener in list(self.listeners):
            try:
                await listener(event_kind, entity_url)
            except Exception:
                log.exception("an emulator listener failed on %s", event_kind)

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run background work (entity lifecycles, web hook deliveries) in a task that the
        emulator owns: it is cancelled when the emulator stops."""
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task


STATE_KEY = web.AppKey("speechrest_state", EmulatorState)


def get_state(request: web.Request) -> EmulatorState:
    """The emulator state behind a request (for route handlers)."""
    return request.app[STATE_KEY]


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
