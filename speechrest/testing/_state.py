"""What every part of the emulator shares: its state, timing, and the service's answer
shapes (JSON, errors, pages). The route modules build on this; ``_emulator`` assembles them.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import json
import logging
import ssl
import tempfile
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import attrs
from aiohttp import web
from yarl import URL

from ._audio import AudioInfo
from ._filter import FilterError, apply_filter
from ._operations import operation_of
from ._recognizer import DeterministicRecognizer, RecognizedPhrase, Recognizer, machine_cores
from ._stores import Stores

__all__ = [
    "API_VERSION",
    "CURRENT_RECORD",
    "REQUEST_VERSION",
    "RETIRED_VERSIONS",
    "SERVED_VERSIONS",
    "STATE_KEY",
    "DownloadLimits",
    "EmulatorState",
    "Handler",
    "Listener",
    "RequestRecord",
    "ServiceLimits",
    "Timing",
    "error_response",
    "get_state",
    "json_response",
    "log",
    "note_answer",
    "note_definition",
    "now_iso",
    "paginate",
]

log = logging.getLogger("speechrest.emulator")
"""The emulator's log: requests cut short by their client (INFO), failing listeners."""

API_VERSION = "2025-10-15"
SERVED_VERSIONS = ("2025-10-15", "2024-11-15")
"""The generally available versions the service serves, with the same shapes for what the
emulator does (Learn, migrate-2025-10-15: "2025-10-15 is the latest version that's generally
available"; Microsoft's batch samples and the batch pages still use 2024-11-15)."""
RETIRED_VERSIONS = ("v3.0", "v3.1", "v3.2", "v3.2-preview.1", "v3.2-preview.2")
"""Path versions retired "on March 31, 2026" (Learn, the migration guides)."""
REQUEST_VERSION: contextvars.ContextVar[str] = contextvars.ContextVar("api_version")
"""The ``api-version`` of the request being answered (and of the work it started): the
links the emulator hands out carry it, as the service's do."""

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


@attrs.frozen(kw_only=True)
class DownloadLimits:
    """What the emulator reads from remote URLs (``audioUrl``, batch ``contentUrls`` and
    containers, dataset ``contentUrl``), as the service documents it. A download stops as
    soon as it passes its limit; redirects are followed only on the original host (scheme,
    host and port), at most :attr:`max_redirects` of them. Lower the limits to test cheaply.

    A fast transcription ``audioUrl`` has the upload limit, :attr:`ServiceLimits.fast_bytes`.
    """

    batch_file_bytes: int = 1_000_000_000
    """Largest audio file of a batch job (1 GB, the Speech quotas page; the Swagger's
    older figure for container blobs is 2.5 GB)."""
    dataset_bytes: int = 2_000_000_000
    """Largest dataset file imported from a URL (2 GB, the quotas page's acoustic limit)."""
    container_blobs: int = 10_000
    """Most blobs a ``contentContainerUrl`` may hold (the Swagger and the quotas page)."""
    container_page_size: int = 5000
    """``maxresults`` of each container listing request (Blob Storage's own page size is
    5000); every page is read, following ``NextMarker``."""
    listing_page_bytes: int = 16 * 1024 * 1024
    """Largest container listing page (XML) read."""
    max_redirects: int = 5
    """Redirects followed per download, all on the original host."""


_MINUTE = 60_000


@attrs.frozen(kw_only=True)
class ServiceLimits:
    """The service's documented limits on audio and data, which the emulator enforces as the
    service does (lower them to test cheaply). Durations are in milliseconds; ``None`` means
    no limit. Sources: Learn's "Speech service quotas and limits" page, the fast transcription
    and batch pages, and the custom speech data pages; where they disagree with the Swagger,
    the attribute says so. Remote reads have their own :class:`DownloadLimits`."""

    fast_bytes: int = 300_000_000
    """Largest fast transcription audio, uploaded or by ``audioUrl``: "less than 300 MB"
    (Learn, quotas page and fast transcription page). The Swagger 2025-10-15 and the
    ``azure-ai-transcription`` docstrings say 250 MB; Learn's is the newer figure."""
    fast_duration_ms: int | None = 120 * _MINUTE
    """Longest fast transcription audio: "less than 2 hours" (Learn; the Swagger agrees)."""
    batch_duration_ms: int | None = None
    """Longest batch transcription audio: no general limit is documented (a batch file is
    limited by size, :attr:`DownloadLimits.batch_file_bytes`)."""
    batch_diarization_duration_ms: int | None = 240 * _MINUTE
    """Longest batch audio with diarization: "When this property is selected, source audio
    length can't exceed 240 minutes per file" (Learn, batch-transcription-create)."""
    batch_content_urls: int = 1000
    """Most ``contentUrls`` of one batch job ("Up to 1000 urls are allowed")."""
    dataset_audio_duration_ms: int | None = 120 * _MINUTE
    """Longest audio file of an audio dataset: two hours for testing (Learn, "Training and
    testing datasets"; training data is limited to 40 s an utterance, which the emulator
    does not tell apart)."""
    dataset_archive_files: int = 10_000
    """Most files in a dataset's .zip archive ("2 GB or 10,000 files")."""


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
    limits: ServiceLimits = attrs.field(factory=ServiceLimits)
    """The service's limits on audio and data."""
    download_limits: DownloadLimits = attrs.field(factory=DownloadLimits)
    """Limits on what is read from remote URLs."""
    outbound_ssl: ssl.SSLContext | bool = True
    """How the emulator's own requests (downloads, results written to a destination, web
    hooks) verify TLS: with the system's authorities (True), or a context that also trusts
    the emulator's own authority (``https=True``)."""
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
    recognitions: anyio.CapacityLimiter = attrs.field(
        factory=lambda: anyio.CapacityLimiter(machine_cores())
    )
    """How many recognitions run at once (worker threads): one per core by default."""

    async def recognize(self, audio: AudioInfo, locales: list[str]) -> list[RecognizedPhrase]:
        """What the recognizer hears in ``audio``, in a worker thread (at most
        ``recognitions`` at once), so that the event loop serves other requests meanwhile.
        When the emulator stops, a recognition still running is left to finish on its own."""
        return await anyio.to_thread.run_sync(
            self.recognizer.recognize,
            audio,
            locales,
            limiter=self.recognitions,
            abandon_on_cancel=True,
        )

    def url(self, path: str, **query: Any) -> str:
        """Absolute URL of an API path, with ``api-version``."""
        q = {k: str(v) for k, v in query.items() if v is not None}
        q["api-version"] = REQUEST_VERSION.get(self.api_version)
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
                    "api-version": REQUEST_VERSION.get(state.api_version),
                }
            )
        )
    return json_response(body, headers=headers)
