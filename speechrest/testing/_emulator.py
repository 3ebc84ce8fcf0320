"""The emulator's application: request records, auth, api-version, and every group's routes,
served by :class:`SpeechEmulator`."""

from __future__ import annotations

import asyncio
import collections
import os
import secrets
import ssl
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Self

import anyio
import anyio.to_thread
from aiohttp import web

from .._checks import on_asyncio
from . import (
    _batch,
    _blobs,
    _datasets,
    _endpoints,
    _evaluations,
    _fast,
    _models,
    _page,
    _projects,
    _webhooks,
)
from ._faults import FaultPlan
from ._quota import Quotas
from ._recognizer import Recognizer
from ._state import (
    API_VERSION,
    CURRENT_RECORD,
    REQUEST_VERSION,
    RETIRED_VERSIONS,
    SERVED_VERSIONS,
    STATE_KEY,
    DownloadLimits,
    EmulatorState,
    Handler,
    RequestRecord,
    ServiceLimits,
    Timing,
    error_response,
    get_state,
    json_response,
    log,
)
from ._tls import LocalCA, make_local_ca

__all__ = ["SpeechEmulator", "build_app"]

_WILDCARDS = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}  # noqa: S104
"""Addresses that mean "every interface", and the loopback address clients use for each."""


@web.middleware
async def _record(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = get_state(request)
    state.received += 1
    record = RequestRecord(
        method=request.method,
        path=request.path,
        query=dict(request.query),
        headers={k.lower(): v for k, v in request.headers.items()},
        seq=state.received,
        time=time.time(),
        request_id=str(uuid.uuid4()),
    )
    state.requests.append(record)
    request_id = record.request_id
    started = time.monotonic()
    token = CURRENT_RECORD.set(record)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["apim-request-id"] = request_id
        record.status = exc.status
        raise
    except ConnectionResetError as exc:  # (aiohttp's client errors included)
        # The client hung up (it cancelled, or timed out) before it was answered: one
        # line, not a traceback; nobody reads the answer.
        log.info(
            "%s %s: the client hung up before the answer (%s)", request.method, request.path, exc
        )
        record.status = 499
        return web.Response(status=499, reason="Client Closed Request")
    except asyncio.CancelledError:
        record.status = 499  # the client hung up, and nobody reads an answer
        raise
    except Exception:
        record.status = 500  # what aiohttp answers
        raise
    finally:
        record.duration = time.monotonic() - started
        CURRENT_RECORD.reset(token)
    response.headers["apim-request-id"] = request_id
    record.status = response.status
    return response


_HTTP_CODES = {404: "NotFound", 405: "NotAllowed", 413: "InvalidRequest"}


@web.middleware
async def _service_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors in the service's shape: aiohttp's own (no such route, method not allowed, a
    body over the size limit) and, should the emulator fail, a 500 rather than a bare
    traceback page."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "InvalidRequest")
        return error_response(exc.status, code, exc.reason, headers=_allow(exc))
    except ConnectionError:
        raise  # the client went away: nobody to answer
    except Exception:
        log.exception("the emulator failed on %s %s", request.method, request.path)
        return error_response(500, "InternalServerError", "The emulator failed; see its log.")


def _allow(exc: web.HTTPException) -> dict[str, str] | None:
    allow = exc.headers.get("Allow")
    return {"Allow": allow} if allow is not None else None


@web.middleware
async def _check_api(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = get_state(request)
    if not request.path.startswith("/speechtotext/"):
        return await handler(request)  # e.g. result blobs, which carry their own SAS token
    retired = _retired(request.path)
    if retired is not None:
        return retired
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
    if version not in _served(state):
        return error_response(
            400,
            "InvalidRequest",
            f"The api-version '{version}' is not supported; use one of "
            f"{', '.join(_served(state))}.",
            inner_code="InvalidParameterValue",
        )
    REQUEST_VERSION.set(version)
    return await handler(request)


def _served(state: EmulatorState) -> tuple[str, ...]:
    return (state.api_version, *(v for v in SERVED_VERSIONS if v != state.api_version))


def _retired(path: str) -> web.Response | None:
    """The answer to a path of a retired version (``/speechtotext/v3.2/...``): the service no
    longer routes them, and its gateway answers 404 (the body is not documented)."""
    version = path.split("/", 3)[2] if path.count("/") >= 2 else ""
    if version not in RETIRED_VERSIONS:
        return None
    return json_response(
        {
            "error": {
                "code": "404",
                "message": f"Resource not found: Speech to text REST API {version} was retired "
                f"on March 31, 2026; use /speechtotext/...?api-version={API_VERSION}.",
            }
        },
        status=404,
    )


RouteRegistrar = Callable[[web.Application, EmulatorState], None]


def build_app(
    state: EmulatorState, *, quotas: Quotas | None = None, faults: FaultPlan | None = None
) -> web.Application:
    """The emulator's aiohttp application (its page shows ``quotas`` and ``faults``)."""
    app = web.Application(
        middlewares=[
            _page.bypass,
            _record,
            *state.metering,
            _service_errors,
            *state.middlewares,
            _check_api,
        ],
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
    _page.register(app, state, quotas=quotas, faults=faults)
    return app


async def _cancel_tasks(app: web.Application) -> None:
    state = app[STATE_KEY]
    tasks = list(state.tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class SpeechEmulator:
    """A local stand-in for the Speech to text service, served over HTTP on loopback.

    ::

        async with SpeechEmulator() as emulator:
            async with SpeechClient(emulator.endpoint, key=emulator.key) as client:
                ...

    ``key`` defaults to a random key; ``port=0`` picks a free port. ``host`` is the address
    to listen on: on all of them (``0.0.0.0`` or ``::``), :attr:`endpoint` and the links the
    emulator hands out name the loopback address. ``recognizer`` decides
    what the emulator "hears" (see :class:`ScriptedRecognizer`). ``faults`` is a
    :class:`FaultPlan` of errors to inject (see ``emulator.faults``). ``download_limits``
    bounds what it reads from remote URLs (:class:`DownloadLimits`: the service's limits);
    ``limits`` are the service's limits on audio and data (:class:`ServiceLimits`).
    ``quotas`` makes it throttle as the service does: ``Quotas()`` for the documented limits
    (600 fast transcriptions per minute, 100 other requests per 10 seconds), or your own
    (see ``emulator.quotas``); by default nothing is metered.

    ``https=True`` serves HTTPS with a certificate authority made when the emulator starts
    (the ``speechrest[emulator]`` extra): its certificate is written to ``ca_dir`` (by
    default a temporary folder, removed on stop) as :attr:`ca_cert`; trust it in clients
    (``SpeechClient(..., ssl=emulator.ssl_context())``, ``connection_verify=`` in Azure
    SDKs). Clients sign in with the key, or with ``Authorization: Bearer <token>`` for any of
    ``tokens`` (Microsoft Entra ID's header; Azure SDKs send tokens over HTTPS only).

    Open :attr:`endpoint` (its root URL, ``/``) in a browser to watch what the emulator
    received and did, live: the requests (the latest ``keep_requests`` are kept, as
    :attr:`requests`), the entities of each group, web hook deliveries and quotas. The page
    is served to loopback clients only, and never shows the key.
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
        download_limits: DownloadLimits | None = None,
        limits: ServiceLimits | None = None,
        https: bool = False,
        ca_dir: str | Path | None = None,
        quotas: Quotas | None = None,
        keep_requests: int = 100_000,
    ) -> None:
        if key is not None and (not isinstance(key, str) or not key.strip()):
            raise ValueError("key must be a non-empty string (or None for a random key)")
        if isinstance(keep_requests, bool) or not isinstance(keep_requests, int):
            raise TypeError(f"keep_requests must be an integer; got {keep_requests!r}")
        if keep_requests < 1:
            raise ValueError(f"keep_requests must be at least 1; got {keep_requests}")
        self.host = host
        self.port = port
        self.key = key if key is not None else "emu-" + secrets.token_hex(16)
        self.state = EmulatorState(keys={self.key}, tokens=set(tokens))
        self.state.requests = collections.deque(maxlen=keep_requests)
        if recognizer is not None:
            self.state.recognizer = recognizer
        if timing is not None:
            self.state.timing = timing
        if spool_dir is not None:
            self.state.spool_dir = Path(spool_dir)
        if download_limits is not None:
            self.state.download_limits = download_limits
        if limits is not None:
            self.state.limits = limits
        self.https = https
        self._ca_dir = None if ca_dir is None else Path(ca_dir)
        self._ca: LocalCA | None = None
        self._temp_ca_dir: tempfile.TemporaryDirectory[str] | None = None
        self.faults = faults if faults is not None else FaultPlan()
        """The faults this emulator injects; add and clear rules at any time."""
        self.state.middlewares.append(self.faults.middleware)
        self.quotas = quotas if quotas is not None else Quotas(fast=None, rest=None)
        """The quotas this emulator enforces; change them at any time."""
        self.state.metering.append(self.quotas.middleware)
        self._runner: web.AppRunner | None = None
        self.app: web.Application | None = None

    @property
    def endpoint(self) -> str:
        """The endpoint to give ``SpeechClient``: ``http://127.0.0.1:<port>``."""
        if self._runner is None:
            raise RuntimeError("the emulator is not running: use `async with SpeechEmulator()`")
        return self.state.base_url

    @property
    def ca_cert(self) -> Path | None:
        """The PEM certificate of the emulator's certificate authority (with ``https=True``,
        once started), for clients to trust; else None."""
        return None if self._ca is None else self._ca.cert_path

    def ssl_context(self) -> ssl.SSLContext:
        """A client SSL context that trusts the emulator's certificate authority (and the
        system's), for ``SpeechClient(..., ssl=...)`` or aiohttp."""
        if self._ca is None:
            raise RuntimeError("the emulator serves HTTPS only with https=True, once started")
        return self._ca.client_context()

    @property
    def requests(self) -> collections.deque[RequestRecord]:
        """The requests received so far (the latest ``keep_requests``), oldest first."""
        return self.state.requests

    def serve_file(
        self, path: str | os.PathLike[str], *, sas_lifetime_minutes: int | None = None
    ) -> str:
        """A URL at which the emulator serves the local file ``path``, as Blob Storage serves
        a blob behind a SAS link: give it as ``audio_url=`` to ``transcribe()``, in
        ``content_urls`` of a batch job, or as a dataset's ``content_url``. Reading it needs
        no key. The file is read when requested; the URL ends with the file's name (which
        :class:`ScriptedRecognizer` matches) and stays valid ``sas_lifetime_minutes`` (by
        default 12 hours, as the service's links).

        Raises ``FileNotFoundError`` when ``path`` is not a file and ``RuntimeError`` when
        the emulator is not running.
        """
        file = Path(path)
        if not file.is_file():
            raise FileNotFoundError(f"cannot serve {file}: no such file")
        return self._serve(file.resolve(), file.name, sas_lifetime_minutes)

    def serve_bytes(
        self, data: bytes, name: str, *, sas_lifetime_minutes: int | None = None
    ) -> str:
        """Like :meth:`serve_file`, for ``data`` in memory (``make_wav()`` output, say); the
        URL ends with ``name``, e.g. ``call.wav``."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        if not name or "/" in name:
            raise ValueError(f"name must be a file name such as 'call.wav', not {name!r}")
        return self._serve(bytes(data), name, sas_lifetime_minutes)

    def _serve(self, content: bytes | Path, name: str, minutes: int | None) -> str:
        if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, int)):
            raise TypeError("sas_lifetime_minutes must be an integer")
        if minutes is not None and minutes < 0:
            raise ValueError(f"sas_lifetime_minutes must be >= 0, not {minutes}")
        base_url = self.endpoint  # raises when not running
        blob = f"served/{secrets.token_hex(8)}/{name}"
        self.state.stores.blobs.put(blob, content)
        return self.state.stores.blobs.sas_url(base_url, blob, minutes)

    def __repr__(self) -> str:
        where = self.state.base_url or "not running"
        return f"SpeechEmulator({where})"

    async def start(self) -> None:
        """Start serving (``async with`` does it for you)."""
        on_asyncio("SpeechEmulator")
        self.app = build_app(self.state, quotas=self.quotas, faults=self.faults)
        self._runner = web.AppRunner(
            self.app, handle_signals=False, access_log=None, shutdown_timeout=0.5
        )
        await self._runner.setup()
        server_ssl = self._start_tls()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=server_ssl)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        port = sockets[0].getsockname()[1] if sockets else self.port
        self.port = port
        host = _WILDCARDS.get(self.host, self.host)
        host = f"[{host}]" if ":" in host else host
        self.state.base_url = f"{'https' if server_ssl else 'http'}://{host}:{port}"

    def _start_tls(self) -> ssl.SSLContext | None:
        """A new certificate authority and the server's TLS context, with ``https=True``."""
        if not self.https:
            return None
        directory = self._ca_dir
        if directory is None:
            self._temp_ca_dir = tempfile.TemporaryDirectory(prefix="speechrest-emulator-")
            directory = Path(self._temp_ca_dir.name)
        directory.mkdir(parents=True, exist_ok=True)
        self._ca = make_local_ca(self.host, directory)
        # The emulator's own requests (downloads of the URLs it serves, web hooks) trust it.
        self.state.outbound_ssl = self._ca.client_context()
        return self._ca.server_context

    async def stop(self) -> None:
        """Stop serving; background work (jobs, training) is cancelled, and a recognizer
        with a ``close()`` method is closed (recognitions still running end at once)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            close = getattr(self.state.recognizer, "close", None)
            if callable(close):
                await anyio.to_thread.run_sync(close)
        if self._temp_ca_dir is not None:
            self._temp_ca_dir.cleanup()
            self._temp_ca_dir = None
            self._ca = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
