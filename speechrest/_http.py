"""HTTP transport: the only client-side module that touches aiohttp.

It owns the ``aiohttp.ClientSession`` and sends one API call: URL and headers, the attempts
(each decided by :mod:`speechrest._retry`), redirects, the upload stall watchdog, bounded
reading and decoding of the body, and the mapping of aiohttp's exceptions to ours (in
:func:`_mapped`, the only place). Everything above it gets plain Python values
(:class:`Response`) and our exceptions.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import ipaddress
import json
import json.scanner
import logging
import math
import platform
import re
import ssl as _ssl
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

import aiohttp
import anyio
import attrs
from yarl import URL

from . import _tracing, errors
from ._auth import Auth
from ._convert import error_fields
from ._ids import unique_id
from ._redact import redact_url
from ._retry import RetryBudget, RetryPolicy, is_throttle, parse_retry_after, waits_its_turn
from ._version import __version__
from ._watchdog import SLICE, WatchedBody

__all__ = ["Admission", "Body", "HttpConfig", "Response", "Transport"]

log = logging.getLogger("speechrest")

_REQUEST_ID_HEADERS = ("apim-request-id", "x-ms-request-id", "x-requestid", "x-request-id")
_LOOPBACK = frozenset({"localhost"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
_UNWATCHED = contextlib.nullcontext()
"""The watchdog of a body sent in one piece with the headers: none."""
_scan_json: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(
    json.JSONDecoder()  # type: ignore[arg-type]  # (typeshed types it oddly)
)
"""``json``'s own scanner (the C one): ``(value, end)`` of the JSON text at an index."""
_BUFFERS = (bytes, bytearray)
_MIB = 1024 * 1024
_ERROR_BODY = 64 * 1024
"""The most of an error response's body that is kept (the service's errors are small)."""
_NOT_HTTP = "is not an absolute http(s) URL"
_HOST = re.compile(r"[A-Za-z0-9._-]+|[0-9A-Fa-f:.]+(%[A-Za-z0-9._~-]+)?", re.ASCII)
"""A host name (IDNA-encoded), an IPv4 address or an IPv6 address with its zone."""


@attrs.frozen(kw_only=True)
class HttpConfig:
    """Transport settings, fixed when the client is built."""

    connect_timeout: float = 10.0
    """Seconds to establish a connection."""
    read_timeout: float = 300.0
    """Seconds the server may stay silent while we wait for (more of) a response. An upload
    that keeps making progress is never cut off by this."""
    max_connections: int = 100
    """Size of the connection pool."""
    user_agent: str | None = None
    """Appended to speechrest's User-Agent."""
    max_response_bytes: int = 16 * _MIB
    """The largest API response body read (after decompression); more raises
    :class:`~speechrest.errors.ResponseTooLargeError`."""
    max_download_bytes: int = 256 * _MIB
    """The largest result file read from a ``contentUrl`` (after decompression)."""


class Response:
    """A completed HTTP exchange, as plain values: ``status``, ``headers`` (names looked
    up regardless of case), ``data`` (the decoded JSON body with ``expect="json"``, else
    the raw bytes; None when empty) and the service's ``request_id``."""

    __slots__ = ("data", "headers", "request_id", "status")

    def __init__(
        self, status: int, headers: Mapping[str, str], data: Any, request_id: str | None
    ) -> None:
        self.status = status
        self.headers = headers
        self.data = data
        self.request_id = request_id

    def __repr__(self) -> str:
        return f"Response(status={self.status}, request_id={self.request_id!r})"

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers)

    @property
    def location(self) -> str | None:
        return self.headers.get("location")

    @property
    def date(self) -> datetime | None:
        """When the server answered (its ``Date`` header), or None."""
        try:
            when = email.utils.parsedate_to_datetime(self.headers.get("date", ""))
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        return when if when.tzinfo is not None else None


@attrs.define(kw_only=True)
class Body:
    """A request body that can be produced again for each attempt.

    ``open`` returns the bytes to send (a buffer or an async iterator of chunks). For a
    body that cannot be replayed ``replayable`` is False: it is sent once and never retried.
    """

    open: Callable[[], bytes | bytearray | AsyncIterator[bytes]]
    content_type: str
    length: int | None = None
    replayable: bool = True


class Admission(Protocol):
    """Admits the HTTP attempts of one quota family (see :mod:`speechrest._limits`)."""

    budget: RetryBudget
    """The retries the family may still send."""

    def admit(self) -> float | None:
        """A ticket for :meth:`done` if an attempt may be sent now, else None."""

    async def acquire(self) -> float:
        """Wait until an attempt may be sent; return its ticket for :meth:`done`."""

    def done(
        self,
        ticket: float,
        status: int | None,
        *,
        throttled: bool = False,
        retry_after: float | None = None,
    ) -> None:
        """The attempt ended: its HTTP status (None: no answer), whether the service
        throttled it, and its ``Retry-After``."""


class _Failed(Exception):
    """One attempt failed without an HTTP status: the error to report, and whether any of
    the request may have reached the service."""

    def __init__(self, error: errors.APIConnectionError, *, reached_service: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.reached_service = reached_service


class Transport:
    """One aiohttp session per client: sends API calls, with retries and error mapping."""

    def __init__(
        self,
        endpoint: str,
        *,
        auth: Auth,
        api_version: str,
        config: HttpConfig,
        session: Any = None,
        ssl: _ssl.SSLContext | None = None,
        allow_insecure_http: bool = False,
    ) -> None:
        base = _endpoint(endpoint, allow_insecure_http)
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise errors.InvalidInputError("session= must be an aiohttp.ClientSession")
        self.base = base
        self.api_version = api_version
        self.config = config
        self.auth = auth
        self._origin = (base.scheme, base.host, base.port)
        self._paths: dict[str, URL] = {}
        self._ssl = ssl
        self._session: aiohttp.ClientSession | None = session
        self._owns_session = session is None
        self._state = "unopened"
        self._upload_timeout = aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=config.connect_timeout, sock_read=None
        )
        """The timeouts of an exchange under the upload watchdog, which bounds the wait for
        the answer itself (aiohttp's ``sock_read`` would start as soon as the last byte is
        handed to the socket, while the server may still be reading what it buffers)."""
        agent = [
            f"speechrest/{__version__}",
            f"aiohttp/{aiohttp.__version__}",
            f"Python/{platform.python_version()} ({platform.system()})",
        ]
        if config.user_agent:
            agent.append(config.user_agent)
        self._common = {"User-Agent": " ".join(agent), "Accept": "application/json"}
        """Headers every request sends: the defaults of a session of our own, else sent with
        each request."""
        self._headers = {} if session is None else dict(self._common)
        """What each request starts from (copied; the request id and credentials are
        added)."""
        self.tracer = _tracing.tracer()
        """The OpenTelemetry tracer, when OpenTelemetry is installed and configured."""
        self._send = (
            self._attempt
            if self.tracer is None
            else functools.partial(_tracing.attempt, self.tracer, self._attempt)
        )
        """One attempt (:meth:`_attempt`), in a span when tracing (decided once, here)."""

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        if self._state != "unopened":
            raise errors.ClientStateError(
                f"this client is {self._state}; create a new SpeechClient to open it again"
            )
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self.config.max_connections,
                ssl=self._ssl if self._ssl is not None else True,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=None,
                    sock_connect=self.config.connect_timeout,
                    sock_read=self.config.read_timeout,
                ),
                auto_decompress=True,
                trust_env=False,
                headers=self._common,
            )
        self._closing = anyio.Event()
        self._state = "open"

    async def close(self) -> None:
        if self._state == "open":
            self._closing.set()  # calls waiting to retry give up at once
            if self._owns_session and self._session is not None:
                self._state = "closing"
                # The connections of calls in flight are cut (their calls raise
                # ClientStateError): closed gracefully, one whose upload the server stopped
                # reading would hold the session's close until the upload's watchdog fired.
                for protocol in list(getattr(self._session.connector, "_acquired", ())):
                    protocol.abort()
                await self._session.close()
        self._state = "closed"

    @property
    def is_open(self) -> bool:
        return self._state == "open"

    def connector_stats(self) -> dict[str, int]:
        """Pooled and in-use connections (for diagnostics and tests)."""
        conn = self._session.connector if self._session is not None else None
        if conn is None:
            return {"acquired": 0, "pooled": 0}
        acquired = len(getattr(conn, "_acquired", ()))
        pooled = sum(len(v) for v in getattr(conn, "_conns", {}).values())
        return {"acquired": acquired, "pooled": pooled}

    def _require_open(self) -> aiohttp.ClientSession:
        if self._state == "unopened":
            raise errors.ClientStateError(
                "the client is not open: use it as `async with SpeechClient(...) as client:`"
            )
        if self._state != "open" or self._session is None:
            raise errors.ClientStateError("the client is closed; create a new SpeechClient")
        if self._session.closed:
            raise errors.ClientStateError("the aiohttp session given to this client is closed")
        return self._session

    # -- URLs ------------------------------------------------------------------------------

    def url(self, path: str) -> URL:
        """The absolute URL of an API path such as ``/transcriptions``."""
        return URL(str(self.base) + "/speechtotext" + path)

    def same_origin(self, url: URL) -> bool:
        return (url.scheme, url.host, url.port) == self._origin

    def _resolve(
        self, target: str, params: Mapping[str, Any] | None, authenticated: bool, operation: str
    ) -> URL:
        """The URL to call: the API path or absolute URL, with api-version and params.
        An API path without params is resolved once (every fast transcription posts to
        the same URL)."""
        if authenticated and not params:
            url = self._paths.get(target)
            if url is not None:
                return url
        if params or not target.startswith("/") or target.startswith("//"):
            return self._build(target, params, authenticated, operation)
        url = self._build(target, None, authenticated, operation)
        if authenticated and len(self._paths) < 64:  # a handful of paths, called without params
            self._paths[target] = url
        return url

    def _build(
        self, target: str, params: Mapping[str, Any] | None, authenticated: bool, operation: str
    ) -> URL:
        path = target.startswith("/") and not target.startswith("//")
        url = self.url(target) if path else _absolute(target, operation)
        query: dict[str, Any] = dict(url.query)
        if authenticated and self.same_origin(url):
            query.setdefault("api-version", self.api_version)
        for name, value in (params or {}).items():
            if value is not None:
                query[name] = ("true" if value else "false") if isinstance(value, bool) else value
        return url.with_query(query) if query else url

    # -- requests --------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        target: str,
        *,
        operation: str,
        retry: RetryPolicy,
        gate: Admission,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        body: Body | None = None,
        headers: Mapping[str, str] | None = None,
        creates: bool = False,
        authenticated: bool = True,
        expect: str = "json",
        download: bool = False,
    ) -> Response:
        """Send one API call, with retries, and return its response or raise our error.

        ``target`` is an API path (``/transcriptions``) or an absolute URL (``@nextLink``,
        ``Location``, a ``contentUrl``). Credentials go only to the configured endpoint's
        origin, and only when ``authenticated``. ``creates`` marks a POST that creates an
        entity (see :mod:`speechrest._retry`). ``expect`` is ``"json"`` or ``"bytes"``.
        ``download`` reads a result file (capped by ``max_download_bytes``, not
        ``max_response_bytes``).
        """
        session = self._require_open()
        url = self._resolve(target, params, authenticated, operation)
        if json_body is not None:
            payload = _json_payload(json_body, operation)
            body = Body(open=lambda: payload, content_type="application/json", length=len(payload))
        own = target[:1] == "/" and target[:2] != "//"  # an API path: the endpoint's origin
        exchange = _Exchange(
            method, url, operation, body, headers, unique_id(), expect, authenticated,
            authenticated and (own or self.same_origin(url)),
            self.config.max_download_bytes if download else self.config.max_response_bytes,
            "max_download_bytes" if download else "max_response_bytes",
        )  # fmt: skip
        replayable = body is None or body.replayable
        slept = 0.0
        attempt = throttles = 0
        while True:
            ticket = gate.admit()  # the quota family's turn, for the exchange only
            if ticket is None:
                ticket = await gate.acquire()
            throttled = False
            try:
                response = await self._send(session, exchange, attempt)
            except _Failed as failed:
                gate.done(ticket, None)
                self._check_not_closed(session, failed.error)
                error: errors.SpeechRestError = failed.error
                reached = failed.reached_service
            except _SourceFailed as failed:
                gate.done(ticket, None)
                raise failed.error from None
            except BaseException as exc:
                gate.done(ticket, None)
                if isinstance(exc, Exception) and not isinstance(exc, errors.SpeechRestError):
                    self._check_not_closed(session, exc)  # aiohttp: "Session is closed"
                raise
            else:
                if response.status < 400:
                    gate.done(ticket, response.status)
                    return response
                error, reached = self._status_error(response, operation), True
                gate.done(
                    ticket,
                    response.status,
                    throttled=is_throttle(error),
                    retry_after=error.retry_after,
                )
                throttled = waits_its_turn(error)
            verdict = retry.decide(
                error,
                attempt=attempt,
                slept=slept,
                throttles=throttles,
                creates=creates,
                replayable=replayable,
                reached_service=reached,
                budget=gate.budget,
            )
            if not isinstance(verdict, float):
                raise verdict
            log.info("%s: %s; retry %d in %.2fs", operation, error, attempt + 1, verdict)
            with anyio.move_on_after(verdict):  # (a throttle's wait is also the family's pause)
                await self._closing.wait()  # closing the client ends the wait
            session = self._require_open()  # closed while we waited: no retry
            throttles += throttled
            slept += 0.0 if throttled else verdict
            attempt += 1

    def _credentials(self, exchange: _Exchange, url: URL) -> bool:
        """Whether the credentials go with a request to ``url`` (redirected there)."""
        return exchange.authenticated and self.same_origin(url)

    def _check_not_closed(self, session: aiohttp.ClientSession, error: BaseException) -> None:
        """After a failed attempt: when the client (or the session given to it) was closed
        meanwhile, that is the error (nothing is retried on a closed session)."""
        if session.closed or self._state != "open":
            closed = errors.ClientStateError(
                "the client was closed while this call was in flight; close it only once "
                "its calls are done (or cancelled)"
            )
            if isinstance(error, errors.SpeechRestError):
                raise closed from error
            raise closed from None

    async def _attempt(
        self, session: aiohttp.ClientSession, exchange: _Exchange, attempt: int
    ) -> Response:
        """One attempt: send, follow same-request redirects, read and decode the body."""
        method, url, body = exchange.method, exchange.url, exchange.body
        operation = exchange.operation
        for _hop in range(_MAX_REDIRECTS + 1):
            headers = self._headers.copy()
            headers["x-ms-client-request-id"] = exchange.request_id
            if attempt:
                headers["x-ms-retry-count"] = str(attempt)
            if exchange.credentials if url is exchange.url else self._credentials(exchange, url):
                name, value = self.auth.header() or await self.auth.refresh()
                headers[name] = value
            data = None
            if body is not None and method not in ("GET", "HEAD"):
                data = body.open()
                headers["Content-Type"] = body.content_type
                if body.length is not None and not isinstance(data, _BUFFERS):
                    # (aiohttp takes the length of a buffer from the buffer itself)
                    headers["Content-Length"] = str(body.length)
            if exchange.headers:
                headers.update(exchange.headers)
            started = time.perf_counter()
            try:
                status, resp_headers, raw = await self._exchange(
                    session, method, url, data, headers, exchange
                )
            except _TRANSPORT_FAILURES as exc:
                raise _mapped(exc, url, operation, self.config.read_timeout, started) from None
            if status in _REDIRECTS and "Location" in resp_headers:
                url = _redirect(exchange, url, resp_headers["Location"], status, data is not None)
                if status == 303:
                    method, body = "GET", None
                continue
            response_id = resp_headers.get("apim-request-id") or _request_id(resp_headers)
            if log.isEnabledFor(logging.DEBUG):  # redacting the URL is not free
                elapsed = time.perf_counter() - started
                log.debug("%s %s %s -> %d in %.3fs (request id %s)", operation, method,
                          redact_url(url), status, elapsed, response_id)  # fmt: skip
            data = _decode(raw, status, exchange.expect, operation, response_id)
            return Response(status, resp_headers, data, response_id)
        raise errors.RedirectError(
            f"more than {_MAX_REDIRECTS} redirects in a row; the last to "
            f"{redact_url(url)} was not followed",
            operation=operation,
            location=redact_url(url),
        )

    async def _exchange(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: URL,
        data: bytes | bytearray | AsyncIterator[bytes] | None,
        headers: dict[str, str],
        exchange: _Exchange,
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Send the request and read the response, under the upload stall watchdog.

        aiohttp's ``sock_read`` only starts once the body is sent: a server that stops
        reading mid-upload would hang us. The watchdog cancels the exchange when one piece
        of the body cannot be sent within ``read_timeout`` (a slow source is not counted),
        and bounds the wait for the answer once all of it is handed over (see
        :class:`WatchedBody`); aiohttp's ``sock_read`` takes over for the response body.
        The body of a redirect is not read.
        """
        watchdog: Any = _UNWATCHED
        if data is not None and not (isinstance(data, _BUFFERS) and len(data) <= SLICE):
            watchdog = anyio.CancelScope()
            data = WatchedBody(data, watchdog, self.config.read_timeout)
        try:
            if watchdog is _UNWATCHED:
                sending = session.request(
                    method, url, data=data, headers=headers, allow_redirects=False
                )
            else:
                sending = session.request(
                    method, url, data=data, headers=headers, allow_redirects=False,
                    timeout=self._upload_timeout,
                )  # fmt: skip
            with watchdog:
                async with sending as resp:
                    if watchdog is not _UNWATCHED:
                        watchdog.deadline = math.inf  # the body is sent (or refused)
                        _watch_silence(resp, self.config.read_timeout)
                    status, headers_in = resp.status, resp.headers
                    if status in _REDIRECTS:
                        return status, headers_in, b""
                    length = resp.content_length
                    if (
                        length is not None
                        and length <= exchange.limit
                        and "Content-Encoding" not in headers_in
                    ):  # aiohttp reads exactly Content-Length bytes: the fast path
                        return status, headers_in, await resp.read()
                    return status, headers_in, await _read_body(resp, exchange)
            raise _Stalled(answer=isinstance(data, WatchedBody) and data.sent)
        except Exception:
            if isinstance(data, WatchedBody) and data.error is not None:
                # The caller's source (or progress callback) failed, not the connection:
                # aiohttp reports it as a broken connection, which would be retried.
                raise _SourceFailed(data.error) from None
            raise
        finally:
            if isinstance(data, WatchedBody):
                await data.aclose()  # closes the source's file now, not at garbage collection

    def _status_error(self, response: Response, operation: str) -> errors.APIStatusError:
        code, inner_code, message = error_fields(response.data)
        if message is None and isinstance(response.data, str):
            message = response.data
        cls = errors.status_error_class(response.status)
        return cls(
            response.status,
            code=code,
            inner_code=inner_code,
            message=message,
            request_id=response.request_id,
            operation=operation,
            body=response.data,
            retry_after=response.retry_after,
        )


class _Exchange:
    """What stays the same across the attempts of one call."""

    __slots__ = (
        "authenticated", "body", "credentials", "expect", "headers", "limit", "method",
        "operation", "option", "request_id", "url",
    )  # fmt: skip

    def __init__(
        self,
        method: str,
        url: URL,
        operation: str,
        body: Body | None,
        headers: Mapping[str, str] | None,
        request_id: str,
        expect: str,
        authenticated: bool,
        credentials: bool,
        limit: int,
        option: str,
    ) -> None:
        self.method = method
        self.url = url
        self.operation = operation
        self.body = body
        self.headers = headers
        self.request_id = request_id
        self.expect = expect
        self.authenticated = authenticated
        """Whether credentials may be sent at all (never to a SAS URL)."""
        self.credentials = credentials
        """Whether they go with the request to ``url`` (the endpoint's origin)."""
        self.limit = limit
        """The most bytes of a (decompressed) response body read."""
        self.option = option
        """The client option that sets ``limit``."""


class _Stalled(Exception):
    """The upload made no progress for ``read_timeout`` seconds (``answer``: it was all
    sent, and the answer did not start in time)."""

    def __init__(self, *, answer: bool) -> None:
        super().__init__()
        self.answer = answer


class _SourceFailed(Exception):
    """The request body's source raised ``error``: raised as it is, never retried."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


_TRANSPORT_FAILURES = (_Stalled, TimeoutError, aiohttp.ClientError, OSError)
"""What a broken exchange raises (anything else goes on as it is)."""


def _mapped(
    exc: BaseException, url: URL, operation: str, read_timeout: float, started: float
) -> _Failed:
    """The one place where aiohttp's (and the socket's) exceptions become ours: a
    :class:`_Failed` with whether the request may have reached the service."""
    if isinstance(exc, _Stalled):
        message = (
            f"the upload made no progress for {read_timeout}s calling "
            f"{redact_url(url)}: the service stopped reading the request body"
            if not exc.answer
            else f"the service did not start its answer within {read_timeout}s "
            f"(plus the time the upload took) of being sent the request to {redact_url(url)}"
        )
        return _Failed(errors.APITimeoutError(message, operation=operation), reached_service=True)
    if isinstance(exc, TimeoutError):
        connecting = isinstance(exc, aiohttp.ConnectionTimeoutError)
        message = (
            f"timed out after {time.perf_counter() - started:.1f}s "
            f"({'connecting' if connecting else 'waiting for the response'}) calling "
            f"{redact_url(url)}; raise connect_timeout=/read_timeout= if the service "
            "needs longer"
        )
        error = errors.APITimeoutError(message, operation=operation)
        return _Failed(error, reached_service=not connecting)
    where = f"{url.host}:{url.port}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        message = f"cannot connect to {where}: {exc.os_error}"
        return _Failed(
            errors.APIConnectionError(message, operation=operation), reached_service=False
        )
    message = (
        f"connection to {where} failed during the exchange: {type(exc).__name__}: {redact_url(exc)}"
    )
    return _Failed(errors.APIConnectionError(message, operation=operation), reached_service=True)


def _watch_silence(resp: aiohttp.ClientResponse, seconds: float) -> None:
    """Give the rest of a watched exchange aiohttp's ``sock_read`` again: at most
    ``seconds`` of silence while the response body comes in."""
    protocol = resp.connection.protocol if resp.connection is not None else None
    if protocol is not None:
        protocol.read_timeout = seconds
        protocol.start_timeout()


def _json_payload(data: Any, operation: str) -> bytes:
    """A JSON request body. ``nan`` and ``inf`` are not JSON: never sent (the input checks
    refuse them first; this is the last line)."""
    try:
        return json.dumps(data, separators=(",", ":"), allow_nan=False).encode()
    except ValueError:
        raise errors.InvalidInputError(
            f"{operation}: the request holds a number that is not finite (nan or inf)"
        ) from None


async def _read_body(resp: aiohttp.ClientResponse, exchange: _Exchange) -> bytes:
    """The response body (when it is compressed, or its length is unknown or over the cap),
    decompressed, read as it streams in and never more than the call's cap: beyond it,
    :class:`~speechrest.errors.ResponseTooLargeError` (a gzip bomb stops there too: aiohttp
    inflates only as much as is read). An error body is cut at ``_ERROR_BODY`` bytes
    instead: its status is what counts."""
    limit = exchange.limit
    length = resp.content_length
    plain = "Content-Encoding" not in resp.headers
    error = resp.status >= 400
    if error:
        limit = min(limit, _ERROR_BODY)
    elif length is not None and length > limit and plain:
        raise _too_large(resp, exchange)  # known before reading any of it
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_any():
        size += len(chunk)
        if size > limit:
            if not error:
                raise _too_large(resp, exchange)
            chunks.append(chunk[: len(chunk) - (size - limit)])
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(resp: aiohttp.ClientResponse, exchange: _Exchange) -> errors.ResponseTooLargeError:
    return errors.ResponseTooLargeError(
        exchange.operation,
        limit=exchange.limit,
        option=exchange.option,
        request_id=_request_id(resp.headers),
    )


def _redirect(exchange: _Exchange, url: URL, location: str, status: int, has_body: bool) -> URL:
    """Where a redirect from ``url`` leads, if it may be followed; else
    :class:`~speechrest.errors.RedirectError`. Never from https down to http; never with
    a request body to another origin than the call's (a 303 turns it into a GET)."""
    operation = exchange.operation
    try:
        given = URL(location)
        target: URL | None = url.join(given)
        if given.scheme and not _usable(given):
            target = None  # an absolute URL without a host ("http:///x", "http://")
    except (ValueError, TypeError):
        target = None
    if target is None or not _usable(target):
        shown = redact_url(location)[:200]
        raise errors.RedirectError(
            f"the service redirected to {shown!r}, which {_NOT_HTTP}",
            operation=operation,
            location=shown,
        )
    if url.scheme == "https" and target.scheme != "https":
        raise errors.RedirectError(
            f"the service redirected from https to plain http ({redact_url(target)}); "
            "it is not followed, so that nothing is sent unencrypted",
            operation=operation,
            location=redact_url(target),
        )
    origin = exchange.url
    if (
        has_body
        and status != 303
        and (target.scheme, target.host, target.port) != (origin.scheme, origin.host, origin.port)
    ):
        raise errors.RedirectError(
            f"the service redirected the request (HTTP {status}) to another origin "
            f"({redact_url(target)}); the request body is not sent there",
            operation=operation,
            location=redact_url(target),
        )
    return target


def _absolute(target: str, operation: str) -> URL:
    """An absolute URL given by the service (``@nextLink``, ``Location``, ``contentUrl``),
    checked (see :func:`_usable`); else :class:`~speechrest.errors.ResponseValidationError`."""
    try:
        url: URL | None = URL(target, encoded=True)
    except (ValueError, TypeError):
        url = None
    if url is None or not _usable(url):
        raise errors.ResponseValidationError(
            operation, [f"the URL {redact_url(target)[:200]!r} {_NOT_HTTP}"]
        )
    return url


def _usable(url: URL) -> bool:
    """Whether the HTTP library can send a request to ``url``: http(s), a host name or IP
    address of valid characters, a valid port."""
    try:
        return (
            url.scheme in ("http", "https")
            and _HOST.fullmatch(url.raw_host or "") is not None
            and url.port is not None
        )
    except (ValueError, TypeError):
        return False


def _decode(raw: bytes, status: int, expect: str, operation: str, request_id: str | None) -> Any:
    """The body as Python values: JSON (always for an error status), or the bytes."""
    if not raw:
        return None
    if expect != "json" and status < 400:
        return raw
    try:
        return _parse_json(raw)
    except (ValueError, RecursionError) as exc:
        if status < 400:
            problem = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise errors.ResponseValidationError(
                operation,
                [f"the body is not valid JSON ({problem}); {len(raw)} bytes received"],
                request_id=request_id,
            ) from None
        return raw.decode("utf-8", "replace")[:500]


def _parse_json(raw: bytes) -> Any:
    """A JSON body as Python values. The service sends compact UTF-8 JSON: it is decoded
    and scanned directly (the scanner behind ``json.loads``, without its encoding detection
    and whitespace matching). Anything else (a BOM, UTF-16, leading blanks, an error to
    report) goes through ``json.loads``."""
    try:
        text = raw.decode()
        value, end = _scan_json(text, 0)
        if end == len(text) or not text[end:].strip(" \t\n\r"):
            return value
    except (ValueError, StopIteration):
        pass
    return json.loads(raw)


def _request_id(headers: Mapping[str, str]) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value is not None:
            return value
    return None


def _endpoint(endpoint: str, allow_insecure_http: bool) -> URL:
    """The endpoint as a URL, checked: absolute http(s); plain http only on loopback."""
    base = URL(endpoint.rstrip("/"))
    if base.scheme not in ("http", "https") or not base.host:
        raise errors.InvalidInputError(
            f"endpoint must be an absolute http(s) URL such as "
            f"https://eastus.api.cognitive.microsoft.com; got {redact_url(endpoint)!r}"
        )
    if "speechtotext" in base.path.lower():
        raise errors.InvalidInputError(
            f"the endpoint is the resource's base URL, such as "
            f"https://eastus.api.cognitive.microsoft.com, without /speechtotext (speechrest "
            f"adds each operation's path); got {redact_url(endpoint)!r}"
        )
    if base.scheme == "http" and not (allow_insecure_http or _is_loopback(base)):
        raise errors.InvalidInputError(
            "plain http:// is only accepted for loopback addresses (the emulator); "
            "use https://, or pass allow_insecure_http=True if you really mean it"
        )
    return base


def _is_loopback(url: URL) -> bool:
    host = (url.host or "").strip("[]")
    if host in _LOOPBACK:
        return True
    try:  # 127.0.0.2 is loopback; 127.0.0.1.example.com is not
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
