"""The emulator's application: request records, auth, api-version, and every group's routes,
served by :class:`SpeechEmulator`."""

from __future__ import annotations

import asyncio
import collections
import os
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Self

from aiohttp import web

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
    CURRENT_RECORD,
    STATE_KEY,
    EmulatorState,
    Handler,
    RequestRecord,
    Timing,
    error_response,
    get_state,
    json_response,
)

__all__ = ["SpeechEmulator", "build_app"]


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


@web.middleware
async def _check_api(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = get_state(request)
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


def build_app(
    state: EmulatorState, *, quotas: Quotas | None = None, faults: FaultPlan | None = None
) -> web.Application:
    """The emulator's aiohttp application (its page shows ``quotas`` and ``faults``)."""
    app = web.Application(
        middlewares=[_page.bypass, _record, *state.metering, *state.middlewares, _check_api],
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

    ``key`` defaults to a random key; ``port=0`` picks a free port. ``recognizer`` decides
    what the emulator "hears" (see :class:`ScriptedRecognizer`). ``faults`` is a
    :class:`FaultPlan` of errors to inject (see ``emulator.faults``). ``quotas`` makes it
    throttle as the service does: ``Quotas()`` for the documented limits (600 fast
    transcriptions per minute, 100 other requests per 10 seconds), or your own (see
    ``emulator.quotas``); by default nothing is metered.

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
        quotas: Quotas | None = None,
        keep_requests: int = 100_000,
    ) -> None:
        if isinstance(keep_requests, bool) or not isinstance(keep_requests, int):
            raise TypeError(f"keep_requests must be an integer; got {keep_requests!r}")
        if keep_requests < 1:
            raise ValueError(f"keep_requests must be at least 1; got {keep_requests}")
        self.host = host
        self.port = port
        self.key = key or "emu-" + secrets.token_hex(16)
        self.state = EmulatorState(keys={self.key}, tokens=set(tokens))
        self.state.requests = collections.deque(maxlen=keep_requests)
        if recognizer is not None:
            self.state.recognizer = recognizer
        if timing is not None:
            self.state.timing = timing
        if spool_dir is not None:
            self.state.spool_dir = Path(spool_dir)
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
        self.app = build_app(self.state, quotas=self.quotas, faults=self.faults)
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
